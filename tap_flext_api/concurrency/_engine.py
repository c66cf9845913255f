"""The concurrent sync: every selected stream in its own thread, taking turns to write.

``TapFlextApi.sync_all`` hands the top-level streams to :func:`run_streams`
when ``max_concurrency`` is above 1. Each stream runs the SDK's own
``sync()`` in a stream thread (all of them at once with
``parallel_streams``, else one after another), holding the turn
(``_turns.py``) except while it waits for pages; the pages come from the
worker pool (``_pool.py``) through feeds (``_feeds.py``).

Stopping. The first error anywhere (a request's final failure, a stream's
exception, a spent quota) cancels the pool: no new request leaves, queued
ones are dropped, requests waiting for a rate-limit slot or a retry stop at
once, and every stream thread waiting for a page is woken and unwinds. The
calling thread then takes the turn (so nothing more is written), and raises
that first error. The same happens when the calling thread itself is
interrupted (a signal turned into an exception, ``KeyboardInterrupt``): the
workers are stopped and the exception propagates untouched. Requests already
on the wire are abandoned: their threads are daemons, and nothing waits for
them.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from flext_infra.observability import get_logger
from tap_flext_api._errors import WorkCancelled
from tap_flext_api.concurrency._runtime import Concurrency

__all__ = ["SyncedStream", "run_streams"]

log = get_logger("tap_flext_api.concurrency")

#: How long the calling thread waits for a stream thread to hand over the turn when stopping.
_STOP_GRACE_S = 1.0
#: How often the calling thread wakes while it waits (signals are handled between waits).
_POLL_S = 0.2


class SyncedStream(Protocol):
    """What the engine runs: a top-level SDK stream."""

    @property
    def name(self) -> str:
        """The stream name."""
        ...

    def sync(self) -> None:
        """The SDK's sync of the stream (and its children)."""
        ...

    def finalize_state_progress_markers(self) -> None:
        """The SDK's end-of-stream state step."""
        ...


def run_streams(
    runtime: Concurrency,
    streams: Sequence[SyncedStream],
    *,
    parallel: bool,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Sync ``streams`` concurrently; returns when all are done.

    Args:
        runtime: The run's workers, turns and first error.
        streams: The top-level streams to sync.
        parallel: One thread per stream (else one thread, streams in order).
        on_stop: Called, holding the turn, when the run stops early (flushes output).

    Raises:
        BaseException: the run's first error, or whatever interrupted the caller.
    """
    groups: list[list[SyncedStream]] = [[s] for s in streams] if parallel else [list(streams)]
    finished = threading.Semaphore(0)
    threads = []
    for index, group in enumerate(groups):
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run,
            args=(_sync_group, runtime, group, finished),
            name=f"tap-stream-{index}",
            daemon=True,
        )
        threads.append(thread)
    for thread in threads:
        thread.start()
    try:
        remaining = len(threads)
        while remaining:
            if finished.acquire(timeout=_POLL_S):
                remaining -= 1
            if runtime.first_error is not None:
                break
    except BaseException:
        log.warning("tap.concurrency.interrupted")
        _stop(runtime, on_stop)
        raise
    if runtime.first_error is not None:
        _stop(runtime, on_stop)
        raise runtime.first_error


def _sync_group(
    runtime: Concurrency, group: list[SyncedStream], finished: threading.Semaphore
) -> None:
    try:
        for stream in group:
            if runtime.stopped:
                return
            with runtime.turns.held():
                stream.sync()
                stream.finalize_state_progress_markers()
    except WorkCancelled:
        pass
    except BaseException as exc:
        runtime.fail(exc)
    finally:
        finished.release()


def _stop(runtime: Concurrency, on_stop: Callable[[], None] | None) -> None:
    """Cancel the workers, take the turn (so no stream writes again), flush."""
    runtime.pool.cancel()
    if runtime.turns.take(_STOP_GRACE_S):
        if on_stop is not None:
            on_stop()
    else:
        log.warning("tap.concurrency.turn_not_returned", grace_s=_STOP_GRACE_S)
