"""Must hold 8: no credential in any log or error, checked with known secret values.

Real tap, target and ``flext`` processes, at DEBUG, with an S3 key pair, a Redis
URL password and the API password all known to the test: none of them may appear
on stdout or stderr, in successful runs or in failing ones.
"""

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
from tests.tap.conftest import PASSWORD, USER, wms_config

BIN = Path(sys.executable).parent
REDIS_PASSWORD = "redis-Secret-Pw-7731"
#: A stream whose one record is rejected (so the target uploads a reject object).
REJECTED = (
    b'{"type": "SCHEMA", "stream": "s", "key_properties": ["id"], "schema": {"properties":'
    b' {"id": {"type": "integer"}, "n": {"type": "integer"}}}}\n'
    b'{"type": "RECORD", "stream": "s", "record": {"id": 1, "n": "x"}}\n'
)


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """A small sample WMS API."""
    with SampleApi(records=30, username=USER, password=PASSWORD) as server:
        yield server


def _run(
    argv: list[str], env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "AWS_"))}
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=180, check=False,
                          env={**base, "FLEXT_ENVIRONMENT": "test", "FLEXT_LOG_LEVEL": "DEBUG",
                               **env})  # fmt: skip


def _assert_clean(done: subprocess.CompletedProcess[bytes], secrets: list[str]) -> None:
    text = (done.stdout + done.stderr).decode()
    for secret in secrets:
        assert secret not in text, f"a credential leaked: ...{secret[-4:]}"


def test_a_tap_and_target_run_on_s3_and_redis_print_no_credential(
    api: SampleApi, s3_server: S3Server, s3_root: str, tmp_path: Path
) -> None:
    """BATCH files and rejects on S3, the cache in a Redis refusing the password: all redacted."""
    secrets = [s3_server.secret_access_key, s3_server.access_key_id, REDIS_PASSWORD, PASSWORD]
    env = {**s3_server.env(), "FLEXT_DATA_DIR": str(tmp_path / "data"),
           # This Redis has no password: AUTH fails and the cache degrades to none.
           "FLEXT_API_CACHE_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"}  # fmt: skip
    config = tmp_path / "tap.json"
    batch = {"encoding": {"format": "jsonl", "compression": "gzip"},
             "storage": {"root": f"{s3_root}/batches"}}  # fmt: skip
    config.write_text(json.dumps(wms_config(api, entities=["allocation"], cache_enabled=True,
                                            batch_config=batch)))  # fmt: skip
    tap = _run([str(BIN / "tap-flext-api"), "--config", str(config)], env)
    assert tap.returncode == 0, tap.stderr.decode()[-2000:]
    _assert_clean(tap, secrets)

    target_config = tmp_path / "target.json"
    target_config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't.db'}",
                                         "reject_path": f"{s3_root}/rejects"}))  # fmt: skip
    target = _run([str(BIN / "target-flext-oracle"), "--config", str(target_config)], env,
                  tap.stdout + REJECTED)  # fmt: skip
    assert target.returncode == 0, target.stderr.decode()[-2000:]
    _assert_clean(target, secrets)


def test_a_refused_s3_secret_fails_the_run_without_showing_it(
    s3_server: S3Server, s3_root: str, tmp_path: Path
) -> None:
    """A wrong secret key: the target fails on its first reject upload, naming the URL only."""
    wrong = "Wrong-S3-Secret-0099"
    env = {**s3_server.env(), "FLEXT_S3_SECRET_ACCESS_KEY": wrong,
           "FLEXT_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't.db'}",
                                  "reject_path": f"{s3_root}/rejects"}))  # fmt: skip
    done = _run([str(BIN / "target-flext-oracle"), "--config", str(config)], env, REJECTED)
    assert done.returncode != 0
    assert "rejects" in done.stderr.decode()
    _assert_clean(done, [wrong, s3_server.access_key_id, s3_server.secret_access_key])


def test_flext_config_shows_s3_and_redis_credentials_masked(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """`flext config` masks FLEXT_S3_*, the AWS_* fallbacks and Redis URLs with a password."""
    env = {"AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
           "FLEXT_S3_ACCESS_KEY_ID": s3_server.access_key_id,
           "FLEXT_API_RATE_LIMIT_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"}  # fmt: skip
    done = _run([str(BIN / "flext"), "config"], env)
    assert done.returncode == 0, done.stderr.decode()
    _assert_clean(done, [s3_server.secret_access_key, s3_server.access_key_id, REDIS_PASSWORD])
    assert "FLEXT_S3_SECRET_ACCESS_KEY" in done.stdout.decode()
