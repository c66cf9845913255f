"""The target's rejects on a real S3-compatible server (SeaweedFS), killed runs included."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from flext_infra.settings import S3Settings
from flext_infra.storage import ObjectStore
from tests._seaweedfs import S3Server

TARGET = str(Path(sys.executable).with_name("target-flext-oracle"))
SCHEMA = {
    "type": "SCHEMA",
    "stream": "items",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "qty": {"type": "integer"},
                       "pad": {"type": ["string", "null"]}},
    },
}  # fmt: skip


def _lines(count: int, *, pad: int = 0, state_every: int = 25) -> list[bytes]:
    """SCHEMA, then records of which every third has a qty that is not an integer."""
    out = [json.dumps(SCHEMA)]
    for i in range(1, count + 1):
        qty: Any = f"not-a-number-{i}" if i % 3 == 0 else i
        out.append(json.dumps({"type": "RECORD", "stream": "items",
                               "record": {"id": i, "qty": qty, "pad": "x" * pad}}))  # fmt: skip
        if i % state_every == 0:
            out.append(json.dumps({"type": "STATE", "value": {"bookmarks": {"items": {"id": i}}}}))
    return [(line + "\n").encode() for line in out]


def _env(server: S3Server, tmp_path: Path, run_id: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "MELTANO_", "AWS_"))}
    return {**env, **server.env(), "FLEXT_ENVIRONMENT": "test", "MELTANO_RUN_ID": run_id,
            "FLEXT_DATA_DIR": str(tmp_path / "data")}  # fmt: skip


def _config(tmp_path: Path, reject_url: str) -> Path:
    path = tmp_path / "target.json"
    path.write_text(json.dumps({"sqlalchemy_url": f"sqlite:///{tmp_path / 't.db'}",
                                "reject_path": reject_url, "batch_size_rows": 25}))  # fmt: skip
    return path


def _entries(store: ObjectStore) -> dict[str, list[dict[str, Any]]]:
    """Every object's lines, decoded; a partial object would fail to decode here."""
    out = {}
    for key in store.keys():  # noqa: SIM118 (ObjectStore is no mapping)
        body = store.get(key)
        assert body.endswith(b"\n"), f"{key} does not end with a whole line"
        out[key] = [json.loads(line) for line in body.splitlines()]
    return out


def test_a_target_run_writes_its_rejects_to_s3(
    s3_server: S3Server, s3_root: str, tmp_path: Path
) -> None:
    """Bad records of a real target process end up as objects named by run id and stream."""
    data = b"".join(_lines(60))
    done = subprocess.run(
        [TARGET, "--config", str(_config(tmp_path, s3_root))],
        input=data,
        capture_output=True,
        env=_env(s3_server, tmp_path, "run-s3-1"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    store = ObjectStore(s3_root, s3=S3Settings(**_s3_kwargs(s3_server)))
    entries = _entries(store)
    assert entries and all(k.startswith("run-s3-1/items-") for k in entries)
    rejected = sorted(e["key"]["id"] for lines in entries.values() for e in lines)
    assert rejected == list(range(3, 61, 3))
    entry = next(iter(entries.values()))[0]
    assert (entry["run_id"], entry["stream"], entry["field"]) == ("run-s3-1", "items", "qty")
    assert s3_server.secret_access_key not in done.stderr.decode()


def _s3_kwargs(server: S3Server) -> dict[str, Any]:
    return {
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
    }


@pytest.mark.slow
def test_a_target_killed_mid_run_leaves_only_whole_objects_covering_its_states(
    s3_server: S3Server, s3_root: str, tmp_path: Path
) -> None:
    """SIGKILL while rejects are uploading: no partial object; every reject before the last
    emitted STATE is stored, so nothing the saved state covers is lost."""
    lines = _lines(3000, pad=4000)
    process = subprocess.Popen(
        [TARGET, "--config", str(_config(tmp_path, s3_root))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(s3_server, tmp_path, "run-s3-kill"),
    )
    assert process.stdin is not None and process.stdout is not None

    def feed() -> None:
        try:
            for line in lines:
                process.stdin.write(line)  # type: ignore[union-attr]
            process.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            pass  # killed under our feet: that is the point

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    states: list[dict[str, Any]] = []
    for raw in process.stdout:
        states.append(json.loads(raw))
        if len(states) == 20:
            # Rejects of the next states are being uploaded now.
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    feeder.join(timeout=30)
    process.stdout.close()
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()  # buffered bytes for a dead reader
    assert process.returncode == -signal.SIGKILL, "the run finished before it was killed"
    store = ObjectStore(s3_root, s3=S3Settings(**_s3_kwargs(s3_server)))
    entries = _entries(store)  # every object decodes completely
    stored = {e["key"]["id"] for lines in entries.values() for e in lines}
    covered = states[-1]["bookmarks"]["items"]["id"]
    assert set(range(3, covered + 1, 3)) <= stored
    fs = s3_server.filesystem()
    bucket, _, prefix = s3_root.removeprefix("s3://").partition("/")
    uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
    assert not uploads.get("Uploads"), "an unfinished upload was left behind"
