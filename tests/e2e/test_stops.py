"""`flext run` stopped by SIGTERM or by --timeout: the whole Meltano group stops, honestly.

Real `meltano run` of this project (tap-flext-api -> target-flext-oracle into
SQLite) against a slow sample API; the ledger is an SQLite file.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flext_infra.alerts import read_recorded_alerts
from flext_infra.runs import RunKind, RunLedger, RunStatus
from flext_infra.testing import SampleApi
from tests.e2e.conftest import BIN, ROOT, MeltanoProject

pytestmark = pytest.mark.meltano


@pytest.fixture
def slow_api() -> Iterator[SampleApi]:
    """A sample API slow enough that a sync takes a minute (100 records a page)."""
    with SampleApi(
        counts={"allocation": 30_000, "order_hdr": 10, "order_dtl": 10},
        username="wms", password="wms-pass-e2e",
    ) as server:  # fmt: skip
        server.set_faults(slow_s=0.2, paths=("/wms/lgfapi/v10/entity/allocation/",))
        yield server


def _start(project: MeltanoProject, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "flext"), "run", "incremental-sync-job", "--env", "test", "--json", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **project.env},
    )  # fmt: skip


def _setup(project: MeltanoProject, api: SampleApi) -> RunLedger:
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    url = f"sqlite:///{project.tmp / 'ledger.db'}"
    project.env.update(
        FLEXT_RUNS_URL=url, FLEXT_RUNS_STOP_GRACE_S="20",
        TAP_FLEXT_API_PAGE_SIZE="100", TARGET_FLEXT_ORACLE_BATCH_SIZE_ROWS="500",
    )  # fmt: skip
    return RunLedger.from_url(url)


def _wait_for_rows(path: Path, table: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                with sqlite3.connect(path) as conn:
                    if conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] >= at_least:
                        return
            except sqlite3.OperationalError:
                pass  # the table is not there yet
        time.sleep(0.2)
    raise AssertionError(f"{table} never reached {at_least} rows")


def test_sigterm_to_flext_run_stops_the_group_and_records_terminated(
    project: MeltanoProject, slow_api: SampleApi
) -> None:
    """SIGTERM to flext run: exit 143, job and plugin rows terminated, a pipeline_failure
    alert saying so, and whole batches only in the warehouse."""
    ledger = _setup(project, slow_api)
    proc = _start(project)
    warehouse = project.tmp / "warehouse.db"
    _wait_for_rows(warehouse, "wms_allocation", 500)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    stopped_in = time.monotonic() - signalled
    assert proc.returncode == 143, err[-3000:]
    assert stopped_in < 20
    result = json.loads(out)
    assert result["status"] == "terminated" and result["stop_signal"] == signal.SIGTERM
    assert result["error"].startswith("terminated by SIGTERM")
    job = ledger.get_run(result["run_id"])
    assert job is not None and job.status is RunStatus.TERMINATED and job.exit_code == 143
    plugins = {r.kind: r for r in ledger.linked(result["run_id"]) if r.kind is not RunKind.JOB}
    assert set(plugins) == {RunKind.EXTRACTOR, RunKind.LOADER}
    for row in plugins.values():
        assert row.status is RunStatus.TERMINATED and row.exit_code == 143, row
    with sqlite3.connect(warehouse) as conn:
        loaded = conn.execute('SELECT COUNT(*) FROM "wms_allocation"').fetchone()[0]
    assert loaded % 500 == 0  # whole batches only
    allocation = {s.stream: s for s in plugins[RunKind.LOADER].streams}["allocation"]
    assert allocation.records_loaded == loaded
    assert {s.stream: s for s in job.streams}["allocation"].records_loaded == loaded
    alerts = [a for a in read_recorded_alerts(project.tmp / "alerts")
              if a["pipeline_name"] == "incremental-sync-job"]  # fmt: skip
    assert [a["alert_type"] for a in alerts] == ["pipeline_failure"]
    assert "terminated by SIGTERM" in alerts[0]["message"]


def test_timeout_stops_the_run_alerts_sync_timeout_and_records_it(
    project: MeltanoProject, slow_api: SampleApi
) -> None:
    """--timeout: exit 124, status timed_out, the ledger row terminated with 124, sync_timeout."""
    ledger = _setup(project, slow_api)
    started = time.monotonic()
    proc = _start(project, "--timeout", "8")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 124, err[-3000:]
    assert time.monotonic() - started < 8 + 25
    result = json.loads(out)
    assert result["status"] == "timed_out" and result["error"].startswith("timed out after 8s")
    job = ledger.get_run(result["run_id"])
    assert job is not None and job.status is RunStatus.TERMINATED and job.exit_code == 124
    alerts = [a for a in read_recorded_alerts(project.tmp / "alerts")
              if a["pipeline_name"] == "incremental-sync-job"]  # fmt: skip
    assert [a["alert_type"] for a in alerts] == ["sync_timeout"]


def test_plugins_run_by_hand_record_their_own_rows(project: MeltanoProject) -> None:
    """`meltano run tap target` without flext: the tap and the target each record a row,
    linked by Meltano's run id, with true per-stream counts and the bookmark reached."""
    counts = {"allocation": 120, "order_hdr": 45, "order_dtl": 230}
    with SampleApi(counts=counts, username="wms", password="wms-pass-e2e") as api:
        ledger = _setup(project, api)
        project.env["MELTANO_RUN_ID"] = "0b9c6a0e-4c5d-4f7e-8a9b-0c1d2e3f4a5b"
        done = project.run("run", "tap-flext-api", "target-flext-oracle")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r.kind: r for r in ledger.list_runs()}
    assert set(rows) == {RunKind.EXTRACTOR, RunKind.LOADER}
    assert rows[RunKind.EXTRACTOR].job == "tap-flext-api"
    assert rows[RunKind.LOADER].job == "target-flext-oracle"  # not its extractor's name
    for row in rows.values():
        assert row.status is RunStatus.SUCCEEDED and row.exit_code == 0
        assert row.link_id == "0b9c6a0e-4c5d-4f7e-8a9b-0c1d2e3f4a5b"
    read = {s.stream: s for s in rows[RunKind.EXTRACTOR].streams}
    loaded = {s.stream: s for s in rows[RunKind.LOADER].streams}
    assert {k: v.records_read for k, v in read.items()} == counts
    assert {k: v.records_loaded for k, v in loaded.items()} == counts
    assert all(s.bookmark_before is None and s.bookmark_after for s in read.values())
