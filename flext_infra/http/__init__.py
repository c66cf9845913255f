"""The resilient HTTP client: one httpx client over a fixed transport stack.

``Response``, ``Request`` and ``MockTransport`` are httpx's (re-exported so
callers need not import httpx, which lives behind ``_httpx.py`` only).

Transports, from outside in: rate limiter (local, or shared through Redis)
→ total time budget → retry → per-host circuit breaker → HTTP cache (hishel,
RFC 9111) → network. See ``docs/http.md``.

    with create_http_client(HttpClientConfig(base_url=url, auth=BasicAuth("u", "p"))) as http:
        page = http.get("/wms/lgfapi/v10/entity/allocation/", params={"page_size": 100}).json()
"""

from flext_infra.http._auth import ApiKeyAuth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from flext_infra.http._breaker import BreakerState, CircuitBreaker
from flext_infra.http._client import FlextHttpClient, create_http_client
from flext_infra.http._config import IDEMPOTENT_METHODS, RETRY_STATUSES, HttpClientConfig
from flext_infra.http._errors import (
    CircuitOpenError,
    FatalHTTPError,
    HttpError,
    QuotaExhaustedError,
    RequestCancelledError,
    RetriableHTTPError,
    TotalTimeoutError,
)
from flext_infra.http._guard import is_loopback
from flext_infra.http._httpx import MockTransport, Request, Response
from flext_infra.http._observe import mask_url
from flext_infra.http._ratelimit import RateGovernor, RateLimiter, parse_retry_after
from flext_infra.http._retry import RetryAdvice, RetryCheck
from flext_infra.http._shared_ratelimit import RedisRateGovernor

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "FatalHTTPError",
    "FlextHttpClient",
    "HttpClientConfig",
    "HttpError",
    "MockTransport",
    "OAuth2ClientCredentials",
    "QuotaExhaustedError",
    "RateGovernor",
    "RateLimiter",
    "RedisRateGovernor",
    "Request",
    "RequestCancelledError",
    "Response",
    "RetriableHTTPError",
    "RetryAdvice",
    "RetryCheck",
    "TotalTimeoutError",
    "create_http_client",
    "is_loopback",
    "mask_url",
    "parse_retry_after",
]
