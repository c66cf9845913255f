"""A plugin process imports redis and s3fs only when a redis:// or s3:// URL is configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flext_infra.testing import SampleApi
from tests._seaweedfs import S3Server
from tests.conftest import REDIS_URL
from tests.tap.conftest import PASSWORD, USER, wms_config

OPTIONAL = ("redis", "s3fs", "aiobotocore", "botocore", "boto3")


def _imported(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> set[str]:
    """Top-level modules an entry point imported, read from ``python -X importtime``."""
    module, function = argv[0].split(":")
    code = f"import sys; sys.argv = {argv[1:]!r}; from {module} import {function}; {function}()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        input=stdin,
        capture_output=True,
        env={**os.environ, "FLEXT_ENVIRONMENT": "test", **env},
        timeout=120,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    names = set()
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """A small sample WMS API."""
    with SampleApi(records=20, username=USER, password=PASSWORD) as server:
        yield server


def test_the_tap_imports_redis_only_with_a_redis_url(
    api: SampleApi, tmp_path: Path, redis_prefix: str
) -> None:
    """A tap run (cache off, its default) loads no optional module; with the cache in
    Redis it loads redis. (hishel itself imports redis whenever it is installed, so a
    SQLite cache in an install with the [redis] extra loads it too.)"""
    config = tmp_path / "tap.json"
    config.write_text(json.dumps(wms_config(api, entities=["allocation"])))
    argv = ["tap_flext_api.tap:main", "tap-flext-api", "--config", str(config)]
    plain = _imported(argv, {})
    assert not plain & set(OPTIONAL), sorted(plain & set(OPTIONAL))
    config.write_text(json.dumps(wms_config(api, entities=["allocation"], cache_enabled=True)))
    shared = _imported(argv, {"FLEXT_API_CACHE_URL": REDIS_URL,
                              "FLEXT_API_REDIS_KEY_PREFIX": redis_prefix})  # fmt: skip
    assert "redis" in shared and "s3fs" not in shared


def test_the_target_imports_s3fs_only_with_an_s3_url(
    tmp_path: Path, s3_server: S3Server, s3_root: str
) -> None:
    """A target run with rejects loads no optional module; with an s3:// reject URL, s3fs."""
    lines = [
        {"type": "SCHEMA", "stream": "s", "key_properties": ["id"],
         "schema": {"properties": {"id": {"type": "integer"}, "n": {"type": "integer"}}}},
        {"type": "RECORD", "stream": "s", "record": {"id": 1, "n": 1}},
        {"type": "RECORD", "stream": "s", "record": {"id": 2, "n": "not a number"}},
    ]  # fmt: skip
    stdin = "".join(json.dumps(line) + "\n" for line in lines).encode()
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't.db'}",
                                  "reject_path": str(tmp_path / "rejects")}))  # fmt: skip
    argv = ["target_flext_oracle.target:main", "target-flext-oracle", "--config", str(config)]
    plain = _imported(argv, {}, stdin)
    assert not plain & set(OPTIONAL), sorted(plain & set(OPTIONAL))
    # No reject_path in the config: FLEXT_QUALITY_REJECT_URL decides.
    config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't2.db'}"}))
    with_s3 = _imported(argv, {**s3_server.env(), "FLEXT_QUALITY_REJECT_URL": s3_root}, stdin)
    assert "s3fs" in with_s3 and "redis" not in with_s3
