"""SIGTERM and SIGINT to the real tap and target: prompt, honest exits, whole batches only.

The console scripts run as subprocesses against the sample API and PostgreSQL;
each records its run in an SQLite ledger and its alerts in a record dir.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flext_infra.alerts import read_recorded_alerts
from flext_infra.runs import RunKind, RunLedger, RunStatus
from flext_infra.testing import SampleApi
from tests.reliability._checks import PASSWORD, USER
from tests.reliability._pipeline import TAP, TARGET, base_env
from tests.reliability.conftest import PG_DSN, PG_URL, tap_config, target_config

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    return base_env(
        FLEXT_RUNS_URL=f"sqlite:///{tmp_path / 'ledger.db'}",
        FLEXT_ALERT_RECORD_DIR=str(tmp_path / "alerts"),
    )


def _only_run(tmp_path: Path, kind: RunKind) -> Any:
    ledger = RunLedger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    [run] = [r for r in ledger.list_runs() if r.kind is kind]
    return run


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_tap_stops_promptly_on_a_signal_and_records_it(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """A signal a second into a long sync: the tap exits 128+signal within 5 s, never 0."""
    api = SampleApi(counts={"allocation": 50_000}, username=USER, password=PASSWORD)
    with api:
        api.set_faults(slow_s=0.02)
        config = tmp_path / "tap.json"
        config.write_text(json.dumps(tap_config(api, page_size=100)))
        with (tmp_path / "tap.stderr").open("wb") as err:
            proc = subprocess.Popen(
                [TAP, "--config", str(config)], stdout=subprocess.PIPE, stderr=err,
                env=_env(tmp_path), cwd=tmp_path,
            )  # fmt: skip
        assert proc.stdout is not None
        records = 0
        for line in proc.stdout:
            records += line.startswith((b'{"type":"RECORD"', b'{"type": "RECORD"'))
            if records >= 500:
                break
        signalled = time.monotonic()
        proc.send_signal(sig)
        drained = threading.Thread(target=proc.stdout.read, daemon=True)
        drained.start()
        rc = proc.wait(timeout=30)
        stopped_in = time.monotonic() - signalled
        drained.join(timeout=5)
        proc.stdout.close()
    assert rc == code, (tmp_path / "tap.stderr").read_text()[-3000:]
    assert stopped_in < 5.0
    run = _only_run(tmp_path, RunKind.EXTRACTOR)
    assert run.status is RunStatus.TERMINATED and run.exit_code == code
    assert run.error == f"terminated by {sig.name}"
    [stream] = run.streams
    assert stream.stream == "allocation" and stream.records_read >= 500
    assert stream.records_read < 50_000
    alerts = read_recorded_alerts(tmp_path / "alerts")
    assert [a["alert_type"] for a in alerts] == ["pipeline_failure"]
    assert f"terminated by {sig.name}" in alerts[0]["message"]


def _singer(first: int, last: int) -> bytes:
    lines = []
    for i in range(first, last + 1):
        lines.append(
            json.dumps({"type": "RECORD", "stream": "s", "record": {"id": i, "v": f"r{i}"}})
        )
        if i % 250 == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {"s": {"id": i}}}}))
    return ("\n".join(lines) + "\n").encode()


def test_sigterm_to_the_target_mid_batch_rolls_it_back_and_releases_no_state(
    tmp_path: Path, pg_schema: str
) -> None:
    """SIGTERM while a batch transaction waits on the database: exit 143 within 5 s, the
    batch rolled back, only whole batches in the table, every STATE printed covered."""
    schema, batch = pg_schema, 1000
    config = tmp_path / "target.json"
    config.write_text(json.dumps(target_config(tmp_path, PG_URL, schema, batch)))
    with (tmp_path / "target.stderr").open("wb") as err:
        proc = subprocess.Popen(
            [TARGET, "--config", str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=err, env=_env(tmp_path), cwd=tmp_path,
        )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    schema_msg = {
        "type": "SCHEMA",
        "stream": "s",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "integer"}, "v": {"type": "string"}}},
    }
    proc.stdin.write((json.dumps(schema_msg) + "\n").encode() + _singer(1, batch))
    proc.stdin.flush()
    states: list[dict[str, Any]] = []
    states.append(json.loads(proc.stdout.readline()))  # the first batch committed
    blocker = psycopg.connect(PG_DSN)
    try:
        # Hold the table: the next batch's transaction opens and then waits on us.
        blocker.execute(f'LOCK TABLE "{schema}"."s" IN SHARE MODE')
        proc.stdin.write(_singer(batch + 1, 2 * batch + 10))
        proc.stdin.flush()
        watcher = psycopg.connect(PG_DSN, autocommit=True)
        deadline = time.monotonic() + 30
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
            (f"%{schema}%",),
        ).fetchone():
            assert time.monotonic() < deadline, "the second batch never reached the table"
            time.sleep(0.02)
        watcher.close()
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        rc = proc.wait(timeout=30)
        stopped_in = time.monotonic() - signalled
    finally:
        blocker.rollback()
        blocker.close()
        with contextlib.suppress(OSError):
            proc.stdin.close()
        proc.stdout.close()
    states += [json.loads(line) for line in rest.splitlines() if line.strip()]
    stderr = (tmp_path / "target.stderr").read_text()
    assert rc == 143, stderr[-3000:]
    assert stopped_in < 5.0
    with psycopg.connect(PG_DSN) as conn:
        ids = [r[0] for r in conn.execute(f'SELECT id FROM "{schema}"."s" ORDER BY id')]
    assert ids == list(range(1, batch + 1))  # the first batch whole, the second rolled back
    assert states[-1]["bookmarks"]["s"]["id"] <= ids[-1]  # no STATE beyond committed rows
    run = _only_run(tmp_path, RunKind.LOADER)
    assert run.status is RunStatus.TERMINATED and run.exit_code == 143
    assert [(s.stream, s.records_loaded) for s in run.streams] == [("s", batch)]
    alerts = read_recorded_alerts(tmp_path / "alerts")
    assert any("terminated by SIGTERM" in a["message"] for a in alerts)
