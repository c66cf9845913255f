"""The bookmark a stream read in time windows may claim while its windows run.

Windows complete in any order, so the stream's records come out of order and
the SDK's sorted-stream bookkeeping cannot be used. The watermark is the
point below which every window has completed: the start of the first window
still running, or (when the API sorts by the replication key) the last value
written from it. A STATE carrying it never claims a record that a running or
failed window still holds; resuming from it re-reads at most the windows that
had completed after it (the target's upsert makes that harmless).

When every window is done the bookmark is the largest value read, as a
serial run leaves it.

A window whose pages were read in any order while its result set changed
(a page reported another total) may have lost a record between two pages;
:meth:`Watermark.taint` holds the bookmark at or below what that window had
safely given before, so the next run reads it again.
"""

from __future__ import annotations

import datetime
from typing import Any

from tap_flext_api._bookmarks import parse_timestamp
from tap_flext_api._windows import Window

__all__ = ["Watermark"]


class Watermark:
    """Tracks a windowed stream's completed windows and the bookmark they allow.

    Args:
        windows: The run's windows, in order.
        start: The stream's starting bookmark (the value the run began from).
        ordered: The API returns each window's records in replication-key order.
    """

    def __init__(self, windows: list[Window], start: Any, *, ordered: bool) -> None:
        self.windows = windows
        self.start = start
        self.ordered = ordered
        self._done = [False] * len(windows)
        self._last: list[Any] = [None] * len(windows)
        self._first_open = 0
        self._max: Any = None
        self._max_at: datetime.datetime | None = None
        #: The most the bookmark may claim (held by tainted windows), and its moment.
        self._limit: Any = None
        self._limit_at: datetime.datetime | None = None

    def consumed(self, index: int, values: list[Any]) -> None:
        """A page of window ``index`` was written; ``values`` are its records' key values."""
        for value in values:
            moment = parse_timestamp(value)
            if moment is None:
                continue
            if self._max_at is None or moment > self._max_at:
                self._max, self._max_at = value, moment
            if self.ordered:
                self._last[index] = value

    def taint(self, index: int) -> None:
        """Window ``index``'s set moved under a walk in any order: hold the bookmark before it.

        Called before the page that showed the change is written: what the
        window wrote so far (in order) is still safe.
        """
        last = self._last[index] if self.ordered else None
        value: Any = last if last is not None else self.windows[index].start.isoformat()
        moment = parse_timestamp(value)
        if moment is not None and (self._limit_at is None or moment < self._limit_at):
            self._limit, self._limit_at = value, moment

    def finished(self, index: int) -> None:
        """Window ``index`` has no more pages."""
        self._done[index] = True
        while self._first_open < len(self._done) and self._done[self._first_open]:
            self._first_open += 1

    @property
    def complete(self) -> bool:
        """True when every window has finished."""
        return self._first_open >= len(self._done)

    @property
    def value(self) -> Any:
        """The bookmark to store now (never below :attr:`start`)."""
        if self.complete:
            return self.final
        window = self.windows[self._first_open]
        last = self._last[self._first_open]
        candidate: Any = last if last is not None else window.start.isoformat()
        return self._at_least_start(self._within_limit(candidate))

    @property
    def final(self) -> Any:
        """The bookmark once every window is done: the largest value read (else the start)."""
        if self._max is None:
            return self._at_least_start(self._limit) if self._limit is not None else self.start
        return self._at_least_start(self._within_limit(self._max))

    def _within_limit(self, candidate: Any) -> Any:
        moment = parse_timestamp(candidate)
        if self._limit_at is not None and moment is not None and moment > self._limit_at:
            return self._limit
        return candidate

    def _at_least_start(self, candidate: Any) -> Any:
        start_at = parse_timestamp(self.start)
        moment = parse_timestamp(candidate)
        if start_at is not None and moment is not None and moment < start_at:
            return self.start
        return candidate
