"""Paginators and the pagination safety net.

A paginator looks at the page just read and says what the next request
changes: some parameters (page number, offset, cursor) or a whole URL to
follow (next-URL bodies, RFC 8288 ``Link`` headers). ``None`` means the last
page was reached. Parameters go where the stream puts them: the query string
(GET), the body (POST), or a GraphQL operation's variables, so the same
offset paginator serves REST and GraphQL, and :class:`RelayPaginator` passes
a Relay ``endCursor`` back as a variable.

The SDK's paginators take a ``requests.Response`` and re-parse its JSON on
every call; ours read a :class:`Page` whose body was decoded once, because the
transport is ``flext_infra``'s httpx client and the body is already parsed.

:class:`PaginationGuard` is the safety net every stream runs through: a token
seen before, or a page body identical to the previous one, is an error naming
the stream and URL, and ``max_pages`` caps every stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

from requests.utils import parse_header_links

from tap_flext_api._errors import MaxPagesExceededError, PaginationError, PaginationLoopError
from tap_flext_api._jsonpath import first_value

__all__ = [
    "CursorPaginator",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationGuard",
    "Paginator",
    "RelayPaginator",
    "SinglePagePaginator",
    "build_paginator",
]


#: How a :class:`Page` holds its records.
PageForm = Literal["decoded", "raw", "shaped"]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the next request changes.

    Attributes:
        params: Query (or body) parameters set on top of the stream's own.
        url: An absolute URL to fetch as is; when set, the stream's path and
            params are not used (the URL carries its own query).
    """

    params: Mapping[str, Any] = field(default_factory=dict)
    url: str | None = None

    def key(self) -> tuple[Any, ...]:
        """A hashable identity, used to detect a token the API repeats."""
        return (self.url, tuple(sorted((k, repr(v)) for k, v in self.params.items())))


@dataclass(slots=True)
class Page:
    """One decoded response page.

    Attributes:
        url: The URL that was fetched (no credentials).
        status: The HTTP status.
        headers: Response headers (case-insensitive mapping from httpx).
        body: The decoded JSON document.
        content: The raw body bytes (compared by the loop check).
        records: The records extracted from ``body``: dicts (``form``
            ``"decoded"``), ``msgspec.Raw`` slices (``"raw"``), or structs of
            raw field values (``"shaped"``) when the stream reads raw.
        encoded: The records array as JSON bytes, when the reader had it.
        form: How ``records`` are held (above).
        extracted_at: When the response arrived (ISO 8601, UTC): the RECORD
            messages' ``time_extracted``.
        identity: What the loop check compares instead of ``content``, when a
            body carries parts that change on every answer (a GraphQL cost
            extension): ``None`` compares the whole body.
        key_values: The records' replication-key values, when the reader was
            asked for them (a stream read in time windows moves its bookmark by them).
    """

    url: str
    status: int
    headers: Mapping[str, str]
    body: Any
    content: bytes
    records: list[Any]
    encoded: Any = None
    form: PageForm = "decoded"
    extracted_at: str | None = None
    identity: Any = None
    key_values: list[Any] | None = None


class Paginator(ABC):
    """Decides the next request from the page just read.

    Args:
        has_more_path: Optional JSONPath to a boolean; an explicit false ends
            pagination whatever the paginator would otherwise do.
    """

    def __init__(self, *, has_more_path: str | None = None) -> None:
        self.has_more_path = has_more_path

    def first(self) -> PageRequest:
        """The first request's changes (none by default)."""
        return PageRequest()

    def next(self, page: Page, current: PageRequest) -> PageRequest | None:
        """The next request, or ``None`` after the last page."""
        if self.has_more_path is not None:
            flag = first_value(self.has_more_path, page.body)
            if flag is not None and not _truthy(flag):
                return None
        return self._next(page, current)

    def known_pages(self, page: Page, current: PageRequest) -> list[PageRequest] | None:
        """Every request after ``page`` when the first page tells how many there are.

        ``None`` (the default) means the pages must be walked one after the
        other (cursor, next URL, Link header, no total); a list, possibly
        empty, may be fetched in any order. Only asked about the first page.
        """
        return None

    @property
    def announces_pages(self) -> bool:
        """True when the first page can tell every other request (see :meth:`known_pages`)."""
        return False

    def total_of(self, page: Page) -> Any:
        """The size of the result set ``page`` reports (records, else pages); ``None`` if none.

        Pages read in any order are compared with the first page's: a total that
        changed means the set moved under the walk (a record changed or went),
        and page boundaries may have shifted.
        """
        return None

    def body_paths(self) -> tuple[str, ...]:
        """The JSONPaths :meth:`next` reads from a page body.

        A stream may decode only the top-level keys these paths start with (and
        its records), so a subclass that reads other body fields must list them.
        """
        return self._paths()

    def _paths(self, *extra: str | None) -> tuple[str, ...]:
        return tuple(p for p in (self.has_more_path, *extra) if p)

    @abstractmethod
    def _next(self, page: Page, current: PageRequest) -> PageRequest | None: ...


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"", "0", "false", "no", "n"}
    return bool(value)


class SinglePagePaginator(Paginator):
    """The endpoint has one page."""

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        return None


class PageNumberPaginator(Paginator):
    """``?page=N``: stops at a total-pages field, or on an empty page.

    Args:
        page_param: The page-number parameter.
        start_page: The first page's number.
        page_size_param: The page-size parameter, if the API takes one.
        page_size: The page size to ask for.
        total_pages_path: JSONPath to the number of pages; without it the
            paginator stops on the first empty page.
        total_path: JSONPath to the number of records, when the API gives it
            (only compared between pages read concurrently, see :meth:`total_of`).
        stop_on_short_page: Also stop when a page has fewer than ``page_size``
            records (saves the final empty request when the API honours the size).
    """

    def __init__(
        self,
        *,
        page_param: str = "page",
        start_page: int = 1,
        page_size_param: str | None = None,
        page_size: int | None = None,
        total_pages_path: str | None = None,
        stop_on_short_page: bool = False,
        has_more_path: str | None = None,
        total_path: str | None = None,
    ) -> None:
        super().__init__(has_more_path=has_more_path)
        self.total_path = total_path
        self.page_param = page_param
        self.start_page = start_page
        self.page_size_param = page_size_param
        self.page_size = page_size
        self.total_pages_path = total_pages_path
        self.stop_on_short_page = stop_on_short_page

    def body_paths(self) -> tuple[str, ...]:
        return self._paths(self.total_pages_path, self.total_path)

    @property
    def announces_pages(self) -> bool:
        return self.total_pages_path is not None and self.has_more_path is None

    def total_of(self, page: Page) -> Any:
        path = self.total_path or self.total_pages_path
        return first_value(path, page.body) if path else None

    def first(self) -> PageRequest:
        params: dict[str, Any] = {self.page_param: self.start_page}
        if self.page_size_param and self.page_size:
            params[self.page_size_param] = self.page_size
        return PageRequest(params)

    def known_pages(self, page: Page, current: PageRequest) -> list[PageRequest] | None:
        """Pages 2..N when ``total_pages_path`` gives N (and no ``has_more_path`` overrides it)."""
        if self.total_pages_path is None or self.has_more_path is not None:
            return None
        total = first_value(self.total_pages_path, page.body)
        if total is None:
            return None
        if not page.records:
            return []
        first = int(current.params[self.page_param])
        return [
            PageRequest({**current.params, self.page_param: number})
            for number in range(first + 1, self.start_page + int(total))
        ]

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        if not page.records:
            return None
        number = int(current.params[self.page_param])
        if self.total_pages_path is not None:
            total = first_value(self.total_pages_path, page.body)
            if total is not None and number - self.start_page + 1 >= int(total):
                return None
        if self.stop_on_short_page and self.page_size and len(page.records) < self.page_size:
            return None
        return PageRequest({**current.params, self.page_param: number + 1})


class OffsetPaginator(Paginator):
    """``?offset=N&limit=M``: advances by the records received.

    Advancing by what was received (not by ``limit``) stays correct when the
    API caps the page size below what was asked.

    Args:
        offset_param: The offset parameter.
        limit_param: The limit parameter.
        limit: The page size to ask for.
        total_path: JSONPath to the total record count; without it the
            paginator stops on the first empty page.
        stop_on_short_page: Also stop when a page has fewer than ``limit`` records.
    """

    def __init__(
        self,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        total_path: str | None = None,
        stop_on_short_page: bool = False,
        has_more_path: str | None = None,
    ) -> None:
        super().__init__(has_more_path=has_more_path)
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.total_path = total_path
        self.stop_on_short_page = stop_on_short_page

    def body_paths(self) -> tuple[str, ...]:
        return self._paths(self.total_path)

    @property
    def announces_pages(self) -> bool:
        return self.total_path is not None and self.has_more_path is None

    def total_of(self, page: Page) -> Any:
        return first_value(self.total_path, page.body) if self.total_path else None

    def first(self) -> PageRequest:
        return PageRequest({self.offset_param: 0, self.limit_param: self.limit})

    def known_pages(self, page: Page, current: PageRequest) -> list[PageRequest] | None:
        """Every further offset when ``total_path`` gives the count.

        Only when the first page was full: an API that caps the page size
        below ``limit`` must be walked by what it returns, one page at a time.
        """
        if self.total_path is None or self.has_more_path is not None:
            return None
        total = first_value(self.total_path, page.body)
        if total is None:
            return None
        received = len(page.records)
        if received == 0:
            return []
        if received < self.limit and int(total) > received:
            return None
        start = int(current.params[self.offset_param])
        return [
            PageRequest({**current.params, self.offset_param: offset})
            for offset in range(start + received, int(total), self.limit)
        ]

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        if not page.records:
            return None
        offset = int(current.params[self.offset_param]) + len(page.records)
        if self.total_path is not None:
            total = first_value(self.total_path, page.body)
            if total is not None and offset >= int(total):
                return None
        if self.stop_on_short_page and len(page.records) < self.limit:
            return None
        return PageRequest({**current.params, self.offset_param: offset})


class CursorPaginator(Paginator):
    """A cursor token read from the body by JSONPath, sent back as a parameter.

    Args:
        cursor_path: JSONPath to the next token; null or empty ends pagination.
        cursor_param: The parameter that carries the token.
    """

    def __init__(
        self, *, cursor_path: str, cursor_param: str = "cursor", has_more_path: str | None = None
    ) -> None:
        super().__init__(has_more_path=has_more_path)
        self.cursor_path = cursor_path
        self.cursor_param = cursor_param

    def body_paths(self) -> tuple[str, ...]:
        return self._paths(self.cursor_path)

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        token = first_value(self.cursor_path, page.body)
        if token is None or token == "":
            return None
        return PageRequest({**current.params, self.cursor_param: token})


class NextUrlPaginator(Paginator):
    """A next-page URL read from the body by JSONPath (relative URLs are resolved).

    Args:
        next_url_path: JSONPath to the URL; null or empty ends pagination.
    """

    def __init__(self, *, next_url_path: str, has_more_path: str | None = None) -> None:
        super().__init__(has_more_path=has_more_path)
        self.next_url_path = next_url_path

    def body_paths(self) -> tuple[str, ...]:
        return self._paths(self.next_url_path)

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        url = first_value(self.next_url_path, page.body)
        if not url:
            return None
        return PageRequest(url=urljoin(page.url, str(url)))


class LinkHeaderPaginator(Paginator):
    """The RFC 8288 ``Link`` header's ``rel="next"`` target.

    Args:
        rel: The relation to follow.
    """

    def __init__(self, *, rel: str = "next", has_more_path: str | None = None) -> None:
        super().__init__(has_more_path=has_more_path)
        self.rel = rel

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        header = page.headers.get("link")
        if not header:
            return None
        for link in parse_header_links(header):
            rels = link.get("rel", "").split()
            if self.rel in rels and link.get("url"):
                return PageRequest(url=urljoin(page.url, link["url"]))
        return None


class RelayPaginator(Paginator):
    """A Relay connection: ``pageInfo { hasNextPage endCursor }``, the cursor sent back.

    The cursor goes into the parameter (for GraphQL, the variable) named
    ``cursor_variable``; the first page is asked for without it. A page whose
    ``pageInfo`` is missing, or that says there is a next page without giving
    its cursor, is an error rather than the end: stopping there would drop
    the rest of the connection without a word.

    Args:
        page_info_path: JSONPath to the ``pageInfo`` object.
        cursor_variable: The variable that carries ``endCursor`` (``after``).
        stream: The stream name, for errors.
    """

    def __init__(
        self,
        *,
        page_info_path: str,
        cursor_variable: str = "after",
        stream: str = "",
        has_more_path: str | None = None,
    ) -> None:
        super().__init__(has_more_path=has_more_path)
        self.page_info_path = page_info_path
        self.cursor_variable = cursor_variable
        self.stream = stream

    def body_paths(self) -> tuple[str, ...]:
        return self._paths(self.page_info_path)

    def _next(self, page: Page, current: PageRequest) -> PageRequest | None:
        info = first_value(self.page_info_path, page.body)
        if not isinstance(info, Mapping):
            raise PaginationError(
                self.stream, page.url, f"no pageInfo object at {self.page_info_path}"
            )
        if not _truthy(info.get("hasNextPage")):
            return None
        cursor = info.get("endCursor")
        if cursor is None or cursor == "":
            raise PaginationError(
                self.stream, page.url, "pageInfo says hasNextPage but gives no endCursor"
            )
        return PageRequest({**current.params, self.cursor_variable: cursor})


class PaginationGuard:
    """The safety net: no repeated token, no identical page twice, at most ``max_pages``.

    Args:
        stream: The stream name, for error messages.
        max_pages: The cap on pages read (``None`` for no cap).
        on_max_pages: ``"fail"`` raises :class:`MaxPagesExceededError` when the
            API still has pages at the cap; ``"stop"`` ends the stream there.
    """

    def __init__(
        self,
        stream: str,
        max_pages: int | None,
        on_max_pages: Literal["fail", "stop"] = "fail",
    ) -> None:
        self.stream = stream
        self.max_pages = max_pages
        self.on_max_pages = on_max_pages
        self.pages = 0
        self._seen: set[tuple[Any, ...]] = set()
        self._previous: Any = None
        self.capped = False

    def start(self, request: PageRequest) -> None:
        """Remember the first request's token."""
        self._seen.add(request.key())

    def check(self, page: Page, following: PageRequest | None) -> PageRequest | None:
        """Check one page and the request that would follow it.

        Returns:
            The request to make next, or ``None`` to stop.

        Raises:
            PaginationLoopError: the body repeats the previous page, or the next
                token was already used.
            MaxPagesExceededError: the cap was reached with ``on_max_pages="fail"``.
        """
        self.check_known(page)
        if following is None:
            return None
        key = following.key()
        if key in self._seen:
            raise PaginationLoopError(
                self.stream, page.url, f"pagination token repeated ({_show(following)})"
            )
        self._seen.add(key)
        if self.max_pages is not None and self.pages >= self.max_pages:
            if self.on_max_pages == "stop":
                self.capped = True
                return None
            raise MaxPagesExceededError(
                self.stream, page.url, f"max_pages={self.max_pages} reached with pages left"
            )
        return following

    def plan(self, page: Page, known: list[PageRequest]) -> list[PageRequest]:
        """Check the first page and the requests it announces, read in any order.

        Returns:
            The requests to make (cut at ``max_pages`` with ``on_max_pages="stop"``).

        Raises:
            MaxPagesExceededError: more pages than ``max_pages`` with ``on_max_pages="fail"``.
        """
        self.pages += 1
        self._previous = _identity(page)
        if self.max_pages is not None and self.pages + len(known) > self.max_pages:
            if self.on_max_pages == "stop":
                self.capped = True
                return known[: max(0, self.max_pages - self.pages)]
            raise MaxPagesExceededError(
                self.stream, page.url, f"max_pages={self.max_pages} reached with pages left"
            )
        return known

    def check_known(self, page: Page) -> None:
        """Count a page and check it is not a copy of the page before it (every page
        :meth:`next` sees, and those :meth:`plan` announced).

        Raises:
            PaginationLoopError: the body repeats the previous page's.
        """
        self.pages += 1
        seen = _identity(page)
        if page.records and self._previous is not None and seen == self._previous:
            raise PaginationLoopError(
                self.stream, page.url, "page body identical to the previous page"
            )
        self._previous = seen


def _identity(page: Page) -> Any:
    """What the loop check compares: the page's ``identity``, else its whole body."""
    return page.content if page.identity is None else page.identity


def _show(request: PageRequest) -> str:
    if request.url is not None:
        return request.url
    return ", ".join(f"{k}={v}" for k, v in request.params.items())


PaginatorType = Literal[
    "none", "page_number", "offset", "cursor", "next_url", "link_header", "relay"
]


def build_paginator(options: Mapping[str, Any], page_size: int, stream: str = "") -> Paginator:
    """Build a paginator from a stream's ``paginator`` settings.

    Args:
        options: ``{"type": ..., <options>}``; see :doc:`docs/tap.md` for each type.
        page_size: The tap's page size, used when the options give none.
        stream: The stream's name, for the errors a paginator raises itself.

    Raises:
        ValueError: unknown type or a missing required option.
    """
    kind = options.get("type", "none")
    has_more = options.get("has_more_path")
    size = int(options.get("page_size") or page_size)
    if kind == "none":
        return SinglePagePaginator(has_more_path=has_more)
    if kind == "page_number":
        return PageNumberPaginator(
            page_param=options.get("page_param", "page"),
            start_page=int(options.get("start_page", 1)),
            page_size_param=options.get("page_size_param"),
            page_size=size,
            total_pages_path=options.get("total_pages_path"),
            stop_on_short_page=bool(options.get("stop_on_short_page", False)),
            has_more_path=has_more,
            total_path=options.get("total_path"),
        )
    if kind == "offset":
        return OffsetPaginator(
            offset_param=options.get("offset_param", "offset"),
            limit_param=options.get("limit_param", "limit"),
            limit=size,
            total_path=options.get("total_path"),
            stop_on_short_page=bool(options.get("stop_on_short_page", False)),
            has_more_path=has_more,
        )
    if kind == "cursor":
        if not options.get("cursor_path"):
            raise ValueError("paginator type 'cursor' needs 'cursor_path'")
        return CursorPaginator(
            cursor_path=options["cursor_path"],
            cursor_param=options.get("cursor_param", "cursor"),
            has_more_path=has_more,
        )
    if kind == "next_url":
        if not options.get("next_url_path"):
            raise ValueError("paginator type 'next_url' needs 'next_url_path'")
        return NextUrlPaginator(next_url_path=options["next_url_path"], has_more_path=has_more)
    if kind == "link_header":
        return LinkHeaderPaginator(rel=options.get("rel", "next"), has_more_path=has_more)
    if kind == "relay":
        if not options.get("page_info_path"):
            raise ValueError("paginator type 'relay' needs 'page_info_path'")
        return RelayPaginator(
            page_info_path=options["page_info_path"],
            cursor_variable=options.get("cursor_variable") or "after",
            stream=stream,
            has_more_path=has_more,
        )
    raise ValueError(
        f"unknown paginator type {kind!r} "
        "(expected none, page_number, offset, cursor, next_url, link_header or relay)"
    )
