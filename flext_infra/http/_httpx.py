"""The one place that imports httpx (and hishel's httpx integration).

httpx itself is frozen at 0.28 and ``httpx2`` is its maintained fork with the
same API. Everything else in ``flext_infra.http`` imports these names from
here, so moving to the fork means changing this module only (``import httpx2
as httpx`` and ``hishel.httpx2``).
"""

from __future__ import annotations

import httpx
from hishel import CacheOptions, SqliteStorage
from hishel.httpx import CacheTransport

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
    "httpx",
]
