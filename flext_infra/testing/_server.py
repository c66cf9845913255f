"""The sample API: a real threaded HTTP server on 127.0.0.1 with WMS and generic modes.

:class:`SampleApi` owns the lifecycle, the data (``_data.py``), the faults and
the credentials; pages are built in ``_pages.py`` and sent by the handler in
``_handler.py``. The stdlib ``ThreadingHTTPServer`` is enough: one page
carries hundreds or thousands of records, so the per-request cost of the
stdlib parser is small next to rendering. Rendered pages (body and ETag) are
kept in an LRU keyed by the data version, so a repeated read is a dictionary
lookup and the server is not the bottleneck of a benchmark.
"""

from __future__ import annotations

import base64
import contextlib
import random
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from typing import Any

from flext_infra.testing._data import (
    BASE_US,
    ENTITIES,
    GENERIC_ENTITY,
    RecordContext,
    Table,
    parse_ts,
)
from flext_infra.testing._faults import FaultInjector, Faults, RequestLog, Verdict
from flext_infra.testing._graphql import GraphqlEndpoint
from flext_infra.testing._handler import Handler, Server
from flext_infra.testing._pages import (
    ENCODER,
    ApiError,
    PageCache,
    Rendered,
    build_page,
    parse_query,
)

WMS_PREFIX = "/wms/lgfapi/v10/entity/"
GENERIC_PREFIX = "/generic/"
#: Paginator styles served under ``/generic/{mode}/items``.
GENERIC_MODES = ("page", "offset", "cursor", "next_url", "link", "has_more")


class SampleApi:
    """The sample REST API on 127.0.0.1: Oracle WMS LGF v10 shape, generic paginators, faults.

    The same tables are served over GraphQL at ``POST /graphql`` (``_graphql.py``).

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
        tls: Serve HTTPS with this server-side context (``base_url`` then says
            ``https``); the tests use a self-signed certificate.
        latency_ms: Every answer is held back this long, as a remote API's
            are; requests are served concurrently (a thread per connection),
            so many clients' waits overlap as they would on a real server.
        latency_jitter_ms: Up to this much more per answer, drawn at random
            (seeded), so concurrent answers come back out of order.
        first_mod_ts: The ``mod_ts`` of record 0 (ISO 8601; default
            2024-01-01T00:00:00Z); record ``i`` has ``first + i * mod_ts_step_s``.
            Recent data makes runs whose time windows end "now" realistic.
        mod_ts_step_s: Seconds between consecutive records' ``mod_ts``.
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
        tls: ssl.SSLContext | None = None,
        latency_ms: float = 0.0,
        latency_jitter_ms: float = 0.0,
        first_mod_ts: str | None = None,
        mod_ts_step_s: float = 1.0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sample API only listens on loopback")
        counts = dict(counts or {})
        unknown = set(counts) - {*ENTITIES, GENERIC_ENTITY.name}
        if unknown:
            raise ValueError(f"unknown entities in counts: {sorted(unknown)}")
        if mod_ts_step_s <= 0:
            raise ValueError("mod_ts_step_s must be > 0")
        timing = {
            "base_us": parse_ts(first_mod_ts) if first_mod_ts else BASE_US,
            "step_us": round(mod_ts_step_s * 1_000_000),
        }
        self.tables: dict[str, Table] = {
            name: Table(spec, counts.get(name, records), **timing)
            for name, spec in ENTITIES.items()
        }
        self.tables[GENERIC_ENTITY.name] = Table(
            GENERIC_ENTITY, counts.get(GENERIC_ENTITY.name, records), **timing
        )
        self.requests = RequestLog()
        self._injector = FaultInjector(faults)
        #: ``POST /graphql`` (see ``_graphql.py``): its own log of operations and faults.
        self.graphql = GraphqlEndpoint(self, self._injector)
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
        self._token_lock = threading.Lock()
        self._pages = PageCache(cache_max_bytes)
        self._inflight: dict[Any, threading.Event] = {}
        self._inflight_lock = threading.Lock()
        self._read_ahead_enabled = read_ahead
        self._tls = tls
        self._executor: ThreadPoolExecutor | None = None
        self._views: OrderedDict[Any, Sequence[int]] = OrderedDict()
        self._views_lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.tokens_issued = 0
        self._ctx: RecordContext | None = None
        #: Seconds every answer is held back (see ``latency_ms``); may be changed while serving.
        self.base_latency_s = latency_ms / 1000.0
        #: Up to this many seconds more, drawn per request (seeded by the faults' seed).
        self.latency_jitter_s = latency_jitter_ms / 1000.0
        self._jitter_rng = random.Random(self._injector.faults.seed)
        self._jitter_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SampleApi:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        self._server = self._bind()
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
        self._server = self._bind()
        self._start_executor()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.close_open_connections()
            self._server.server_close()
            self._server = None
            self._stop_executor()

    def _bind(self) -> Server:
        handler = type("SampleApiHandler", (Handler,), {"api": self})
        server = Server((self._host, self._port), handler)
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        return server

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
        """``http://127.0.0.1:PORT`` (``https`` with ``tls``; no trailing slash)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

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

    def patch_records(self, entity: str, ids: Sequence[int], **values: Any) -> list[int]:
        """Serve ``values`` in records ``ids`` from now on (bad records, say); returns the ids."""
        return self._table(entity).patch(ids, values)

    def set_mod_ts(self, entity: str, ids: Sequence[int], mod_ts: str) -> list[int]:
        """Put records exactly at ``mod_ts`` (ISO 8601), with a new revision; returns their ids.

        Several ids make a tie. Unlike :meth:`modify_records`, ``mod_ts`` may
        move backwards: for tests of boundaries, not for incremental runs.
        """
        return self._table(entity).retime(ids, parse_ts(mod_ts))

    def record(self, entity: str, record_id: int) -> dict[str, Any]:
        """One record as the API serves it now."""
        table = self._table(entity)
        if not 1 <= record_id <= table.count:
            raise KeyError(f"{entity}: no record with id {record_id}")
        return table.record(record_id, self._context())

    def count(self, entity: str) -> int:
        """How many records ``entity`` has."""
        return self._table(entity).count

    def record_context(self) -> RecordContext:
        """What records are rendered with (URLs of foreign keys, entity sizes)."""
        return self._context()

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
        return self._injector.replace(faults, **changes)

    @property
    def faults(self) -> Faults:
        """The fault settings in force (counters show what is left)."""
        return self._injector.faults

    def pick_fault(self, path: str, client: str = "", query: str = "") -> Verdict:
        """The fault (if any) the request for ``path`` from ``client`` gets (:class:`Faults`)."""
        return self._injector.pick(path, client, query)

    @property
    def latency_s(self) -> float:
        """Seconds this answer is held back: ``latency_ms``, plus up to ``latency_jitter_ms``."""
        jitter = self.latency_jitter_s
        if jitter <= 0:
            return self.base_latency_s
        with self._jitter_lock:
            return self.base_latency_s + self._jitter_rng.uniform(0.0, jitter)

    def revoke_tokens(self) -> None:
        """Invalidate every OAuth2 token issued so far (the next use gets a 401)."""
        with self._token_lock:
            self._tokens.clear()

    @property
    def token_ttl_s(self) -> float:
        """The lifetime of the OAuth2 tokens this API issues."""
        return self._token_ttl_s

    @property
    def api_key_name(self) -> str | None:
        """The API key's header or query parameter name (``None``: no API key)."""
        return self._api_key[0] if self._api_key is not None else None

    def client_allowed(self, client_id: str, client_secret: str) -> bool:
        """True for a known OAuth2 client and its secret."""
        expected = self._oauth_clients.get(client_id)
        return expected is not None and secrets.compare_digest(expected, client_secret)

    def issue_token(self) -> str:
        """A new OAuth2 access token, valid for :attr:`token_ttl_s`."""
        token = "tok-" + secrets.token_urlsafe(24)
        with self._token_lock:
            self._tokens[token] = time.monotonic() + self._token_ttl_s
            self.tokens_issued += 1
        return token

    @property
    def auth_required(self) -> bool:
        """True when some credential is configured."""
        return bool(self._basic or self._oauth_clients or self._api_key or self._bearer_token)

    def authorized(self, headers: Message, query: Mapping[str, str]) -> bool:
        """True when the request carries a credential this API accepts (or none is needed)."""
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

    # ------------------------------------------------------------------ rendering
    def view(
        self, table: Table, filters: tuple[tuple[str, str, int | str], ...], ordering: str
    ) -> Any:
        """The ids of ``table`` matching ``filters`` in ``ordering`` (kept for repeated reads).

        Raises:
            ApiError: 400 for an ordering or filter the table cannot serve.
        """
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

    def render(self, path: str, query: dict[str, str]) -> Rendered:
        """Render (or fetch from the page cache) the answer to a GET."""
        if path == "/health":
            return Rendered(ENCODER.encode({"status": "ok"}), None)
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

    def _cached(self, key: Any, build: Callable[[], Rendered]) -> Rendered:
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

    def read_ahead(self, path: str, query: dict[str, str]) -> None:
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

    def _render_wms(self, rest: str, query: dict[str, str]) -> Rendered:
        parts = [p for p in rest.split("/") if p]
        if not parts:
            return self._cached(("entities",), self._entity_list)
        name = parts[0]
        table = self.tables.get(name)
        if table is None or name == GENERIC_ENTITY.name:
            raise ApiError(404, f"Unknown entity {name!r}.")
        if len(parts) == 2 and parts[1] == "describe":
            return Rendered(ENCODER.encode(table.spec.describe()), None)
        if len(parts) == 2:
            try:
                rid = int(parts[1])
            except ValueError:
                raise ApiError(404, "Not found.") from None
            if not 1 <= rid <= table.count:
                raise ApiError(404, "Not found.")
            return Rendered(ENCODER.encode(table.record(rid, self._context())), None)
        if len(parts) > 2:
            raise ApiError(404, "Not found.")
        return self._render_page(table, f"{WMS_PREFIX}{name}/", query, style="wms")

    def _entity_list(self) -> Rendered:
        results = [
            {
                "name": name,
                "url": f"{self.base_url}{WMS_PREFIX}{name}/",
                "describe_url": f"{self.base_url}{WMS_PREFIX}{name}/describe/",
            }
            for name in ENTITIES
        ]
        return Rendered(ENCODER.encode({"result_count": len(results), "results": results}), None)

    def _render_generic(self, rest: str, query: dict[str, str]) -> Rendered:
        parts = [p for p in rest.split("/") if p]
        if len(parts) != 2 or parts[1] != GENERIC_ENTITY.name or parts[0] not in GENERIC_MODES:
            raise ApiError(404, f"Not found; use /generic/{{{'|'.join(GENERIC_MODES)}}}/items")
        table = self.tables[GENERIC_ENTITY.name]
        return self._render_page(table, f"{GENERIC_PREFIX}{parts[0]}/items", query, style=parts[0])

    def _render_page(self, table: Table, path: str, query: dict[str, str], style: str) -> Rendered:
        spec = table.spec
        filters, ordering, fields = parse_query(spec, query)
        key = (path, table.version, tuple(sorted(query.items())))
        return self._cached(
            key,
            lambda: build_page(
                table,
                self.view(table, filters, ordering),
                self._context(),
                self.base_url,
                path,
                query,
                style,
                filters,
                ordering,
                fields,
            ),
        )
