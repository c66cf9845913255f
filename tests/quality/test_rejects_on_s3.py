"""The reject store on S3-compatible storage (a real SeaweedFS server): whole objects per run."""

from __future__ import annotations

import json

import pytest

from flext_infra import configure_for_testing, load_settings, log_context
from flext_infra.quality import DataValidator, RejectStore
from flext_infra.settings import S3Settings
from flext_infra.storage import ObjectStore
from tests._seaweedfs import S3Server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """FLEXT_S3_* pointing at the session's server."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


def test_rejects_become_objects_keyed_by_run_id_and_stream(s3_env: S3Server, s3_root: str) -> None:
    """Each flush writes one whole object per stream: <run_id>/<stream>-<part>.jsonl."""
    store = RejectStore.for_url(s3_root, "run-7", s3=S3Settings())
    store.reject("order_hdr", {"id": 1, "qty": 0}, "qty", "NUMBER overflow", {"id": 1})
    store.reject("order_dtl", {"id": 2, "flag": False}, "flag", "bad", {"id": 2})
    objects = ObjectStore(s3_root, s3=S3Settings())
    assert objects.keys() == []  # nothing is written before a flush
    store.flush()
    store.reject("order_hdr", {"id": 3, "note": ""}, "note", "too long", {"id": 3})
    store.close()
    assert objects.keys() == [
        "run-7/order_dtl-00001.jsonl",
        "run-7/order_hdr-00001.jsonl",
        "run-7/order_hdr-00002.jsonl",
    ]
    first = [json.loads(line) for line in objects.get("run-7/order_hdr-00001.jsonl").splitlines()]
    assert [(r["run_id"], r["stream"], r["key"], r["field"]) for r in first] == [
        ("run-7", "order_hdr", {"id": 1}, "qty")
    ]
    assert first[0]["record"] == {"id": 1, "qty": 0}
    assert sorted(r["key"]["id"] for r in store.read()) == [1, 2, 3]
    assert store.location == f"{s3_root}/run-7/"


def test_a_flush_with_nothing_pending_writes_nothing(s3_env: S3Server, s3_root: str) -> None:
    """Flushing (before every STATE) costs no object when no reject arrived."""
    store = RejectStore.for_url(s3_root, "run-8", s3=S3Settings())
    store.flush()
    store.close()
    assert ObjectStore(s3_root, s3=S3Settings()).keys() == []


def test_rejects_that_fail_to_upload_stay_pending(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write into a missing bucket raises and keeps the rejects for the next flush."""
    from flext_infra.storage import StorageError

    store = RejectStore.for_url("s3://missing-bucket-18/r", "run-9", s3=S3Settings())
    store.reject("s", {"id": 1}, "id", "bad", {"id": 1})
    with pytest.raises(StorageError):
        store.flush()
    ok_bucket = s3_env.make_bucket("flext-tests")
    assert store.objects is not None
    store.objects = ObjectStore(f"{ok_bucket}/retry-{id(store)}", s3=S3Settings())
    store.close()
    assert [r["key"] for r in store.read()] == [{"id": 1}]


def test_the_container_validator_writes_to_flext_quality_reject_url(
    s3_env: S3Server, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLEXT_QUALITY_REJECT_URL=s3://… sends the data_validator's rejects to the bucket."""
    monkeypatch.setenv("FLEXT_QUALITY_REJECT_URL", s3_root)
    container = configure_for_testing(load_settings(environment="test"))
    try:
        with log_context(run_id="run-q"), container.scope() as scope:
            validator: DataValidator = scope.resolve("data_validator")
            validator.validate_batch("order_dtl", [{"id": 1}, {"id": None}], ["id"])
    finally:
        container.dispose()
    objects = ObjectStore(s3_root, s3=S3Settings())
    assert objects.keys() == ["run-q/order_dtl-00001.jsonl"]
    [entry] = [json.loads(x) for x in objects.get("run-q/order_dtl-00001.jsonl").splitlines()]
    assert (entry["rule"], entry["field"]) == ("not_null", "id")
