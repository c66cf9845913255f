"""What the streams of one concurrent run share: workers, turns, credits, the first error.

One :class:`Concurrency` exists per ``sync_all`` at ``max_concurrency`` above 1.
Streams reach it through their ``concurrency`` attribute and ask it for
feeds (:mod:`tap_flext_api.concurrency._feeds`); the engine
(:mod:`tap_flext_api.concurrency._engine`) runs the streams and reads the
first error from it.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any, TypeVar

from flext_infra.observability import get_logger
from tap_flext_api._errors import WorkCancelled
from tap_flext_api.concurrency._feeds import FeedSource, PageFeed
from tap_flext_api.concurrency._pool import WorkerPool
from tap_flext_api.concurrency._turns import Turns

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_flext_api._windows import Window

__all__ = ["Concurrency"]

log = get_logger("tap_flext_api.concurrency")

T = TypeVar("T")


def _context_key(context: Context | None) -> str:
    return repr(sorted((context or {}).items()))


class Concurrency:
    """The shared parts of one concurrent run (a :class:`~._feeds.Scheduler`).

    Args:
        max_concurrency: Workers, and read-ahead credits (pages fetched before
            a stream asks for them).
        started_at: The run's start (default: now), fixed for the whole run.
    """

    def __init__(self, max_concurrency: int, started_at: datetime.datetime | None = None) -> None:
        self.max_concurrency = max_concurrency
        #: When the run started: the upper end of every stream's time windows.
        self.started_at = started_at or datetime.datetime.now(datetime.UTC)
        #: Only the holder runs SDK code or writes (see ``_turns.py``).
        self.turns = Turns()
        #: The first error of the run (a failed request, a stream's exception).
        self.first_error: BaseException | None = None
        self._error_lock = threading.Lock()
        self.pool = WorkerPool(max_concurrency, on_error=self.fail)
        self._credits = max_concurrency
        self._credit_lock = threading.Lock()
        #: Child partitions whose first page was asked for ahead, by (stream, context).
        self._prefetched: dict[tuple[str, str], PageFeed] = {}

    # ------------------------------------------------------------ the run's end
    def fail(self, error: BaseException) -> None:
        """Record the run's first error and stop every worker (later errors are ignored)."""
        with self._error_lock:
            if self.first_error is None and not isinstance(error, WorkCancelled):
                self.first_error = error
                log.info("tap.concurrency.stopping", error=type(error).__name__)
        self.pool.cancel()

    @property
    def stopped(self) -> bool:
        """True once the run was stopped."""
        return self.pool.cancel_event.is_set()

    def close(self) -> None:
        """Stop the workers (idle ones end; busy ones are abandoned daemons)."""
        for feed in self._prefetched.values():
            feed.close()
        self._prefetched.clear()
        self.pool.close()

    # ------------------------------------------------------------ Scheduler
    @property
    def cancel_event(self) -> threading.Event:
        """Set when the run stops: every request stops waiting and sending."""
        return self.pool.cancel_event

    def submit(self, fn: Callable[[], T], *, urgent: bool) -> Future[T]:
        """Run ``fn`` on a worker."""
        return self.pool.submit(fn, urgent=urgent)

    def try_credit(self) -> bool:
        """Take a read-ahead credit if one is free."""
        with self._credit_lock:
            if self._credits <= 0:
                return False
            self._credits -= 1
            return True

    def return_credit(self) -> None:
        """Give a read-ahead credit back."""
        with self._credit_lock:
            self._credits += 1

    def wait_any(self, futures: Sequence[Future[Any]]) -> None:
        """Wait, without the turn, until one of ``futures`` is done.

        Raises:
            WorkCancelled: the run stopped meanwhile (the turn is then not taken back).
        """
        with self.turns.released():
            wait([*futures, self.pool.cancelled], return_when=FIRST_COMPLETED)
            if self.stopped:
                raise WorkCancelled
        if self.stopped:
            raise WorkCancelled

    # ------------------------------------------------------------ feeds
    def feed(
        self,
        source: FeedSource,
        context: Context | None,
        *,
        raw: bool,
        window: Window | None = None,
        key_values: bool = False,
        partition: str | None = None,
    ) -> PageFeed:
        """The pages of one partition (a child's prefetched feed when there is one)."""
        if window is None and not raw and not key_values:
            found = self._prefetched.pop((source.name, _context_key(context)), None)
            if found is not None:
                return found
        feed = PageFeed(
            self, source, context, raw=raw, window=window, ahead=self.max_concurrency,
            key_values=key_values, partition=partition,
        )  # fmt: skip
        feed.prefetch()
        return feed

    def prefetch(self, source: FeedSource, context: Context | None) -> bool:
        """Ask for a child partition's first page ahead, if a credit is free.

        Returns:
            True when a request went out (the feed waits to be claimed).
        """
        key = (source.name, _context_key(context))
        if key in self._prefetched:
            return False
        feed = PageFeed(self, source, context, raw=False, ahead=self.max_concurrency)
        feed.prefetch()
        if not feed.in_flight:
            return False
        self._prefetched[key] = feed
        return True

    def drop_prefetched(self, names: Sequence[str]) -> None:
        """Close the unclaimed prefetched feeds of streams ``names`` (their credits come back)."""
        for key in [k for k in self._prefetched if k[0] in names]:
            self._prefetched.pop(key).close()
