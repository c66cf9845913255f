"""Real Dagster executions of the shipped project's jobs: sample API -> meltano run -> SQLite.

Each run goes through the project's orchestrator (``meltano --environment=test
run``), so it is recorded in the run ledger under the job's lock and raises
alerts on the test channel.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from flext_infra.alerts import read_recorded_alerts
from flext_infra.orchestration.dagster import flext_definitions
from flext_infra.runs import RunLedger, RunStatus, Trigger
from flext_infra.testing import Faults, SampleApi
from tests.cli.conftest import make_project
from tests.dagster.conftest import COUNTS, OP, ROOT, RunEnv

pytestmark = pytest.mark.meltano


def _execute(
    job: str, instance: dg.DagsterInstance, *, ok: bool = True
) -> dg.ExecuteInProcessResult:
    """Run one Dagster job of the shipped project in process, in the test environment."""
    defs = flext_definitions(ROOT, environment="test")
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=ok)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        out[materialization.asset_key.path[-1]] = {
            k: v.value for k, v in materialization.metadata.items()
        }
    return out


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def _failure(result: dg.ExecuteInProcessResult) -> str:
    [event] = result.get_step_failure_events()
    assert event.step_key == OP
    data = event.step_failure_data
    assert data.user_failure_data is not None
    return str(data.user_failure_data.description)


def test_incremental_sync_job_materializes_every_wms_table(
    run_env: RunEnv, api: SampleApi, instance: dg.DagsterInstance
) -> None:
    """Exact counts; metadata has the ledger's records, bookmark and run id; checks are judged."""
    result = _execute("incremental_sync_job", instance)
    assert result.success
    assert run_env.counts() == COUNTS
    metadata = _metadata(result)
    assert set(metadata) == {f"wms_{entity}" for entity in COUNTS}
    run_ids = {m["run_id"] for m in metadata.values()}
    assert len(run_ids) == 1
    [run_id] = run_ids
    for entity, count in COUNTS.items():
        m = metadata[f"wms_{entity}"]
        assert (m["stream"], m["records"], m["records_loaded"], m["rejects"]) == (
            entity, count, count, 0,
        )  # fmt: skip
        assert m["meltano_job"] == "incremental-sync-job"
        assert (m["meltano_environment"], m["flext_environment"]) == ("test", "test")
        assert m["details"] == f"flext runs show {run_id}"
        assert m["duration_s"] > 0
        newest = max(api.record(entity, i)["mod_ts"] for i in range(1, count + 1))
        assert datetime.fromisoformat(m["bookmark"]) == datetime.fromisoformat(newest)
    record = run_env.ledger.get_run(run_id)
    assert record is not None
    assert (record.job, record.status, record.trigger) == (
        "incremental-sync-job", RunStatus.SUCCEEDED, Trigger.ORCHESTRATOR,
    )  # fmt: skip
    assert {s.stream: s.records_read for s in record.streams} == COUNTS
    assert {s.stream: s.bookmark_after for s in record.streams} == {
        entity: metadata[f"wms_{entity}"]["bookmark"] for entity in COUNTS
    }
    checks = _checks(result)
    for entity in COUNTS:
        ratio = checks[(f"wms_{entity}", "reject_ratio")]
        assert ratio.passed, ratio.description
        assert checks[(f"wms_{entity}", "min_records")].passed
        # The sample data was last modified in 2024; the shipped rules only warn at 2 days.
        stale = checks[(f"wms_{entity}", "freshness")]
        assert (stale.passed, stale.severity) == (False, dg.AssetCheckSeverity.WARN)
        assert f"newest value {metadata[f'wms_{entity}']['bookmark']} is" in str(stale.description)


def test_an_outage_fails_the_step_naming_the_stream_and_alerts(
    run_env: RunEnv, api: SampleApi, instance: dg.DagsterInstance
) -> None:
    """With the API down the run fails, its error names the stream, the ledger says failed."""
    api.set_faults(Faults(outage=True))
    result = _execute("allocation_incremental_sync", instance, ok=False)
    assert not result.success
    assert not result.get_asset_materialization_events()
    message = _failure(result)
    assert "meltano run allocation-incremental-sync (test) failed" in message
    assert "stream 'allocation'" in message
    assert "wms-pass-dagster" not in message
    [record] = run_env.ledger.list_runs(job="allocation-incremental-sync")
    assert record.status is RunStatus.FAILED
    assert record.error is not None and "stream 'allocation'" in record.error
    failures = [a for a in read_recorded_alerts(run_env.alerts)
                if a["alert_type"] == "pipeline_failure"]  # fmt: skip
    assert any(a["pipeline_name"] == "allocation-incremental-sync" for a in failures), failures


def test_a_broken_reject_ratio_fails_its_check_with_the_numbers(
    run_env: RunEnv, api: SampleApi, instance: dg.DagsterInstance
) -> None:
    """Seeded bad allocations break the 0.5% reject ratio: that check fails, the others pass."""
    bad = api.patch_records("allocation", range(1, 121, 20), status_id=7)  # 6 of 120
    result = _execute("incremental_sync_job", instance, ok=False)
    assert not result.success  # the target's own threshold fails the run too
    checks = _checks(result)
    broken = checks[("wms_allocation", "reject_ratio")]
    assert not broken.passed
    assert broken.severity is dg.AssetCheckSeverity.ERROR
    assert broken.description == f"{len(bad)}/120 records rejected (5.00%) > max 0.50%"
    numbers = {k: v.value for k, v in broken.metadata.items()}
    assert (numbers["rejects"], numbers["records"], numbers["max_reject_ratio"]) == (6, 120, 0.005)
    for entity in ("order_hdr", "order_dtl"):
        assert checks[(f"wms_{entity}", "reject_ratio")].passed
    assert "max_reject_ratio" in _failure(result) or "threshold" in _failure(result).lower()


def test_two_materializations_at_once_one_runs_the_other_is_refused(
    run_env: RunEnv, api: SampleApi
) -> None:
    """While a run holds its job's lock a second run of it fails with the holder's message,
    and another per-entity job runs beside it."""
    api.set_faults(Faults(slow_s=0.3))  # keeps the first run busy while the others start
    outcome: dict[str, dg.ExecuteInProcessResult] = {}

    def run(key: str, job: str) -> None:
        with dg.DagsterInstance.ephemeral() as own:
            outcome[key] = _execute(job, own, ok=False)

    first = threading.Thread(target=run, args=("first", "allocation_incremental_sync"))
    first.start()
    ledger = run_env.ledger
    deadline = time.monotonic() + 120
    holder = []
    while not holder and time.monotonic() < deadline and first.is_alive():
        holder = ledger.list_runs(job="allocation-incremental-sync", status=RunStatus.RUNNING)
        time.sleep(0.1)
    assert holder, "the first run never started"
    beside = threading.Thread(target=run, args=("beside", "order_hdr_incremental_sync"))
    beside.start()
    run("second", "allocation_incremental_sync")
    first.join(timeout=300)
    beside.join(timeout=300)
    second = outcome["second"]
    assert not second.success
    message = _failure(second)
    assert "refused" in message
    assert "job allocation-incremental-sync is already running" in message
    assert holder[0].run_id in message
    assert outcome["first"].success
    assert outcome["beside"].success
    assert run_env.counts("allocation", "order_hdr") == {
        "allocation": COUNTS["allocation"], "order_hdr": COUNTS["order_hdr"],
    }  # fmt: skip
    runs = {str(r.status): r for r in ledger.list_runs(job="allocation-incremental-sync")}
    assert set(runs) == {"refused", "succeeded"}
    held, [other] = runs["succeeded"], ledger.list_runs(job="order-hdr-incremental-sync")
    assert other.status is RunStatus.SUCCEEDED
    assert held.ended_at is not None and other.ended_at is not None
    assert other.started_at < held.ended_at and held.started_at < other.ended_at  # side by side


def test_jobs_whose_tables_only_discovery_knows_run_as_op_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny project whose tap names no streams: its jobs run as plain ops, failures fail."""
    root = make_project(tmp_path / "project")
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp_path}/meltano.db")
    monkeypatch.setenv("FLEXT_RUNS_URL", f"sqlite:///{tmp_path}/ledger.db")
    defs = flext_definitions(root, environment="test")
    assert defs.resolve_all_asset_keys() == []
    with dg.DagsterInstance.ephemeral() as own:
        good = defs.resolve_job_def("good").execute_in_process(instance=own)
        bad = defs.resolve_job_def("bad").execute_in_process(instance=own, raise_on_error=False)
    assert good.success
    assert not bad.success
    [failure] = bad.get_step_failure_events()
    assert failure.step_key == "run_bad"
    data = failure.step_failure_data.user_failure_data
    assert data is not None and "meltano run bad (test) failed" in str(data.description)
    statuses = {r.job: r.status for r in RunLedger.from_url(f"sqlite:///{tmp_path}/ledger.db")
                .list_runs()}  # fmt: skip
    assert statuses == {"good": RunStatus.SUCCEEDED, "bad": RunStatus.FAILED}
