"""Layer 5: the RFC 9111 HTTP cache (hishel 2.x), with our events and metrics around it.

hishel runs in RFC mode as a *private* cache: our client acts for one user,
so responses to requests with ``Authorization`` may be stored (a shared
cache must not store them). A stored response that is stale (``no-cache``,
``max-age=0``, or no freshness at all) is revalidated with ``If-None-Match``
/ ``If-Modified-Since``; a 304 is answered from the cache.

Storage is one of:

- **Redis** (``cache_url``), shared by every worker: hishel's own
  ``RedisStorage``, its keys under ``<prefix>:<environment>:http-cache`` (and a
  fingerprint of the client's credentials), so staging never reads
  production's entries and one API user never reads another's. Each entry
  expires after its freshness lifetime plus the revalidation window
  (:class:`ExpiringStorage`): long enough for the next scheduled run to
  revalidate it with a 304, and no longer.
- **SQLite**: a file for a cache that outlives the process (the next run
  revalidates instead of downloading again) or ``:memory:``. We open the
  connection ourselves, because given only a path hishel also writes a
  ``.gitignore`` holding ``*`` into that directory.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra.http import _httpx
from flext_infra.http._httpx import Auth, BaseTransport, Request, Response
from flext_infra.http._observe import NO_CACHE, HttpMetrics, host_of, log, mask_url

if TYPE_CHECKING:
    from hishel import BaseStorage, SqliteStorage


class ExpiringStorage:
    """A hishel storage whose entries expire after their freshness lifetime plus a window.

    hishel gives every entry its storage's one default TTL; a shared cache must
    instead keep each response exactly as long as it is useful: fresh, and
    then ``window`` seconds more, during which it can still be revalidated
    (ETag / Last-Modified) instead of downloaded again. The freshness lifetime
    is hishel's own RFC 9111 calculation (max-age, Expires, or the Last-Modified
    heuristic; 0 for ``no-cache``). Everything else is delegated.
    """

    def __init__(self, inner: BaseStorage, window: float) -> None:
        self.inner = inner
        self.window = window

    def ttl_for(self, response: Any) -> float:
        """Seconds ``response`` stays stored: its freshness lifetime plus the window.

        A ``no-cache`` response is revalidated at every use, so it is never fresh
        (hishel's lifetime would still count the Last-Modified heuristic).
        """
        directives = {
            d.strip().split("=", 1)[0].lower()
            for d in (response.headers.get("cache-control") or "").split(",")
        }
        if "no-cache" in directives:
            return self.window
        fresh = _httpx.get_freshness_lifetime(response, is_cache_shared=False)
        return float(fresh or 0) + self.window

    def create_entry(self, request: Any, response: Any, key: str, *, ttl: float | None = None,
                     tti: float | None = None) -> Any:  # fmt: skip
        """Store ``response`` with its own TTL (unless the caller set one)."""
        ttl = self.ttl_for(response) if ttl is None else ttl
        return self.inner.create_entry(request, response, key, ttl=ttl, tti=tti)

    def get_entries(self, key: str) -> Any:
        """The inner storage's entries for ``key``."""
        return self.inner.get_entries(key)

    def update_headers(self, id: Any, headers: Any) -> None:
        """Refresh an entry's headers after a 304."""
        self.inner.update_headers(id, headers)

    def remove_entry(self, id: Any) -> None:
        """Drop an entry."""
        self.inner.remove_entry(id)

    def close(self) -> None:
        """Close the inner storage."""
        self.inner.close()


def credentials_fingerprint(auth: Auth | None) -> str:
    """Who the client is, as a digest, so one user's cached answers never serve another.

    Our auth classes name their credential (``fingerprint()``); ``anon`` without
    auth; any other ``httpx.Auth`` is unknown, so its cache is this client's own.
    """
    if auth is None:
        return "anon"
    fingerprint = getattr(auth, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    return f"client-{uuid.uuid4().hex[:16]}"


class _OncePerMinute(logging.Filter):
    """Lets one record per message through each minute.

    hishel's Redis storage logs every failed call with its traceback and then
    serves the request uncached, so a Redis outage would print one traceback
    per request.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._seen.get(record.msg)
            if last is not None and now - last < 60:
                return False
            self._seen[str(record.msg)] = now
        return True


_REDIS_STORAGE_LOG = logging.getLogger("hishel._core._storages._sync_redis")
_REDIS_STORAGE_LOG.addFilter(_OncePerMinute())


def open_redis_storage(url: str, namespace: str, window: float) -> ExpiringStorage:
    """hishel's Redis storage on ``url`` under ``namespace``, entries expiring as they should."""
    from flext_infra.redis import connect

    # A healthy Redis answers in milliseconds; an unreachable one must not hold
    # every request for long (hishel then serves the request uncached).
    client = connect(url, timeout=1.0)
    storage = _httpx.RedisStorage(client, key_prefix=namespace, default_ttl=None)
    return ExpiringStorage(storage, window)


def open_storage(path: Path | None, max_bytes: int | None = None) -> SqliteStorage:
    """hishel's SQLite storage on ``path``, or in memory when ``path`` is None.

    ``max_bytes`` bounds the database; hishel evicts the least recently used
    entries past it.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
    )
    return _httpx.SqliteStorage(connection=connection, max_size=max_bytes)


class CacheLayer(BaseTransport):
    """hishel's cache transport, reporting hits, revalidations and stores."""

    def __init__(
        self,
        inner: BaseTransport,
        *,
        path: Path | None,
        max_bytes: int | None = None,
        metrics: HttpMetrics,
        secret_params: frozenset[str] = frozenset(),
        redis_url: str | None = None,
        namespace: str = "flext:development:http-cache",
        revalidation_window: float = 86_400.0,
    ) -> None:
        self.storage: Any
        if redis_url is not None:
            self.storage = open_redis_storage(redis_url, namespace, revalidation_window)
        else:
            self.storage = open_storage(path, max_bytes)
        self.inner = inner
        self.path = path
        self.shared = redis_url is not None
        self._cache = _httpx.CacheTransport(
            next_transport=inner, storage=self.storage, rfc=_httpx.CacheOptions(shared=False)
        )
        self._metrics = metrics
        self._secret_params = secret_params

    def handle_request(self, request: Request) -> Response:
        if request.extensions.get(NO_CACHE):
            return self.inner.handle_request(request)
        response = self._cache.handle_request(request)
        status = response.extensions.get("caching")
        if status:
            host = host_of(request)
            if status.get("from_cache"):
                self._metrics.incr(host, "cache_hits")
                if status.get("revalidated"):
                    self._metrics.incr(host, "cache_revalidations")
                # Debug: with revalidation this fires once per page in a normal run.
                log.debug(
                    "http.cache.hit",
                    host=host,
                    url=mask_url(request.url, self._secret_params),
                    revalidated=bool(status.get("revalidated")),
                )
            elif status.get("stored"):
                self._metrics.incr(host, "cache_stores")
                log.debug("http.cache.stored", host=host, url=request.url.path)
        return response

    def close(self) -> None:
        self._cache.close()
