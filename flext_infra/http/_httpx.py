"""The one place that imports httpx (and hishel's httpx integration).

httpx itself is frozen at 0.28 and ``httpx2`` is its maintained fork with the
same API. Everything else in ``flext_infra.http`` imports these names from
here, so moving to the fork means changing this module only (``import httpx2
as httpx`` and ``hishel.httpx2``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from hishel import BaseStorage, CacheOptions, RedisStorage, SqliteStorage
    from hishel._core._spec import get_freshness_lifetime
    from hishel.httpx import CacheTransport

#: hishel's names, imported on first use: only a client with the cache on needs
#: them, and hishel costs ~20 ms of every plugin's start-up.
#: ``get_freshness_lifetime`` is internal to hishel (RFC 9111 section 4.2.1, used
#: by the shared cache's expiry); tests/http/test_shared_cache.py fails if it changes.
_HISHEL = {
    "BaseStorage": "hishel",
    "CacheOptions": "hishel",
    "RedisStorage": "hishel",
    "SqliteStorage": "hishel",
    "CacheTransport": "hishel.httpx",
    "get_freshness_lifetime": "hishel._core._spec",
}


def __getattr__(name: str) -> Any:
    module = _HISHEL.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


Auth = httpx.Auth
BaseTransport = httpx.BaseTransport
ByteStream = httpx.ByteStream
Client = httpx.Client
Headers = httpx.Headers
HTTPTransport = httpx.HTTPTransport
Limits = httpx.Limits
MockTransport = httpx.MockTransport
Request = httpx.Request
Response = httpx.Response
Timeout = httpx.Timeout
URL = httpx.URL

HTTPError = httpx.HTTPError
TransportError = httpx.TransportError
TimeoutException = httpx.TimeoutException
ConnectError = httpx.ConnectError
ConnectTimeout = httpx.ConnectTimeout
ReadTimeout = httpx.ReadTimeout
WriteTimeout = httpx.WriteTimeout
PoolTimeout = httpx.PoolTimeout
NetworkError = httpx.NetworkError
ReadError = httpx.ReadError
WriteError = httpx.WriteError
RemoteProtocolError = httpx.RemoteProtocolError
ProtocolError = httpx.ProtocolError
InvalidURL = httpx.InvalidURL
UnsupportedProtocol = httpx.UnsupportedProtocol

__all__ = [
    "URL",
    "Auth",
    "BaseStorage",
    "BaseTransport",
    "ByteStream",
    "CacheOptions",
    "CacheTransport",
    "Client",
    "ConnectError",
    "ConnectTimeout",
    "HTTPError",
    "HTTPTransport",
    "Headers",
    "InvalidURL",
    "Limits",
    "MockTransport",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RedisStorage",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SqliteStorage",
    "Timeout",
    "TimeoutException",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "get_freshness_lifetime",
    "httpx",
]
