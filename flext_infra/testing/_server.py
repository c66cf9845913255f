"""The sample API: a real threaded HTTP server on 127.0.0.1 with WMS and generic modes.

The stdlib ``ThreadingHTTPServer`` is enough here: one page carries hundreds
or thousands of records, so the per-request cost of the stdlib parser is
small next to rendering. Rendered pages (body and ETag) are kept in an LRU
keyed by the data version, so a repeated read is a dictionary lookup and the
server is not the bottleneck of a benchmark.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import math
import random
import secrets
import socket
import sys
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec

from flext_infra.testing._data import (
    ENTITIES,
    GENERIC_ENTITY,
    EntitySpec,
    RecordContext,
    Table,
    parse_ts,
)
from flext_infra.testing._faults import Faults, RequestRecord

WMS_PREFIX = "/wms/lgfapi/v10/entity/"
GENERIC_PREFIX = "/generic/"
#: Paginator styles served under ``/generic/{mode}/items``.
GENERIC_MODES = ("page", "offset", "cursor", "next_url", "link", "has_more")
_EXEMPT = ("/health", "/oauth/token")
_FILTER_OPS = ("gte", "gt", "lte", "lt")
_MAX_PAGE_SIZE = 10_000
_ENCODER = msgspec.json.Encoder()


class ApiError(Exception):
    """An error answer (status and message) raised while handling a request."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _Rendered:
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


class _Lru:
    """A size-bounded LRU of rendered pages (bytes), safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, _Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> _Rendered | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, value: _Rendered) -> None:
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


class RequestLog:
    """Every request the server answered, in order (thread-safe, read-only to tests)."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        with self._lock:
            return iter(list(self._records))

    def __getitem__(self, index: int) -> RequestRecord:
        return self._records[index]

    @property
    def count(self) -> int:
        """How many requests were answered."""
        return len(self._records)

    def matching(self, path_prefix: str = "", method: str | None = None) -> list[RequestRecord]:
        """The requests whose path starts with ``path_prefix`` (and of ``method``, if given)."""
        with self._lock:
            return [
                r
                for r in self._records
                if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    def clear(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            self._records.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away (dropped on purpose, or after a timeout)."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        """Cut every keep-alive connection so its handler thread ends."""
        with self.sockets_lock:
            open_now = list(self.open_sockets)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SampleApi:
    """The sample REST API on 127.0.0.1: Oracle WMS LGF v10 shape, generic paginators, faults.

    Use it as a context manager::

        with SampleApi(records=1000, username="u", password="p") as api:
            httpx.get(api.base_url + "/wms/lgfapi/v10/entity/allocation/", auth=("u", "p"))

    Args:
        records: Records per WMS entity (``allocation``, ``order_hdr``, ``order_dtl``)
            and in the generic ``items`` dataset.
        counts: Per-entity counts that override ``records`` (keys: the WMS entity
            names and ``items``).
        port: 0 picks a free port.
        username: Basic auth user; ``None`` (with no other credential) means no auth.
        password: Basic auth password.
        oauth_clients: ``{client_id: client_secret}`` allowed at ``POST /oauth/token``;
            the tokens it issues are accepted as ``Bearer`` credentials.
        api_key: ``(name, value)``: accepted as a header or a query parameter.
        bearer_token: A fixed token accepted as ``Authorization: Bearer ...``.
        token_ttl_s: Lifetime of issued OAuth2 tokens.
        faults: Initial fault injection.
        cache_max_bytes: Bound of the rendered-page cache.
        read_ahead: Render the next page of a walk in the background while the
            client reads the current one.
    """

    def __init__(
        self,
        *,
        records: int = 100,
        counts: dict[str, int] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        username: str | None = None,
        password: str | None = None,
        oauth_clients: dict[str, str] | None = None,
        api_key: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        token_ttl_s: float = 3600.0,
        faults: Faults | None = None,
        cache_max_bytes: int = 256 * 1024 * 1024,
        read_ahead: bool = True,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sample API only listens on loopback")
        counts = dict(counts or {})
        unknown = set(counts) - {*ENTITIES, GENERIC_ENTITY.name}
        if unknown:
            raise ValueError(f"unknown entities in counts: {sorted(unknown)}")
        self.tables: dict[str, Table] = {
            name: Table(spec, counts.get(name, records)) for name, spec in ENTITIES.items()
        }
        self.tables[GENERIC_ENTITY.name] = Table(
            GENERIC_ENTITY, counts.get(GENERIC_ENTITY.name, records)
        )
        self.requests = RequestLog()
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._basic = (
            "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            if username is not None
            else None
        )
        self._oauth_clients = dict(oauth_clients or {})
        self._api_key = api_key
        self._bearer_token = bearer_token
        self._token_ttl_s = token_ttl_s
        self._tokens: dict[str, float] = {}
        self._faults = faults or Faults()
        self._fault_lock = threading.Lock()
        self._rng = random.Random(self._faults.seed)
        self._window: tuple[float, int] = (0.0, 0)
        self._pages = _Lru(cache_max_bytes)
        self._inflight: dict[Any, threading.Event] = {}
        self._inflight_lock = threading.Lock()
        self._read_ahead_enabled = read_ahead
        self._executor: ThreadPoolExecutor | None = None
        self._views: OrderedDict[Any, Sequence[int]] = OrderedDict()
        self._views_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.tokens_issued = 0
        self._ctx: RecordContext | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SampleApi:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        handler = type("SampleApiHandler", (_Handler,), {"api": self})
        self._server = _Server((self._host, self._port), handler)
        self._start_executor()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sample-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in this thread until interrupted (the CLI's foreground mode)."""
        handler = type("SampleApiHandler", (_Handler,), {"api": self})
        self._server = _Server((self._host, self._port), handler)
        self._start_executor()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.close_open_connections()
            self._server.server_close()
            self._server = None
            self._stop_executor()

    def _start_executor(self) -> None:
        if self._read_ahead_enabled and self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="sample-api-ahead"
            )

    def _stop_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def wait(self) -> None:
        """Block until the server stops (or the caller is interrupted)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Stop serving, cut open connections and release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        self._stop_executor()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SampleApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the sample API is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def wms_url(self) -> str:
        """The base of the WMS entity endpoints, with a trailing slash."""
        return self.base_url + WMS_PREFIX

    # ------------------------------------------------------------------ data changes
    def add_records(self, entity: str, n: int) -> list[int]:
        """Append ``n`` records with the newest ``mod_ts``; returns their ids."""
        return self._table(entity).add(n)

    def modify_records(
        self, entity: str, n: int = 1, ids: Sequence[int] | None = None
    ) -> list[int]:
        """Give ``n`` records (or the given ids) a new revision and a newer ``mod_ts``."""
        return self._table(entity).modify(n, ids)

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        """One record as the API serves it now."""
        table = self._table(entity)
        if not 1 <= record_id <= table.count:
            raise KeyError(f"{entity}: no record with id {record_id}")
        return table.record(record_id, self._context())

    def count(self, entity: str) -> int:
        """How many records ``entity`` has."""
        return self._table(entity).count

    def _table(self, entity: str) -> Table:
        try:
            return self.tables[entity]
        except KeyError:
            raise KeyError(f"unknown entity {entity!r}") from None

    def _context(self) -> RecordContext:
        prefix = self.base_url + WMS_PREFIX if self._server is not None else WMS_PREFIX
        counts = {n: t.count for n, t in self.tables.items()}
        ctx = self._ctx
        # Reused while nothing changed, so its shared foreign-key objects stay built.
        if ctx is None or ctx.entity_url != prefix or ctx.counts != counts:
            ctx = self._ctx = RecordContext(prefix, counts)
        return ctx

    # ------------------------------------------------------------------ faults & auth
    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the fault settings: ``set_faults(fail_next=2)`` or ``set_faults(Faults(...))``.

        Fields not given go back to their defaults (no faults).
        """
        valid = {f.name for f in dataclass_fields(Faults)}
        bad = set(changes) - valid
        if bad:
            raise TypeError(f"unknown fault settings: {sorted(bad)}")
        with self._fault_lock:
            self._faults = replace(faults or Faults(), **changes)
            self._rng = random.Random(self._faults.seed)
            self._window = (0.0, 0)
            return self._faults

    @property
    def faults(self) -> Faults:
        """The fault settings in force (counters show what is left)."""
        return self._faults

    def revoke_tokens(self) -> None:
        """Invalidate every OAuth2 token issued so far (the next use gets a 401)."""
        with self._fault_lock:
            self._tokens.clear()

    def _issue_token(self) -> str:
        token = "tok-" + secrets.token_urlsafe(24)
        with self._fault_lock:
            self._tokens[token] = time.monotonic() + self._token_ttl_s
            self.tokens_issued += 1
        return token

    @property
    def auth_required(self) -> bool:
        """True when some credential is configured."""
        return bool(self._basic or self._oauth_clients or self._api_key or self._bearer_token)

    def _authorized(self, headers: Any, query: dict[str, str]) -> bool:
        if not self.auth_required:
            return True
        header = headers.get("Authorization") or ""
        if self._basic is not None and secrets.compare_digest(header, self._basic):
            return True
        if (
            header.startswith("Bearer ")
            and self._bearer_token is not None
            and secrets.compare_digest(header[7:], self._bearer_token)
        ):
            return True
        if header.startswith("Bearer ") and self._oauth_clients:
            expires = self._tokens.get(header[7:])
            if expires is not None and expires > time.monotonic():
                return True
        if self._api_key is not None:
            name, value = self._api_key
            given = headers.get(name) or query.get(name) or ""
            if given and secrets.compare_digest(given, value):
                return True
        return False

    def _pick_fault(self, path: str) -> tuple[str, dict[str, str]] | None:
        """Decide (under the lock) which fault, if any, this request gets."""
        with self._fault_lock:
            f = self._faults
            if f.outage:
                return f"status:{f.outage_status}", {}
            if f.paths:
                if not path.startswith(f.paths):
                    return None
            elif path.startswith(_EXEMPT):
                return None
            if f.fail_next > 0:
                f.fail_next -= 1
                return f"status:{f.fail_status}", {}
            if f.rate_limit_next > 0:
                f.rate_limit_next -= 1
                return "status:429", {"Retry-After": self._retry_after_value(f)}
            if f.server_rate_limit is not None:
                limited = self._fixed_window(f.server_rate_limit)
                if limited is not None:
                    return limited
            if f.error_ratio > 0 and self._rng.random() < f.error_ratio:
                return f"status:{self._rng.choice(f.error_statuses)}", {}
            if f.unauthorized_next > 0:
                f.unauthorized_next -= 1
                return "status:401", {"WWW-Authenticate": 'Bearer realm="sample"'}
            if f.drop_next > 0:
                f.drop_next -= 1
                return "drop", {}
            if f.truncate_next > 0:
                f.truncate_next -= 1
                return "truncate", {}
            return None

    @staticmethod
    def _retry_after_value(f: Faults) -> str:
        if f.retry_after_form == "date":
            return formatdate(time.time() + f.retry_after, usegmt=True)
        return str(math.ceil(f.retry_after))

    def _fixed_window(self, limit_window: tuple[int, float]) -> tuple[str, dict[str, str]] | None:
        limit, window = limit_window
        now = time.monotonic()
        start, used = self._window
        if now - start >= window:
            start, used = now, 0
        used += 1
        self._window = (start, used)
        reset = max(0.0, window - (now - start))
        remaining = max(0, limit - used)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{math.ceil(reset)}",
            "RateLimit-Policy": f'"default";q={limit};w={math.ceil(window)}',
            "RateLimit": f'"default";r={remaining};t={math.ceil(reset)}',
        }
        if used > limit:
            headers["Retry-After"] = str(math.ceil(reset))
            return "status:429", headers
        # Not limited: the headers still go out with the normal response.
        self._pending_rate_headers.value = headers
        return None

    _pending_rate_headers = threading.local()

    # ------------------------------------------------------------------ rendering
    def _view(self, table: Table, filters: tuple[tuple[str, str, int], ...], ordering: str) -> Any:
        key = (table.spec.name, table.version, filters, ordering)
        with self._views_lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        try:
            view = table.view(filters, ordering)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        with self._views_lock:
            self._views[key] = view
            while len(self._views) > 32:
                self._views.popitem(last=False)
        return view

    def render(self, path: str, query: dict[str, str]) -> _Rendered:
        """Render (or fetch from the page cache) the answer to a GET."""
        if path == "/health":
            return _Rendered(_ENCODER.encode({"status": "ok"}), None)
        if path.startswith(WMS_PREFIX):
            return self._render_wms(path[len(WMS_PREFIX) :], query)
        if path.startswith(GENERIC_PREFIX):
            return self._render_generic(path[len(GENERIC_PREFIX) :], query)
        raise ApiError(404, "Not found.")

    def prerender(self, path: str, query: dict[str, str] | None = None) -> int:
        """Render every page of a paginated GET ahead of time; returns the page count.

        Follows the pagination from the first page the way a client following
        the links would, and keeps each page in the page cache, so a benchmark
        that then sends the same queries (in any parameter order) is served
        from memory. Pages are dropped from the cache as soon as the data changes.
        """
        if self._server is None:
            raise RuntimeError("start the sample API before pre-rendering")
        pages = 0
        params: dict[str, str] | None = dict(query or {})
        while params is not None:
            pages += 1
            params = self.render(path, params).next_query
        return pages

    def _cached(self, key: Any, build: Callable[[], _Rendered]) -> _Rendered:
        """The cached page, or build it once: concurrent askers wait for one build."""
        found = self._pages.get(key)
        if found is not None:
            return found
        with self._inflight_lock:
            event = self._inflight.get(key)
            owner = event is None
            if event is None:
                event = self._inflight[key] = threading.Event()
        if not owner:
            event.wait(timeout=60)
            found = self._pages.get(key)
            return found if found is not None else build()
        try:
            found = build()
            self._pages.put(key, found)
            return found
        finally:
            with self._inflight_lock:
                self._inflight.pop(key, None)
            event.set()

    def _read_ahead(self, path: str, query: dict[str, str]) -> None:
        """Render the next page in the background while the client reads this one.

        With the server and its client on separate cores, rendering then
        overlaps the client's own work instead of adding to it.
        """
        executor = self._executor
        if executor is None:
            return
        with contextlib.suppress(RuntimeError):  # shut down meanwhile
            executor.submit(self._quiet_render, path, query)

    def _quiet_render(self, path: str, query: dict[str, str]) -> None:
        with contextlib.suppress(ApiError, KeyError, ValueError):
            self.render(path, query)

    @property
    def cached_pages(self) -> int:
        """How many rendered pages the page cache holds."""
        return len(self._pages)

    def _render_wms(self, rest: str, query: dict[str, str]) -> _Rendered:
        parts = [p for p in rest.split("/") if p]
        if not parts:
            return self._cached(("entities",), self._entity_list)
        name = parts[0]
        table = self.tables.get(name)
        if table is None or name == GENERIC_ENTITY.name:
            raise ApiError(404, f"Unknown entity {name!r}.")
        if len(parts) == 2 and parts[1] == "describe":
            return _Rendered(_ENCODER.encode(table.spec.describe()), None)
        if len(parts) == 2:
            try:
                rid = int(parts[1])
            except ValueError:
                raise ApiError(404, "Not found.") from None
            if not 1 <= rid <= table.count:
                raise ApiError(404, "Not found.")
            return _Rendered(_ENCODER.encode(table.record(rid, self._context())), None)
        if len(parts) > 2:
            raise ApiError(404, "Not found.")
        return self._render_page(table, f"{WMS_PREFIX}{name}/", query, style="wms")

    def _entity_list(self) -> _Rendered:
        results = [
            {
                "name": name,
                "url": f"{self.base_url}{WMS_PREFIX}{name}/",
                "describe_url": f"{self.base_url}{WMS_PREFIX}{name}/describe/",
            }
            for name in ENTITIES
        ]
        return _Rendered(_ENCODER.encode({"result_count": len(results), "results": results}), None)

    def _render_generic(self, rest: str, query: dict[str, str]) -> _Rendered:
        parts = [p for p in rest.split("/") if p]
        if len(parts) != 2 or parts[1] != GENERIC_ENTITY.name or parts[0] not in GENERIC_MODES:
            raise ApiError(404, f"Not found; use /generic/{{{'|'.join(GENERIC_MODES)}}}/items")
        table = self.tables[GENERIC_ENTITY.name]
        return self._render_page(table, f"{GENERIC_PREFIX}{parts[0]}/items", query, style=parts[0])

    def _render_page(self, table: Table, path: str, query: dict[str, str], style: str) -> _Rendered:
        spec = table.spec
        filters, ordering, fields = _parse_common(spec, query)
        key = (path, table.version, tuple(sorted(query.items())))
        return self._cached(
            key, lambda: self._build_page(table, path, query, style, filters, ordering, fields)
        )

    def _build_page(
        self,
        table: Table,
        path: str,
        query: dict[str, str],
        style: str,
        filters: tuple[tuple[str, str, int], ...],
        ordering: str,
        fields: tuple[str, ...] | None,
    ) -> _Rendered:
        view = self._view(table, filters, ordering)
        total = len(view)
        size_param = (
            "page_size"
            if style == "wms"
            else ("limit" if style in ("offset", "cursor", "next_url") else "per_page")
        )
        size = _int_param(query, size_param, 100, 1, _MAX_PAGE_SIZE)
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
        ctx = self._context()
        records = [table.record(i, ctx) for i in ids]
        if fields is not None:
            records = [{k: r[k] for k in fields} for r in records]
        pages = math.ceil(total / size)

        def url(**changes: Any) -> str:
            params = {k: v for k, v in query.items() if k not in ("page", "cursor", "offset")}
            params.update({k: str(v) for k, v in changes.items()})
            return f"{self.base_url}{path}?{urlencode(params)}"

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
        if (
            isinstance(body, dict)
            and query.get("has_more") in ("1", "true")
            and style != "has_more"
        ):
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
        return _Rendered(_ENCODER.encode(body), last_modified, headers, next_query)


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


def _parse_common(
    spec: EntitySpec, query: dict[str, str]
) -> tuple[tuple[tuple[str, str, int], ...], str, tuple[str, ...] | None]:
    """Filters, ordering and field list from the query (400 on anything unknown)."""
    names = spec.field_names
    filters: list[tuple[str, str, int]] = []
    for key, raw in query.items():
        if key in _RESERVED:
            continue
        field, _, op = key.partition("__")
        op = op or "eq"
        if field not in names or op not in (*_FILTER_OPS, "eq"):
            raise ApiError(400, f"unsupported query parameter {key!r}")
        try:
            value = int(raw) if field == "id" else parse_ts(raw)
        except ValueError:
            raise ApiError(400, f"{key}: cannot parse {raw!r}") from None
        filters.append((field, op, value))
    ordering = query.get("ordering") or "id"
    if ordering.lstrip("-") not in names:
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
    raw = _ENCODER.encode([ordering, key])
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


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`SampleApi` it was made for."""

    api: SampleApi
    _pending: tuple[str, str, str, str | None] = ("", "", "", None)
    protocol_version = "HTTP/1.1"
    server_version = "FlextSampleApi/1.0"
    sys_version = ""
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to each keep-alive answer.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's access log (it writes to stderr on every request)."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        api = self.api
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        SampleApi._pending_rate_headers.value = None
        fault = api._pick_fault(path)
        self._pending = (method, path, split.query, fault[0] if fault else None)
        try:
            if fault is not None and fault[0].startswith("status:"):
                status = int(fault[0].split(":", 1)[1])
                self._send_json(status, {"detail": HTTPStatus(status).phrase}, fault[1])
                return
            slow = api.faults.slow_s
            if slow > 0 and not path.startswith(_EXEMPT):
                time.sleep(slow)
            if method == "POST" and path == "/oauth/token":
                self._token(body)
                return
            if path != "/health" and not api._authorized(self.headers, query):
                self._send_json(
                    401,
                    {"detail": "Authentication credentials were not provided."},
                    {"WWW-Authenticate": 'Basic realm="sample"'},
                )
                return
            if method in ("POST", "PUT", "DELETE"):
                if path != "/echo":
                    raise ApiError(405, "Method not allowed.")
                self._send_json(201 if method == "POST" else 200, {"received_bytes": len(body)})
                return
            if api._api_key is not None:
                query.pop(api._api_key[0], None)  # a credential, not a filter
            rendered = api.render(path, query)
            extra = dict(rendered.headers)
            rate_headers = SampleApi._pending_rate_headers.value
            if rate_headers:
                extra.update(rate_headers)
            if fault is not None:
                self._send_broken(rendered.body, fault[0])
                return
            self._send_rendered(rendered, extra, head=method == "HEAD")
            if rendered.next_query is not None:
                api._read_ahead(path, rendered.next_query)
        except ApiError as exc:
            self._send_json(exc.status, {"detail": exc.detail})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_response(self, code: int, message: str | None = None) -> None:
        """Log the request before its answer leaves, so a test never sees a stale log."""
        method, path, query, fault = self._pending
        self.api.requests.append(
            RequestRecord(
                method=method,
                path=path,
                query=query,
                status=code,
                fault=fault,
                if_none_match=self.headers.get("If-None-Match"),
                if_modified_since=self.headers.get("If-Modified-Since"),
                auth_scheme=(self.headers.get("Authorization") or " ").split(" ", 1)[0] or None,
                at=time.time(),
                headers={
                    k.lower(): v
                    for k, v in self.headers.items()
                    if k.lower() in ("user-agent", "accept", "content-type", "accept-encoding")
                },
            )
        )
        super().send_response(code, message)

    def _token(self, body: bytes) -> int:
        api = self.api
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            with contextlib.suppress(binascii.Error, ValueError):
                client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return 400
        expected = api._oauth_clients.get(client_id or "")
        if expected is None or not secrets.compare_digest(expected, client_secret or ""):
            self._send_json(401, {"error": "invalid_client"})
            return 401
        token = api._issue_token()
        self._send_json(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": int(api._token_ttl_s)},
            {"Cache-Control": "no-store"},
        )
        return 200

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = _ENCODER.encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_rendered(self, rendered: _Rendered, extra: dict[str, str], *, head: bool) -> int:
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = (
                rendered.etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
            )
        elif ims is not None and rendered.last_modified is not None:
            with contextlib.suppress(TypeError, ValueError):
                not_modified = parsedate_to_datetime(ims) >= parsedate_to_datetime(
                    rendered.last_modified
                )
        status = 304 if not_modified else 200
        self.send_response(status)
        self.send_header("ETag", rendered.etag)
        if rendered.last_modified:
            self.send_header("Last-Modified", rendered.last_modified)
        self.send_header("Cache-Control", "no-cache")
        for k, v in extra.items():
            self.send_header(k, v)
        if status == 304:
            self.end_headers()
            return 304
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(rendered.body)))
        self.end_headers()
        if not head:
            self.wfile.write(rendered.body)
        return 200

    def _send_broken(self, body: bytes, kind: str) -> None:
        """Send half a body, then cut the connection (``drop``) or stop a chunked body."""
        half = body[: max(1, len(body) // 2)]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if kind == "drop":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(half)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
