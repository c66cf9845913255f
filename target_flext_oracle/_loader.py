"""Loading batches in order on one background thread, while the next batch is decoded.

The columnar drivers (ADBC's PostgreSQL and SQLite drivers, python-oracledb's
DataFrame ingestion) release the GIL while they write, so the reader can
decode batch N+1 while batch N loads. :class:`BatchLoader` runs the sealed
batches' load jobs one at a time, first in first out, so batches of one table
commit in the order they were read, and holds at most ``depth`` jobs waiting
(memory stays bounded by the batch size).

The rules that keep STATE exactly-once:

* a job counts its batch as committed (and lets the STATE gate release) only
  after its transaction committed;
* the first failure stops the loader: the jobs queued after it never run, and
  the failure is raised in the reading thread at its next call;
* :meth:`BatchLoader.abort` (the reading thread unwinding with any exception,
  a signal included) drops the queued jobs, asks the running one to cancel,
  and waits a bounded time for it. A job that still commits releases STATE for
  committed rows only; one that does not is rolled back.

Written here rather than with ``concurrent.futures``: an executor cannot drop
its queue without running it, nor report the first failure to the submitter
at its next call.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flext_infra.observability import get_logger

log = get_logger("target_flext_oracle.loader")

#: How long an abort waits for the running job after asking it to cancel.
ABORT_WAIT_S = 30.0


@dataclass(frozen=True)
class LoadJob:
    """One sealed batch's load: ``run`` commits it (or raises); ``cancel`` may interrupt it."""

    run: Callable[[], None]
    cancel: Callable[[], None] | None = None
    label: str = ""


class BatchLoader:
    """Runs load jobs in submission order, in a background thread or inline.

    Args:
        background: Load on a thread (overlapping the reader); else each job runs
            in :meth:`submit`.
        depth: Jobs that may wait behind the running one.
    """

    def __init__(self, *, background: bool, depth: int = 1) -> None:
        self.background = background
        self._queue: queue.Queue[LoadJob | None] = queue.Queue(maxsize=max(1, depth))
        self._failure: BaseException | None = None
        self._stopped = threading.Event()
        self._running: LoadJob | None = None
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    def submit(self, job: LoadJob) -> None:
        """Queue ``job`` behind the earlier ones (blocks while ``depth`` jobs wait).

        Raises:
            BaseException: the failure of an earlier job (the loader has stopped).
        """
        self.raise_failure()
        if not self.background:
            job.run()
            return
        if self._thread is None:
            # The thread runs in a copy of the submitter's context: the run's log
            # fields (run_id, job) and its ledger tally are context variables.
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._work,), name="flext-loader", daemon=True
            )
            self._thread.start()
        with self._idle:
            self._pending += 1
        self._queue.put(job)

    def wait(self) -> None:
        """Block until every submitted job has run; raise the first failure, if any."""
        with self._idle:
            while self._pending and self._failure is None:
                self._idle.wait(0.5)
        self.raise_failure()

    def raise_failure(self) -> None:
        """Raise the first failure of a job, in the calling thread."""
        if self._failure is not None:
            raise self._failure

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished."""
        return self._pending

    def abort(self) -> None:
        """Drop the queued jobs, cancel the running one, wait (bounded) for the thread."""
        self._stopped.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
                self._done()
        running = self._running
        if running is not None and running.cancel is not None:
            log.warning("target.load_cancelled", batch=running.label)
            with contextlib.suppress(Exception):
                running.cancel()
        self._finish(ABORT_WAIT_S)

    def close(self) -> None:
        """Stop the thread after the queued jobs (call :meth:`wait` first to see failures)."""
        self._finish(None)

    def _finish(self, timeout: float | None) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        thread.join(timeout)
        if thread.is_alive():
            log.error("target.loader_stuck", waited_s=timeout)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._stopped.is_set() or self._failure is not None:
                self._done()
                continue
            self._running = job
            try:
                job.run()
            except BaseException as exc:  # reported to the reading thread
                self._failure = exc
                self._stopped.set()
            finally:
                self._running = None
                self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()
