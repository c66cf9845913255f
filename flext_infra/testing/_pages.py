"""Rendering pages: query parsing, views into a table, every paginator style, cursors.

Nothing here knows about sockets; the server in ``_server.py`` asks for a
:class:`Rendered` page and sends its bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

import msgspec

from flext_infra.testing._data import EntitySpec, RecordContext, Table, parse_ts

FILTER_OPS = ("gte", "gt", "lte", "lt")
MAX_PAGE_SIZE = 10_000
ENCODER = msgspec.json.Encoder()


class ApiError(Exception):
    """An error answer (status and message) raised while handling a request."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Rendered:
    """A rendered answer: body, its ETag and Last-Modified, extra headers, next query."""

    __slots__ = ("body", "etag", "headers", "last_modified", "next_query")

    def __init__(
        self,
        body: bytes,
        last_modified: str | None,
        headers: dict[str, str] | None = None,
        next_query: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        self.last_modified = last_modified
        self.headers = headers or {}
        #: The query of the following page, as a client following the links sends it.
        self.next_query = next_query


class PageCache:
    """A size-bounded LRU of rendered pages (bytes), safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Rendered | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, value: Rendered) -> None:
        if len(value.body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = value
            self._bytes += len(value.body)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


def _int_param(query: dict[str, str], name: str, default: int, lo: int, hi: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name} must be {bound}")
    return value


_RESERVED = {
    "page",
    "page_size",
    "page_mode",
    "per_page",
    "limit",
    "offset",
    "cursor",
    "ordering",
    "fields",
    "has_more",
}


def parse_query(
    spec: EntitySpec, query: dict[str, str]
) -> tuple[tuple[tuple[str, str, int | str], ...], str, tuple[str, ...] | None]:
    """Filters, ordering and field list from the query (400 on anything unknown).

    Besides id and time filters, ``<fk>__code=<value>`` keeps the records whose
    foreign key has that code, as LGF's related-field filters do (on the
    company and facility of ``allocation`` and ``order_hdr``).
    """
    names = spec.field_names
    filters: list[tuple[str, str, int | str]] = []
    for key, raw in query.items():
        if key in _RESERVED:
            continue
        field, _, op = key.partition("__")
        op = op or "eq"
        if op == "code" and field in spec.codes:
            filters.append((field, op, raw))
            continue
        if field not in names or op not in (*FILTER_OPS, "eq"):
            raise ApiError(400, f"unsupported query parameter {key!r}")
        try:
            value = int(raw) if field == "id" else parse_ts(raw)
        except ValueError:
            raise ApiError(400, f"{key}: cannot parse {raw!r}") from None
        filters.append((field, op, value))
    ordering = query.get("ordering") or "id"
    # Several fields, comma-separated (LGF: ``ordering=mod_ts,id``): later ones break ties.
    if any(part.strip().lstrip("-") not in names for part in ordering.split(",")):
        raise ApiError(400, f"unsupported ordering {ordering!r}")
    fields: tuple[str, ...] | None = None
    if query.get("fields"):
        wanted = [f.strip() for f in query["fields"].split(",") if f.strip()]
        unknown = [f for f in wanted if f not in names]
        if unknown:
            raise ApiError(400, f"unknown fields {unknown}")
        fields = tuple(f for f in names if f in wanted)
    return tuple(sorted(filters)), ordering, fields


def _encode_cursor(key: Any, ordering: str) -> str:
    raw = ENCODER.encode([ordering, key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str, ordering: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        got_ordering, key = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ApiError(400, "invalid cursor") from None
    if got_ordering != ordering:
        raise ApiError(400, "cursor was made for another ordering")
    return tuple(key) if isinstance(key, list) else key


def build_page(
    table: Table,
    view: Sequence[int],
    ctx: RecordContext,
    base_url: str,
    path: str,
    query: dict[str, str],
    style: str,
    filters: tuple[tuple[str, str, int | str], ...],
    ordering: str,
    fields: tuple[str, ...] | None,
) -> Rendered:
    """One page of ``view`` in a paginator ``style``, with its links and next query."""
    total = len(view)
    size_param = (
        "page_size"
        if style == "wms"
        else ("limit" if style in ("offset", "cursor", "next_url") else "per_page")
    )
    size = _int_param(query, size_param, 100, 1, MAX_PAGE_SIZE)
    sequenced = style == "wms" and query.get("page_mode") == "sequenced"
    cursor_style = sequenced or style in ("cursor", "next_url")
    keyfn = table.sort_key(ordering)
    headers: dict[str, str] = {}

    if cursor_style:
        start = 0
        token = query.get("cursor")
        if token:
            last = _decode_cursor(token, ordering)
            start = bisect_right(view, last, key=keyfn)
        page_nbr = 0
    elif style == "offset":
        start = _int_param(query, "offset", 0, 0, None)
        page_nbr = 0
    else:
        page_nbr = _int_param(query, "page", 1, 1, None)
        start = (page_nbr - 1) * size
        if start >= total and page_nbr > 1:
            raise ApiError(404, "Invalid page.")
    ids = view[start : start + size]
    more = start + len(ids) < total
    records = [table.record(i, ctx) for i in ids]
    if fields is not None:
        records = [{k: r[k] for k in fields} for r in records]
    pages = math.ceil(total / size)

    def url(**changes: Any) -> str:
        params = {k: v for k, v in query.items() if k not in ("page", "cursor", "offset")}
        params.update({k: str(v) for k, v in changes.items()})
        return f"{base_url}{path}?{urlencode(params)}"

    next_cursor = _encode_cursor(keyfn(ids[-1]), ordering) if (ids and more) else None
    body: Any
    if style == "wms":
        if sequenced:
            body = {
                "next_page": url(cursor=next_cursor) if next_cursor else None,
                "previous_page": None,
                "results": records,
            }
        else:
            body = {
                "result_count": total,
                "page_count": pages,
                "page_nbr": page_nbr,
                "next_page": url(page=page_nbr + 1) if more else None,
                "previous_page": url(page=page_nbr - 1) if page_nbr > 1 else None,
                "results": records,
            }
    elif style == "page":
        body = {
            "data": records,
            "page": page_nbr,
            "per_page": size,
            "total_pages": pages,
            "total": total,
        }
    elif style == "offset":
        body = {"data": records, "offset": start, "limit": size, "total": total}
    elif style == "cursor":
        body = {"data": records, "next_cursor": next_cursor}
    elif style == "next_url":
        body = {"data": records, "next": url(cursor=next_cursor) if next_cursor else None}
    elif style == "has_more":
        body = {"data": records, "page": page_nbr, "has_more": more}
    else:  # link
        body = records
        links = [f'<{url(page=1)}>; rel="first"', f'<{url(page=max(pages, 1))}>; rel="last"']
        if more:
            links.insert(0, f'<{url(page=page_nbr + 1)}>; rel="next"')
        if page_nbr > 1:
            links.insert(0, f'<{url(page=page_nbr - 1)}>; rel="prev"')
        headers["Link"] = ", ".join(links)
    if isinstance(body, dict) and query.get("has_more") in ("1", "true") and style != "has_more":
        body["has_more"] = more
    next_query: dict[str, str] | None = None
    if more:
        follow = {k: v for k, v in query.items() if k not in ("page", "cursor", "offset")}
        if cursor_style:
            next_query = {**follow, "cursor": str(next_cursor)}
        elif style == "offset":
            next_query = {**follow, "offset": str(start + size)}
        else:
            next_query = {**follow, "page": str(page_nbr + 1)}
    last_modified = formatdate(table.max_mod_us / 1_000_000, usegmt=True)
    return Rendered(ENCODER.encode(body), last_modified, headers, next_query)
