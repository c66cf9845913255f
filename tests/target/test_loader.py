"""The loader thread: batches load in order, the first failure stops it, an abort stops it now."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from target_flext_oracle import BatchLoadError, TargetFlextOracle
from target_flext_oracle._loader import BatchLoader, LoadJob
from tests.target.conftest import rec, schema_msg, singer, state


def test_jobs_run_one_at_a_time_in_submission_order() -> None:
    """Whatever their durations, jobs finish in the order they were submitted."""
    loader = BatchLoader(background=True, depth=2)
    done: list[int] = []
    for i in range(20):
        loader.submit(LoadJob(lambda i=i: (time.sleep(0.001 * (i % 3)), done.append(i))))
    loader.wait()
    loader.close()
    assert done == list(range(20))


def test_the_first_failure_stops_the_loader_and_reaches_the_submitter() -> None:
    """After a job fails, the jobs queued behind it never run; the next call raises its error."""
    loader = BatchLoader(background=True, depth=3)
    ran: list[str] = []
    gate = threading.Event()

    def fail() -> None:
        gate.wait(5)
        raise RuntimeError("batch 2 failed")

    loader.submit(LoadJob(lambda: ran.append("1")))
    loader.submit(LoadJob(fail))
    loader.submit(LoadJob(lambda: ran.append("3")))
    gate.set()
    with pytest.raises(RuntimeError, match="batch 2 failed"):
        loader.wait()
    with pytest.raises(RuntimeError, match="batch 2 failed"):
        loader.submit(LoadJob(lambda: ran.append("4")))
    loader.abort()
    assert ran == ["1"]


def test_abort_drops_queued_jobs_and_cancels_the_running_one() -> None:
    """abort(): the running job is asked to cancel, queued ones never run, promptly."""
    loader = BatchLoader(background=True, depth=2)
    running = threading.Event()
    cancelled = threading.Event()
    ran: list[str] = []

    def long_job() -> None:
        running.set()
        if cancelled.wait(10):
            raise RuntimeError("cancelled")
        ran.append("long")

    loader.submit(LoadJob(long_job, cancel=cancelled.set, label="long"))
    loader.submit(LoadJob(lambda: ran.append("queued")))
    assert running.wait(5)
    started = time.monotonic()
    loader.abort()
    assert time.monotonic() - started < 5
    assert ran == []
    assert loader.pending == 0


def test_inline_loading_runs_each_job_in_the_caller() -> None:
    """With background=False a job runs inside submit (no thread)."""
    loader = BatchLoader(background=False)
    seen: list[str] = []
    loader.submit(LoadJob(lambda: seen.append(threading.current_thread().name)))
    assert seen == [threading.current_thread().name]


class _Interrupted:
    """Input that raises KeyboardInterrupt (as a signal would) once a batch is loading."""

    def __init__(self, lines: list[str], after: int, loading: threading.Event) -> None:
        self.lines = lines
        self.after = after
        self.loading = loading

    def __iter__(self) -> Iterator[bytes]:
        for i, line in enumerate(self.lines):
            if i == self.after:
                assert self.loading.wait(10)
                raise KeyboardInterrupt
            yield line.encode()


ITEM = {"id": {"type": "integer"}, "qty": {"type": ["integer", "null"]}}


def _interrupted_run(
    config: dict[str, Any], *, commit_anyway: bool
) -> tuple[list[Any], TargetFlextOracle]:
    target = TargetFlextOracle(config={**config, "batch_size_rows": 5})
    connector = target.target_connector
    real = connector.load_arrow
    loading = threading.Event()
    cancel = threading.Event()

    def slow_load(*args: Any, **kwargs: Any) -> None:
        loading.set()
        if cancel.wait(10) and not commit_anyway:
            raise RuntimeError("statement cancelled")
        real(*args, **kwargs)

    connector.load_arrow = slow_load  # type: ignore[method-assign]
    connector.cancel_bulk = cancel.set  # type: ignore[method-assign]
    lines = singer(
        schema_msg("a", ITEM, ["id"]),
        *[rec("a", {"id": i, "qty": i}) for i in range(1, 6)],  # batch 1: full, loading
        state({"after": 5}),
        rec("a", {"id": 6, "qty": 6}),
        state({"after": 6}),
    ).splitlines(keepends=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(KeyboardInterrupt):
        target.listen(_Interrupted(lines, after=len(lines) - 1, loading=loading))  # type: ignore[arg-type]
    return [json.loads(x) for x in out.getvalue().splitlines()], target


def _ids(config: dict[str, Any]) -> list[int]:
    engine = sa.create_engine(config["sqlalchemy_url"])
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("a"):
                return []
            return [r[0] for r in conn.exec_driver_sql("SELECT id FROM a ORDER BY id")]
    finally:
        engine.dispose()


def test_an_interrupt_while_a_batch_loads_cancels_it_and_releases_no_state(
    sqlite_config: dict[str, Any],
) -> None:
    """KeyboardInterrupt in the reader: the loading batch is cancelled, no STATE goes out."""
    states, _ = _interrupted_run(sqlite_config, commit_anyway=False)
    assert states == []
    assert _ids(sqlite_config) == []


def test_an_interrupt_lets_a_batch_that_commits_anyway_release_only_its_state(
    sqlite_config: dict[str, Any],
) -> None:
    """A batch that commits despite the cancel releases the STATE it covers, never a later one."""
    states, _ = _interrupted_run(sqlite_config, commit_anyway=True)
    assert _ids(sqlite_config) == [1, 2, 3, 4, 5]
    assert states in ([], [{"after": 5}])  # record 6 was never committed


def test_a_failed_background_batch_fails_the_run_with_its_range(
    sqlite_config: dict[str, Any], tmp_path: Path
) -> None:
    """A batch failing on the loader thread ends the run with BatchLoadError and no STATE."""
    target = TargetFlextOracle(config={**sqlite_config, "batch_size_rows": 2})

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    target.target_connector.load_arrow = boom  # type: ignore[method-assign]
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        rec("a", {"id": 1, "qty": 1}),
        rec("a", {"id": 2, "qty": 2}),
        state({"s": 1}),
        rec("a", {"id": 3, "qty": 3}),
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(BatchLoadError, match="disk full") as info:
        target.listen(io.StringIO(text))
    assert "records 1-2" in str(info.value)
    assert out.getvalue() == ""
