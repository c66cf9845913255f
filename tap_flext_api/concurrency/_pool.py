"""The worker pool: ``max_concurrency`` threads that send the tap's requests.

Why threads: the Singer SDK is synchronous, and a page's time is spent
waiting for the server; httpx's synchronous client is thread-safe and keeps
one connection pool for all of them, and the rate governor, the breaker and
the cache are per client, so every worker goes through the same ones. An
asyncio rewrite would need an async twin of the whole HTTP stack and could
not call the SDK's hooks. Decoding a page holds the GIL, but it is short next
to a page's latency.

Why not ``concurrent.futures.ThreadPoolExecutor``: its workers are joined
when the interpreter exits, so a request on the wire, or a worker sleeping
before a retry, would hold a stopped tap open; and it has no notion of
cancelling what is running. Here the workers are daemon threads, every
request carries the pool's cancel event (the HTTP client stops waiting and
sends no further attempt once it is set), and urgent jobs (a page a stream
is waiting for) go before read-ahead.
"""

from __future__ import annotations

import contextvars
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

from tap_flext_api._errors import WorkCancelled

__all__ = ["WorkerPool"]

T = TypeVar("T")

_URGENT, _AHEAD = 0, 1


class WorkerPool:
    """Daemon worker threads running jobs in priority order.

    Args:
        size: How many jobs run at once (the tap's ``max_concurrency``).
        on_error: Called from the worker with the exception a job raised,
            before the job's future gets it (the run stops at the first one).
    """

    def __init__(self, size: int, on_error: Callable[[BaseException], None]) -> None:
        self.size = size
        #: Set once: queued jobs are dropped, requests stop waiting and sending.
        self.cancel_event = threading.Event()
        #: Resolved when the pool is cancelled, so waiters can wait on it with their futures.
        self.cancelled: Future[None] = Future()
        self._on_error = on_error
        self._queue: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"tap-worker-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], *, urgent: bool) -> Future[T]:
        """Run ``fn`` on a worker, in the caller's context (log fields bound there go along).

        Raises:
            WorkCancelled: the pool is cancelled.
        """
        if self.cancel_event.is_set():
            raise WorkCancelled
        future: Future[T] = Future()
        job = _Job(fn, future, contextvars.copy_context())
        self._queue.put((_URGENT if urgent else _AHEAD, next(self._order), job))
        return future

    def cancel(self) -> None:
        """Stop: drop queued jobs, make running requests stop waiting, wake every waiter."""
        if self.cancel_event.is_set():
            return
        self.cancel_event.set()
        self.cancelled.set_result(None)
        while True:
            try:
                _, _, job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()

    def close(self) -> None:
        """Cancel, and let the idle workers end (busy ones are daemons: they are abandoned)."""
        self.cancel()
        for _ in self._threads:
            self._queue.put((_URGENT, next(self._order), None))

    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            if self.cancel_event.is_set() or not job.future.set_running_or_notify_cancel():
                job.future.cancel()
                continue
            try:
                result = job.context.run(job.fn)
            except BaseException as exc:
                if not self.cancel_event.is_set():
                    self._on_error(exc)
                _settle(job.future, exc)
            else:
                _settle(job.future, None, result)


class _Job:
    __slots__ = ("context", "fn", "future")

    def __init__(
        self, fn: Callable[[], Any], future: Future[Any], context: contextvars.Context
    ) -> None:
        self.fn = fn
        self.future = future
        self.context = context


def _settle(future: Future[Any], error: BaseException | None, result: Any = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled meanwhile
        pass
