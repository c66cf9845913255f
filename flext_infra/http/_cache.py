"""Layer 5: the RFC 9111 HTTP cache (hishel 2.x), with our events and metrics around it.

hishel runs in RFC mode as a *private* cache: our client acts for one user,
so responses to requests with ``Authorization`` may be stored (a shared
cache must not store them). A stored response that is stale (``no-cache``,
``max-age=0``, or no freshness at all) is revalidated with ``If-None-Match``
/ ``If-Modified-Since``; a 304 is answered from the cache.

Storage is SQLite: a file for a cache that outlives the process (the next
run revalidates instead of downloading again) or ``:memory:``. We open the
connection ourselves, because given only a path hishel also writes a
``.gitignore`` holding ``*`` into that directory.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from flext_infra.http import _httpx
from flext_infra.http._httpx import BaseTransport, Request, Response
from flext_infra.http._observe import NO_CACHE, HttpMetrics, host_of, log, mask_url

if TYPE_CHECKING:
    from hishel import SqliteStorage


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
    ) -> None:
        self.storage = open_storage(path, max_bytes)
        self.inner = inner
        self.path = path
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
