"""The run ledger in SQLite and PostgreSQL: rows, streams, filters, abandonment, retention."""

from __future__ import annotations

import pytest

from flext_infra.runs import RunKind, RunStatus, StreamRun, Trigger

from .conftest import Clock, MakeLedger


def test_a_run_is_recorded_with_its_outcome_and_streams(make_ledger: MakeLedger) -> None:
    """A finished run reads back with status, exit code, duration and per-stream numbers."""
    clock = Clock()
    ledger = make_ledger(clock=clock, environment="test")
    started = ledger.start("nightly", trigger=Trigger.SCHEDULE, link_id="m-1")
    clock.advance(12.5)
    streams = [
        StreamRun("orders", records_read=10, records_loaded=10, rejects=0, retries=2,
                  rate_limited=1, bookmark_before="2024-01-01", bookmark_after="2024-02-01"),
        StreamRun("allocation", records_read=0, records_loaded=0),  # zero is a value
    ]  # fmt: skip
    done = ledger.finish(started.run_id, RunStatus.SUCCEEDED, 0, streams=streams, attempts=2)
    assert done.status is RunStatus.SUCCEEDED and done.exit_code == 0
    assert done.duration_s == 12.5
    assert done.environment == "test" and done.trigger is Trigger.SCHEDULE
    assert done.kind is RunKind.JOB and done.link_id == "m-1" and done.attempts == 2
    assert [s.stream for s in done.streams] == ["allocation", "orders"]
    assert done.streams[1] == streams[0]
    assert done.streams[0].records_read == 0
    assert done.records_read == 10 and done.rejects == 0
    assert done.pid > 0 and done.host and done.os_user


def test_errors_are_stored_without_secrets(make_ledger: MakeLedger) -> None:
    """An error summary never carries a password from a URL."""
    ledger = make_ledger()
    run = ledger.start("job")
    done = ledger.finish(
        run.run_id, "failed", 1, error="cannot connect to postgresql://etl:s3cr3t-pw@db/x"
    )
    assert done.error is not None and "s3cr3t-pw" not in done.error
    assert "cannot connect" in done.error


def test_list_filters_by_job_and_status_newest_first(make_ledger: MakeLedger) -> None:
    """list_runs pages newest first and filters by job and status; last_run is the newest."""
    clock = Clock()
    ledger = make_ledger(clock=clock)
    ids = []
    for i, (job, status) in enumerate(
        [("a", "succeeded"), ("b", "failed"), ("a", "failed"), ("a", "succeeded")]
    ):
        run = ledger.start(job)
        ledger.finish(run.run_id, status, 0 if status == "succeeded" else 1)
        ids.append(run.run_id)
        clock.advance(1 + i)
    assert [r.run_id for r in ledger.list_runs()] == ids[::-1]
    assert [r.run_id for r in ledger.list_runs(job="a")] == [ids[3], ids[2], ids[0]]
    assert [r.run_id for r in ledger.list_runs(job="a", status="failed")] == [ids[2]]
    assert [r.run_id for r in ledger.list_runs(limit=2, offset=1)] == [ids[2], ids[1]]
    last = ledger.last_run("a")
    assert last is not None and last.run_id == ids[3]
    assert ledger.last_run("nobody") is None
    assert ledger.get_run("missing") is None


def test_a_run_without_heartbeat_past_its_ttl_reads_as_abandoned(make_ledger: MakeLedger) -> None:
    """A running row is running until its heartbeat is older than the TTL, then abandoned."""
    clock = Clock()
    ledger = make_ledger(clock=clock, lock_ttl_s=30)
    run = ledger.start("job")
    clock.advance(25)
    assert ledger.get_run(run.run_id).status is RunStatus.RUNNING  # type: ignore[union-attr]
    ledger.beat(run.run_id)  # pushes the expiry
    clock.advance(25)
    assert [r.run_id for r in ledger.list_runs(status="running")] == [run.run_id]
    clock.advance(10)
    found = ledger.get_run(run.run_id)
    assert found is not None and found.status is RunStatus.ABANDONED
    assert found.ended_at is None and found.duration_s is None
    assert [r.run_id for r in ledger.list_runs(status="abandoned")] == [run.run_id]
    assert ledger.list_runs(status="running") == []


def test_retention_prunes_old_finished_runs_only(make_ledger: MakeLedger) -> None:
    """prune removes finished runs past the retention, with their streams; running ones stay."""
    clock = Clock()
    ledger = make_ledger(clock=clock, retention_days=7, lock_ttl_s=60)
    old = ledger.start("job")
    ledger.finish(old.run_id, "succeeded", 0, streams=[StreamRun("s", records_read=1)])
    alive = ledger.start("job")
    clock.advance(8 * 86400)
    ledger.beat(alive.run_id)
    recent = ledger.start("job")
    assert ledger.prune() == 1
    assert {r.run_id for r in ledger.list_runs()} == {alive.run_id, recent.run_id}
    rows = ledger.store.read("SELECT COUNT(*) FROM " + ledger.store.table("flext_run_streams"))
    assert rows[0][0] == 0


def test_finishing_an_unknown_run_is_an_error(make_ledger: MakeLedger) -> None:
    """finish() of a run id the ledger never saw raises KeyError."""
    with pytest.raises(KeyError, match="no run nope"):
        make_ledger().finish("nope", "succeeded", 0)


def test_linked_runs_are_found_by_the_meltano_run_id(make_ledger: MakeLedger) -> None:
    """A job's row and its plugins' rows share the link id."""
    ledger = make_ledger()
    job = ledger.start("job", link_id="L")
    tap = ledger.start("tap-x", kind=RunKind.EXTRACTOR, link_id="L")
    ledger.start("other", link_id="M")
    assert [r.run_id for r in ledger.linked("L")] == [job.run_id, tap.run_id]


def test_two_processes_share_one_ledger(make_ledger: MakeLedger) -> None:
    """Separate ledger objects on the same database see each other's rows (tables made once)."""
    first, second = make_ledger(), make_ledger()
    run = first.start("job")
    assert second.get_run(run.run_id) is not None
