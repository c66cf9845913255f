"""The run lock in SQLite and PostgreSQL: refusal naming the holder, waiting, dead holders."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from flext_infra.runs import LockHeldError, RunStatus, advisory_key, state_key

from .conftest import Clock, MakeLedger

HOLDER = re.compile(
    r"^job (?P<job>\S+) is already running \(run (?P<run>[0-9a-f-]{36}), pid (?P<pid>\d+) "
    r"on host (?P<host>\S+) since (?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)"
)


def test_a_second_run_of_the_job_is_refused_naming_the_holder(make_ledger: MakeLedger) -> None:
    """The refusal names job, run, pid, host and start time, as operators read it."""
    ledger = make_ledger()
    first = ledger.start("incremental-sync-job")
    with (
        ledger.lock("incremental-sync-job", first.run_id),
        pytest.raises(LockHeldError) as caught,
    ):
        ledger.lock("incremental-sync-job", "second-run").acquire()
    m = HOLDER.match(str(caught.value))
    assert m is not None, str(caught.value)
    assert m["job"] == "incremental-sync-job" and m["run"] == first.run_id
    assert int(m["pid"]) == os.getpid() and m["host"] == first.host
    assert caught.value.holder is not None and caught.value.holder.run_id == first.run_id
    # Released: the next run takes it.
    ledger.lock("incremental-sync-job", "third-run").acquire().release()


def test_jobs_sharing_a_meltano_state_id_exclude_each_other(make_ledger: MakeLedger) -> None:
    """Another job on the same extractor-loader pair is refused, and told which state id."""
    ledger = make_ledger()
    shared = state_key("dev:tap-a-to-target-b")
    holder = ledger.start("job-one")
    with ledger.lock("job-one", holder.run_id, [shared]):
        with pytest.raises(LockHeldError, match="holds Meltano state id dev:tap-a-to-target-b"):
            ledger.lock("job-two", "r2", [shared]).acquire()
        # A job on another state id is not affected.
        ledger.lock("job-three", "r3", [state_key("dev:x-to-y")]).acquire().release()


def test_a_refused_acquire_holds_nothing(make_ledger: MakeLedger) -> None:
    """A run refused on its second key gives its first key back."""
    ledger = make_ledger()
    blocker = ledger.lock("other", "r1", [state_key("s")]).acquire()
    with pytest.raises(LockHeldError):
        ledger.lock("mine", "r2", [state_key("s")]).acquire()
    ledger.lock("mine", "r3").acquire().release()  # job:mine was released
    blocker.release()


def test_wait_takes_the_lock_once_the_holder_releases(make_ledger: MakeLedger) -> None:
    """--wait: a waiting run gets the lock when the holder lets go; a short wait still refuses."""
    ledger = make_ledger()
    held = ledger.lock("job", "r1").acquire()
    with pytest.raises(LockHeldError):
        ledger.lock("job", "r2").acquire(wait_s=0.3)
    threading.Timer(0.5, held.release).start()
    started = time.monotonic()
    lock = ledger.lock("job", "r3").acquire(wait_s=30)
    assert lock.held and time.monotonic() - started >= 0.4
    lock.release()


def test_an_expired_lock_row_is_taken_over_and_its_run_abandoned(tmp_path: Path) -> None:
    """SQLite: a holder silent past the TTL loses the lock; its run reads as abandoned."""
    from flext_infra.runs import RunLedger

    clock = Clock()
    ledger = RunLedger.for_sqlite(tmp_path / "l.db", clock=clock, lock_ttl_s=10)
    dead = ledger.start("job")
    ledger.lock("job", dead.run_id).acquire()  # never released: the holder "dies"
    clock.advance(5)
    with pytest.raises(LockHeldError):
        ledger.lock("job", "r2").acquire()
    clock.advance(6)
    ledger.lock("job", "r3").acquire().release()
    row = ledger.store.read("SELECT status FROM flext_runs WHERE run_id = :r", {"r": dead.run_id})
    assert row[0][0] == "abandoned"
    found = ledger.get_run(dead.run_id)
    assert found is not None and found.status is RunStatus.ABANDONED


HOLDER_SCRIPT = """
import sys, time
from flext_infra import configure_logging
from flext_infra.runs import RunLedger
configure_logging()  # logs to stderr: stdout says the run id
url, schema = sys.argv[1], sys.argv[2] or None
ledger = RunLedger.from_url(url, schema=schema, lock_ttl_s=float(sys.argv[3]))
run = ledger.start("held-job")
lock = ledger.lock("held-job", run.run_id).acquire()  # kept: PostgreSQL holds it per session
ledger.heartbeat(run.run_id).start()
print(run.run_id, flush=True)
time.sleep(600)
"""


def test_a_holder_killed_with_sigkill_leaves_no_lock_past_the_ttl(
    make_ledger: MakeLedger, tmp_path: Path
) -> None:
    """A live holder keeps its lock by heartbeat; SIGKILLed, the lock is free within the TTL."""
    ttl = 1.5
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(HOLDER_SCRIPT))
    schema = make_ledger.schema or ""  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        [sys.executable, str(script), make_ledger.url, schema, str(ttl)],  # type: ignore[attr-defined]
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        ledger = make_ledger(lock_ttl_s=ttl)
        time.sleep(ttl * 1.5)  # longer than the TTL: only the heartbeat keeps it held
        with pytest.raises(LockHeldError, match=run_id):
            ledger.lock("held-job", "r2").acquire()
        assert ledger.get_run(run_id).status is RunStatus.RUNNING  # type: ignore[union-attr]
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lock = ledger.lock("held-job", "r3").acquire(wait_s=ttl * 4)
        assert time.monotonic() - killed_at <= ttl + 1.0
        lock.release()
        time.sleep(max(0.0, ttl - (time.monotonic() - killed_at)) + 0.2)
        assert ledger.get_run(run_id).status is RunStatus.ABANDONED  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_advisory_keys_are_stable_signed_64_bit_numbers() -> None:
    """The PostgreSQL lock id of a key is the same in every process and fits a bigint."""
    assert advisory_key("job:a") == advisory_key("job:a") != advisory_key("job:b")
    assert -(2**63) <= advisory_key("job:a") < 2**63
