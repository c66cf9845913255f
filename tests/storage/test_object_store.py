"""ObjectStore against a real S3-compatible server (SeaweedFS) and a local directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from flext_infra import ConfigurationError
from flext_infra.settings import S3Settings
from flext_infra.storage import ObjectStore, StorageError, is_object_url, s3_options
from tests._seaweedfs import S3Server


@pytest.fixture(params=["s3", "local"])
def root(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same tests on an s3:// prefix and on a local directory."""
    if request.param == "local":
        return str(tmp_path / "objects")
    server: S3Server = request.getfixturevalue("s3_server")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return str(request.getfixturevalue("s3_root"))


def test_an_object_is_written_whole_and_read_back(root: str) -> None:
    """put() stores the bytes under the key, get() returns them, keys() lists them."""
    store = ObjectStore(root, s3=S3Settings())
    url = store.put("run-1/allocation-00001.jsonl", b'{"a": 1}\n')
    store.put("run-1/order_hdr-00001.jsonl", b"")
    assert url == store.url_of("run-1/allocation-00001.jsonl")
    assert store.get("run-1/allocation-00001.jsonl") == b'{"a": 1}\n'
    assert store.keys() == ["run-1/allocation-00001.jsonl", "run-1/order_hdr-00001.jsonl"]
    assert store.keys("run-1/alloc") == ["run-1/allocation-00001.jsonl"]


def test_a_missing_object_is_a_named_not_found_error(root: str) -> None:
    """Reading a key that was never written says which URL is missing."""
    store = ObjectStore(root, s3=S3Settings())
    with pytest.raises(StorageError) as caught:
        store.get("nothing/here.jsonl")
    assert caught.value.reason == "not_found"
    assert "nothing/here.jsonl" in str(caught.value)


def test_an_empty_root_lists_no_keys(root: str) -> None:
    """A root nothing was written to yet is empty, not an error."""
    assert ObjectStore(root, s3=S3Settings()).keys() == []


def test_a_local_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Locally the bytes go to a hidden file renamed over the final name."""
    store = ObjectStore(tmp_path / "objects")
    store.put("a/b.jsonl", b"1\n")
    store.put("a/b.jsonl", b"2\n")
    assert [p.name for p in (tmp_path / "objects" / "a").iterdir()] == ["b.jsonl"]
    assert store.get("a/b.jsonl") == b"2\n"


def test_the_standard_aws_variables_are_enough(
    s3_server: S3Server, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL work without FLEXT_S3_*."""
    for name, value in s3_server.aws_env().items():
        monkeypatch.setenv(name, value)
    settings = S3Settings()
    assert settings.endpoint_url == s3_server.endpoint_url
    store = ObjectStore(s3_root, s3=settings)
    store.put("k.txt", b"via AWS_*")
    assert store.get("k.txt") == b"via AWS_*"


def test_a_wrong_secret_is_refused_without_showing_any_credential(
    s3_server: S3Server, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad secret is a 'denied' StorageError naming neither the key id nor either secret."""
    wrong_secret = "Wr0ngSecretValue-4f1d9c"
    monkeypatch.setenv("FLEXT_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("FLEXT_S3_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("FLEXT_S3_SECRET_ACCESS_KEY", wrong_secret)
    store = ObjectStore(s3_root, s3=S3Settings())
    with pytest.raises(StorageError) as caught:
        store.put("k.txt", b"x")
    text = f"{caught.value!s} {caught.value!r} {store!r}"
    assert caught.value.reason == "denied", text
    for secret in (wrong_secret, s3_server.secret_access_key, s3_server.access_key_id):
        assert secret not in text


def test_a_missing_bucket_says_to_create_it(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing into a bucket that does not exist names the bucket."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    store = ObjectStore("s3://no-such-bucket-18/prefix", s3=S3Settings())
    with pytest.raises(StorageError) as caught:
        store.put("k.txt", b"x")
    assert caught.value.reason == "no_bucket"
    assert "no-such-bucket-18" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "remote"),
    [("s3://b/p", True), ("s3a://b/p", True), ("/var/rejects", False), ("rejects", False),
     ("file:///var/x", False)],
)  # fmt: skip
def test_only_s3_urls_are_object_urls(url: str, remote: bool) -> None:
    """s3:// and s3a:// go to the object store; paths and file:// stay local."""
    assert is_object_url(url) is remote


def test_an_s3_url_without_bucket_is_a_configuration_error() -> None:
    """s3:/// names no bucket."""
    with pytest.raises(ConfigurationError, match="needs a bucket"):
        ObjectStore("s3:///prefix")


@pytest.mark.parametrize(
    ("endpoint", "style", "expected"),
    [("http://127.0.0.1:1", "auto", "path"), (None, "auto", "virtual"),
     (None, "path", "path"), ("http://minio:9000", "virtual", "virtual")],
)  # fmt: skip
def test_addressing_is_path_style_for_s3_compatible_servers(
    endpoint: str | None, style: str, expected: str
) -> None:
    """With an endpoint URL, auto addressing is path-style; on AWS it is virtual-hosted."""
    settings = S3Settings(endpoint_url=endpoint, addressing_style=style)
    assert s3_options(settings)["config_kwargs"] == {"s3": {"addressing_style": expected}}


def test_an_s3_url_without_the_extra_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without s3fs, an s3:// root is a configuration error naming flext-meltano[s3]."""
    import sys

    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if not installed
    store = ObjectStore("s3://bucket/prefix", s3=S3Settings())
    with pytest.raises(ConfigurationError, match=r"flext-meltano\[s3\]"):
        store.put("k", b"x")
