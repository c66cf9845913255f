"""Paginators and the safety net, as pure logic over simulated pages (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_flext_api import (
    CursorPaginator,
    LinkHeaderPaginator,
    MaxPagesExceededError,
    NextUrlPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    PaginationGuard,
    PaginationLoopError,
    Paginator,
    build_paginator,
)


def _page(body: Any, records: list[Any], url: str = "http://x/items", **headers: str) -> Page:
    return Page(url, 200, headers, body, repr(body).encode(), records)


def walk(
    paginator: Paginator,
    serve: Callable[[PageRequest], Page],
    max_pages: int | None = 10_000,
) -> tuple[list[Any], int]:
    """Drive a paginator against a simulated API; return the records and the page count."""
    guard = PaginationGuard("items", max_pages)
    request: PageRequest | None = paginator.first()
    guard.start(request)
    records: list[Any] = []
    while request is not None:
        page = serve(request)
        records.extend(page.records)
        request = guard.check(page, paginator.next(page, request))
    return records, guard.pages


sizes = st.integers(min_value=0, max_value=2_000)
page_sizes = st.integers(min_value=1, max_value=300)


@settings(deadline=None, max_examples=50)
@given(total=sizes, size=page_sizes)
def test_page_number_with_total_pages_reads_each_record_once(total: int, size: int) -> None:
    """Page numbers stop at the total-pages field and read every record exactly once."""
    data = list(range(total))

    def serve(request: PageRequest) -> Page:
        n = request.params["page"]
        chunk = data[(n - 1) * size : n * size]
        return _page({"data": chunk, "total_pages": math.ceil(total / size)}, chunk)

    paginator = PageNumberPaginator(page_size=size, total_pages_path="$.total_pages")
    records, pages = walk(paginator, serve)
    assert records == data
    assert pages == max(1, math.ceil(total / size))


@settings(deadline=None, max_examples=50)
@given(total=sizes, size=page_sizes)
def test_page_number_stops_on_empty_page(total: int, size: int) -> None:
    """Without a total, page numbers stop on the first empty page."""
    data = list(range(total))

    def serve(request: PageRequest) -> Page:
        n = request.params["page"]
        chunk = data[(n - 1) * size : n * size]
        return _page({"data": chunk, "page": n}, chunk)

    records, pages = walk(PageNumberPaginator(page_size=size), serve)
    assert records == data
    assert pages == math.ceil(total / size) + 1


@settings(deadline=None, max_examples=50)
@given(total=sizes, limit=page_sizes, cap=st.integers(min_value=1, max_value=300))
def test_offset_advances_by_records_received(total: int, limit: int, cap: int) -> None:
    """Offset paging is exact even when the API returns fewer records than the limit asked."""
    data = list(range(total))

    def serve(request: PageRequest) -> Page:
        offset, asked = request.params["offset"], request.params["limit"]
        chunk = data[offset : offset + min(asked, cap)]
        return _page({"data": chunk, "total": total}, chunk)

    records, _ = walk(OffsetPaginator(limit=limit, total_path="$.total"), serve)
    assert records == data
    records, _ = walk(OffsetPaginator(limit=limit), serve)
    assert records == data


@settings(deadline=None, max_examples=50)
@given(total=sizes, size=page_sizes)
def test_cursor_and_next_url_follow_tokens_to_the_end(total: int, size: int) -> None:
    """Cursor and next-URL paginators follow tokens until the API sends none."""
    data = list(range(total))

    def chunk_at(start: int) -> tuple[list[int], int | None]:
        chunk = data[start : start + size]
        return chunk, (start + size if start + size < total else None)

    def serve_cursor(request: PageRequest) -> Page:
        chunk, nxt = chunk_at(int(request.params.get("cursor", 0)))
        return _page({"data": chunk, "next_cursor": nxt and str(nxt)}, chunk)

    def serve_url(request: PageRequest) -> Page:
        start = int(request.url.rsplit("=", 1)[1]) if request.url else 0
        chunk, nxt = chunk_at(start)
        return _page({"data": chunk, "next": nxt and f"/items?start={nxt}"}, chunk)

    records, _ = walk(CursorPaginator(cursor_path="$.next_cursor"), serve_cursor)
    assert records == data
    records, _ = walk(NextUrlPaginator(next_url_path="$.next"), serve_url)
    assert records == data


def test_next_url_resolves_relative_links() -> None:
    """A relative next URL is resolved against the page's own URL."""
    paginator = NextUrlPaginator(next_url_path="$.next")
    page = _page({"next": "?page=2"}, [1], url="http://h:1/api/items?page=1")
    assert paginator.next(page, PageRequest()) == PageRequest(url="http://h:1/api/items?page=2")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<http://h/i?page=2>; rel="next", <http://h/i?page=9>; rel="last"', "http://h/i?page=2"),
        ('<http://h/i?page=1>; rel="prev first"', None),
        ('</i?page=3>; rel="last next"', "http://h/i?page=3"),
        ("", None),
    ],
)
def test_link_header_follows_rel_next(header: str, expected: str | None) -> None:
    """The RFC 8288 Link header's rel=next target is followed (multi-rel values included)."""
    page = _page([1], [1], "http://h/i?page=1", link=header)
    result = LinkHeaderPaginator().next(page, PageRequest())
    assert (result.url if result else None) == expected


@pytest.mark.parametrize(
    ("flag", "stops"), [(False, True), ("false", True), (True, False), (None, False)]
)
def test_has_more_false_ends_pagination(flag: Any, stops: bool) -> None:
    """An explicit has_more=false ends pagination; true or absent leaves the paginator to decide."""
    paginator = PageNumberPaginator(has_more_path="$.has_more")
    body = {"data": [1], "has_more": flag} if flag is not None else {"data": [1]}
    nxt = paginator.next(_page(body, [1]), paginator.first())
    assert (nxt is None) is stops


@settings(deadline=None, max_examples=50)
@given(tokens=st.lists(st.integers(0, 20), min_size=2, max_size=30))
def test_repeated_token_is_an_error_naming_stream_and_url(tokens: list[int]) -> None:
    """The guard raises on the first token seen before, naming the stream and the URL."""
    guard = PaginationGuard("items", None)
    guard.start(PageRequest({"cursor": "start"}))
    seen: set[int] = set()
    for index, token in enumerate(tokens):
        page = _page({"n": index}, [index], url=f"http://h/items?i={index}")
        if token in seen:
            with pytest.raises(PaginationLoopError, match=r"stream 'items'.*http://h/items\?i="):
                guard.check(page, PageRequest({"cursor": token}))
            return
        seen.add(token)
        guard.check(page, PageRequest({"cursor": token}))


def test_identical_page_body_is_an_error() -> None:
    """Two consecutive identical non-empty pages are a loop, even with fresh tokens."""
    guard = PaginationGuard("items", None)
    guard.check(_page({"data": [1]}, [1]), PageRequest({"page": 2}))
    with pytest.raises(PaginationLoopError, match="identical"):
        guard.check(_page({"data": [1]}, [1]), PageRequest({"page": 3}))


@pytest.mark.parametrize(
    ("on_max", "outcome"),
    [("fail", pytest.raises(MaxPagesExceededError, match="max_pages=3")), ("stop", None)],
)
def test_max_pages_caps_every_stream(on_max: Any, outcome: Any) -> None:
    """max_pages fails (or stops, when asked) a stream that still has pages."""
    paginator = PageNumberPaginator()

    def serve(request: PageRequest) -> Page:
        n = request.params["page"]
        return _page({"data": [n]}, [n])

    if outcome is None:
        guard = PaginationGuard("items", 3, on_max)
        request: PageRequest | None = paginator.first()
        count = 0
        while request is not None:
            page = serve(request)
            count += 1
            request = guard.check(page, paginator.next(page, request))
        assert (count, guard.capped) == (3, True)
    else:
        with outcome:
            walk(paginator, serve, max_pages=3)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"type": "none"}, "SinglePagePaginator"),
        ({"type": "page_number", "total_pages_path": "$.t"}, "PageNumberPaginator"),
        ({"type": "offset"}, "OffsetPaginator"),
        ({"type": "cursor", "cursor_path": "$.c"}, "CursorPaginator"),
        ({"type": "next_url", "next_url_path": "$.n"}, "NextUrlPaginator"),
        ({"type": "link_header"}, "LinkHeaderPaginator"),
        ({"type": "cursor"}, pytest.raises(ValueError, match="cursor_path")),
        ({"type": "bogus"}, pytest.raises(ValueError, match="unknown paginator type")),
    ],
)
def test_build_paginator_from_settings(options: dict[str, Any], expected: Any) -> None:
    """Paginator settings build the right paginator, and bad ones fail naming the option."""
    if isinstance(expected, str):
        assert type(build_paginator(options, 100)).__name__ == expected
    else:
        with expected:
            build_paginator(options, 100)


class _ReadKeys(dict[str, Any]):
    """A page body that records which of its keys were read."""

    def __init__(self, **items: Any) -> None:
        super().__init__(**items)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize(
    ("options", "declared"),
    [
        ({"type": "page_number", "total_pages_path": "$.meta.pages"}, {"meta"}),
        ({"type": "page_number", "has_more_path": "$.more"}, {"more"}),
        ({"type": "offset", "total_path": "$.total"}, {"total"}),
        ({"type": "cursor", "cursor_path": "$.next.token", "has_more_path": "$.more"},
         {"next", "more"}),
        ({"type": "next_url", "next_url_path": "$.links.next"}, {"links"}),
        ({"type": "link_header"}, set()),
        ({"type": "none"}, set()),
    ],
)  # fmt: skip
def test_paginators_read_only_the_body_keys_they_declare(
    options: dict[str, Any], declared: set[str]
) -> None:
    """``body_paths`` lists every body key ``next`` reads (a one-pass reader decodes only those)."""
    paginator = build_paginator(options, 10)
    assert {path.split(".")[1] for path in paginator.body_paths()} == declared
    body = _ReadKeys(
        data=[{"id": 1}], meta={"pages": 3}, more=True, total=9, next={"token": "t"},
        links={"next": "/p2"}, other={"unread": 1},
    )  # fmt: skip
    paginator.next(_page(body, body["data"]), paginator.first())
    body.read.discard("data")  # the test's own read above
    assert body.read == declared
