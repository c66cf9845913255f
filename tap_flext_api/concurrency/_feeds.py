"""Feeds: one partition's pages, in order, fetched ahead by the worker pool.

A :class:`PageFeed` walks one partition (a stream, a child context, a time
window). Its first page is asked for when the feed starts; what follows
depends on the paginator:

- the first response tells how many pages there are (``total_pages_path``,
  ``total_path``, LGF ``page_mode=paged``'s ``page_count``): every other page
  is known at once, and up to ``ahead`` of them are in flight together;
- otherwise (cursor, next URL, Link header, LGF ``sequenced``) each page names
  the next: the next request leaves as soon as a page is taken, so it is on
  the wire while the stream writes the page just taken.

Pages are handed out in page order whatever order they arrive in, so a
partition's records keep the API's order. Read-ahead takes a credit from the
scheduler (at most ``max_concurrency`` pages are fetched ahead in the whole
tap); the page a stream is waiting for never needs one, so no stream can be
starved by another's read-ahead. That bounds memory by pages, not by the
size of a stream.

:class:`WindowFeeds` reads a stream's time windows, up to ``active`` at once,
and hands out whichever window's next page is ready first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flext_infra.observability import get_logger
from tap_flext_api._errors import WorkCancelled

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_flext_api._reader import PageCall, PageReader
    from tap_flext_api._windows import Window
    from tap_flext_api.pagination import Page, PageRequest

__all__ = ["FeedSource", "PageFeed", "Scheduler", "WindowFeeds"]

log = get_logger("tap_flext_api.concurrency")

T = TypeVar("T")


class Scheduler(Protocol):
    """What feeds need from the run: workers, read-ahead credits, and waiting."""

    def submit(self, fn: Callable[[], T], *, urgent: bool) -> Future[T]:
        """Run ``fn`` on a worker (urgent: a stream is waiting for it)."""
        ...

    def try_credit(self) -> bool:
        """Take a read-ahead credit if one is free."""
        ...

    def return_credit(self) -> None:
        """Give a read-ahead credit back."""
        ...

    def wait_any(self, futures: Sequence[Future[Any]]) -> None:
        """Wait (giving the turn up) until one of ``futures`` is done.

        Raises:
            WorkCancelled: the run was stopped meanwhile.
        """
        ...

    @property
    def cancel_event(self) -> Any:
        """The run's cancel event, handed to every request."""
        ...


class FeedSource(Protocol):
    """What a feed needs from its stream."""

    @property
    def name(self) -> str:
        """The stream name."""
        ...

    @property
    def page_reader(self) -> PageReader:
        """Fetches and decodes the stream's pages."""
        ...

    def page_call(
        self, context: Context | None, token: PageRequest, window: Window | None = None
    ) -> PageCall:
        """The request for page ``token`` (of ``window``, if any)."""
        ...


@dataclass(slots=True)
class _Fetch:
    token: PageRequest
    future: Future[Page | None]
    credit: bool


class PageFeed:
    """One partition's pages, in order (see the module docstring).

    Args:
        scheduler: The run's workers and credits.
        source: The stream.
        context: The stream context (a child's parent fields), if any.
        raw: Leave records encoded where the page allows it (the fast loop).
        window: The time window this feed reads, if any.
        ahead: Most pages of this feed in flight at once.
        key_values: Have the workers read each page's replication-key values.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        source: FeedSource,
        context: Context | None,
        *,
        raw: bool,
        window: Window | None = None,
        ahead: int = 1,
        key_values: bool = False,
        partition: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.source = source
        self.context = context
        self.raw = raw
        self.window = window
        self.ahead = max(1, ahead)
        self.key_values = key_values
        self.partition = partition
        reader = source.page_reader
        self.paginator = reader.new_paginator()
        self.guard = reader.new_guard()
        first = self.paginator.first()
        self.guard.start(first)
        self._tokens: deque[PageRequest] = deque([first])
        self._inflight: deque[_Fetch] = deque()
        self._first = True
        self._serial = True
        self._total: Any = None
        #: True once a page read out of order reported another total than the
        #: first page: the set moved under the walk, so a record may have slid
        #: into a page already read (see ``Paginator.total_of``).
        self.changed = False
        #: True once the partition has no more pages (or was closed).
        self.done = False
        #: Requests answered (skipped statuses included), for the SDK's request counter.
        self.requests = 0

    # ------------------------------------------------------------ fetching
    def prefetch(self) -> None:
        """Send as many known requests as read-ahead credits allow (never blocks)."""
        while (
            not self.done
            and self._tokens
            and len(self._inflight) < self.ahead
            and self.scheduler.try_credit()
        ):
            self._submit(self._tokens.popleft(), credit=True)

    def head(self) -> Future[Page | None] | None:
        """The next page's future, sending its request now if needed; ``None`` at the end."""
        if self.done:
            return None
        if not self._inflight:
            if not self._tokens:
                return None
            self._submit(self._tokens.popleft(), credit=False)
        return self._inflight[0].future

    @property
    def concurrent(self) -> bool:
        """True once the first page announced the others (they are read in any order)."""
        return not self._serial

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet taken."""
        return len(self._inflight)

    def sent_head(self) -> Future[Page | None] | None:
        """The next page's future if its request was already sent (nothing is sent here)."""
        return self._inflight[0].future if self._inflight else None

    def ready(self) -> bool:
        """True when the next page has arrived (or failed)."""
        return bool(self._inflight) and self._inflight[0].future.done()

    def _submit(self, token: PageRequest, *, credit: bool) -> None:
        call = self.source.page_call(self.context, token, self.window)
        reader, raw, context = self.source.page_reader, self.raw, self.context
        cancel, partition, keys = self.scheduler.cancel_event, self.partition, self.key_values

        def fetch() -> Page | None:
            return reader.fetch(
                call, raw=raw, context=context, cancel=cancel, partition=partition,
                key_values=keys,
            )  # fmt: skip

        try:
            future = self.scheduler.submit(fetch, urgent=not credit)
        except WorkCancelled:
            if credit:
                self.scheduler.return_credit()
            raise
        self._inflight.append(_Fetch(token, future, credit))

    # ------------------------------------------------------------ taking
    def take(self) -> Page | None:
        """The next page in order, waiting for it; ``None`` when the partition is done.

        Raises:
            WorkCancelled: the run was stopped.
            StreamFatalError, StreamRetriableError, PaginationError: as the serial walk.
        """
        head = self.head()
        if head is None:
            self.close()
            return None
        if not head.done():
            self.scheduler.wait_any([head])
        fetch = self._inflight.popleft()
        if fetch.credit:
            self.scheduler.return_credit()
        try:
            page = fetch.future.result()
        except CancelledError:
            raise WorkCancelled from None
        self.requests += 1
        if page is None:  # a skipped status ends the partition
            self.close()
            return None
        self._plan_after(page, fetch.token)
        self.prefetch()
        return page

    def _plan_after(self, page: Page, token: PageRequest) -> None:
        if not self._serial:
            self.guard.check_known(page)
            total = self.paginator.total_of(page)
            if not self.changed and total is not None and total != self._total:
                self.changed = True
                log.warning(
                    "tap.paged_walk_changed", stream=self.source.name, partition=self.partition,
                    first_total=self._total, total=total, url=page.url,
                )  # fmt: skip
            return
        if self._first:
            self._first = False
            known = self.paginator.known_pages(page, token) if self.ahead > 1 else None
            if known is not None:
                self._serial = False
                self._total = self.paginator.total_of(page)
                self._tokens.extend(self.guard.plan(page, known))
                return
        following = self.guard.check(page, self.paginator.next(page, token))
        if following is not None:
            self._tokens.append(following)

    def close(self) -> None:
        """End the feed: drop what was sent ahead (the run goes on without it)."""
        if self.done:
            return
        self.done = True
        for fetch in self._inflight:
            fetch.future.cancel()
            if fetch.credit:
                self.scheduler.return_credit()
        self._inflight.clear()
        self._tokens.clear()
        if self.guard.capped:
            log.warning(
                "tap.max_pages_reached", stream=self.source.name, max_pages=self.guard.max_pages
            )

    def __iter__(self) -> Iterator[Page]:
        try:
            while (page := self.take()) is not None:
                yield page
        finally:
            self.close()


class WindowFeeds:
    """A stream's time windows, up to ``active`` read at once; pages as they are ready.

    Args:
        scheduler: The run's workers and credits.
        make_feed: Builds the feed of one window.
        windows: The windows, in order.
        active: Most windows read at once.
        on_progress: Called with ``(window, page)`` once a handed-out page has
            been written (when the next one is asked for), and with
            ``(window, None)`` when a window has no more pages.
        on_changed: Called once per window whose set moved under a concurrent
            walk (:attr:`PageFeed.changed`), before the page that showed it is handed out.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        make_feed: Callable[[Window], PageFeed],
        windows: Sequence[Window],
        *,
        active: int,
        on_progress: Callable[[Window, Page | None], None],
        on_changed: Callable[[Window], None] | None = None,
    ) -> None:
        self.on_changed = on_changed
        self.scheduler = scheduler
        self.make_feed = make_feed
        self.windows = windows
        self.active = max(1, active)
        self.on_progress = on_progress
        #: Requests answered across the windows.
        self.requests = 0

    def __iter__(self) -> Iterator[tuple[Window, Page]]:
        pending = deque(self.windows)
        running: list[tuple[Window, PageFeed]] = []
        changed: set[int] = set()
        try:
            while pending or running:
                while pending and len(running) < self.active:
                    window = pending.popleft()
                    running.append((window, self.make_feed(window)))
                # Read-ahead credits go to the earliest windows first: the
                # watermark (and so the bookmark) moves with the first open window.
                for _, feed in running:
                    feed.prefetch()
                chosen = next((item for item in running if item[1].ready()), None)
                if chosen is None:
                    # Only the earliest window's next page is asked for without a
                    # credit; the others wait for what read-ahead already sent.
                    first = running[0][1].head()
                    if first is None:
                        chosen = running[0]
                    else:
                        sent = [f.sent_head() for _, f in running[1:]]
                        self.scheduler.wait_any([first, *(h for h in sent if h is not None)])
                        continue
                window, feed = chosen
                before = feed.requests
                page = feed.take()
                self.requests += feed.requests - before
                if page is None:
                    running.remove(chosen)
                    self.on_progress(window, None)
                    continue
                if feed.changed and window.index not in changed:
                    changed.add(window.index)
                    if self.on_changed is not None:
                        self.on_changed(window)
                yield window, page
                self.on_progress(window, page)
        finally:
            for _, feed in running:
                feed.close()
