"""The resilient HTTP client: one httpx client over the documented transport stack.

From outside in::

    loopback guard (test profile only)
    1. rate limiter       per-host token bucket + server hints
    2. total budget       one deadline per logical request
    3. retry              backoff with jitter, Retry-After, attempts and time bounds
    4. circuit breaker    per host, failure ratio over a sliding window
    5. HTTP cache         hishel, RFC 9111 revalidation (when enabled)
       network            NetworkTransport: httpx's pools (TLS built on first use)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flext_infra._result import Result
from flext_infra.http._auth import ApiKeyAuth
from flext_infra.http._breaker import CircuitBreakerTransport
from flext_infra.http._budget import TotalBudgetTransport
from flext_infra.http._cache import CacheLayer, credentials_fingerprint
from flext_infra.http._config import HttpClientConfig
from flext_infra.http._errors import (
    FatalHTTPError,
    HttpError,
    RequestCancelledError,
    RetriableHTTPError,
)
from flext_infra.http._guard import LoopbackGuardTransport
from flext_infra.http._httpx import (
    BaseTransport,
    ByteStream,
    Client,
    HTTPError,
    Limits,
    Response,
    Timeout,
    TransportError,
)
from flext_infra.http._network import NetworkTransport
from flext_infra.http._observe import (
    ATTEMPTS,
    BUDGET_EXHAUSTED,
    CANCEL,
    DEADLINE,
    IDEMPOTENT,
    MAX_RETRIES,
    NO_CACHE,
    RETRY_CHECK,
    Cancelled,
    HttpMetrics,
    Waits,
    host_of,
    log,
    mask_url,
)
from flext_infra.http._ratelimit import RateGovernor, RateLimiter, RateLimitTransport
from flext_infra.http._retry import RetryCheck, RetryTransport
from flext_infra.http._shared_ratelimit import RedisRateGovernor
from flext_infra.redis import cache_namespace


class FlextHttpClient:
    """An ``httpx.Client`` behind retries, rate limits, a circuit breaker and a cache.

    Build it with :func:`create_http_client`. Use it as a context manager or
    call :meth:`close`. Thread-safe.

    Args:
        config: The resolved configuration.
        transport: The innermost transport (default: :class:`NetworkTransport`).
            Tests may pass ``httpx.MockTransport`` for unit cases.
        governor: The rate governor (default: from ``config``: a
            :class:`RedisRateGovernor` when ``rate_limit_url`` is set, else a
            :class:`RateLimiter`); a shared one paces several clients or
            processes together.
        on_fallback: Called once, with what happened, if the shared governor
            cannot reach Redis and falls back to pacing locally (an alert).
    """

    def __init__(
        self,
        config: HttpClientConfig,
        *,
        transport: BaseTransport | None = None,
        governor: RateGovernor | None = None,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self._metrics = HttpMetrics()
        self._waits = Waits(config.zero_waits)
        auth = config.auth
        self._secret_params = frozenset(
            {auth.query_param} if isinstance(auth, ApiKeyAuth) and auth.query_param else set()
        )
        network = transport or NetworkTransport(
            verify_tls=config.verify_tls,
            limits=Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            secret_params=self._secret_params,
        )
        stack: BaseTransport = network
        self._shared_governor: RedisRateGovernor | None = None
        self._cache: CacheLayer | None = None
        if config.cache_enabled:
            stack = self._cache = CacheLayer(
                stack,
                path=config.cache_path,
                max_bytes=config.cache_max_bytes,
                metrics=self._metrics,
                secret_params=self._secret_params,
                redis_url=config.cache_url,
                namespace=(
                    f"{cache_namespace(config.redis_key_prefix, config.environment)}:"
                    f"{credentials_fingerprint(config.auth)}"
                ),
                revalidation_window=config.cache_revalidation_window,
            )
        stack = self._breakers = CircuitBreakerTransport(
            stack,
            failure_ratio=config.breaker_failure_ratio,
            window_s=config.breaker_window_s,
            min_calls=config.breaker_min_calls,
            break_s=config.breaker_break_s,
            waits=self._waits,
            metrics=self._metrics,
            secret_params=self._secret_params,
        )
        stack = RetryTransport(
            stack,
            max_retries=config.max_retries,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            retry_after_cap=config.retry_after_cap,
            retry_methods=config.retry_methods,
            retry_statuses=config.retry_statuses,
            waits=self._waits,
            metrics=self._metrics,
            secret_params=self._secret_params,
        )
        stack = TotalBudgetTransport(stack, config.total_timeout, self._waits)
        #: Paces every request of this client, per host, across threads.
        self.rate_limiter: RateGovernor = governor or self._governor(config, on_fallback)
        stack = RateLimitTransport(stack, self.rate_limiter)
        if config.loopback_only:
            stack = LoopbackGuardTransport(stack)
        self._client = Client(
            base_url=config.base_url or "",
            transport=stack,
            auth=config.auth,
            headers={"User-Agent": config.user_agent, **config.headers},
            timeout=Timeout(config.timeout, connect=config.connect_timeout),
            follow_redirects=True,
            # Environment proxies would mount transports around our stack.
            trust_env=False,
        )
        self._closed = False
        #: A health check must answer quickly, whatever the request budget is.
        self._health_budget = min(10.0, config.timeout)

    def _governor(
        self, config: HttpClientConfig, on_fallback: Callable[[str], None] | None
    ) -> RateGovernor:
        if config.rate_limit_url is not None:
            self._shared_governor = RedisRateGovernor(
                config.rate_limit_url,
                key_prefix=config.redis_key_prefix,
                rate=config.rate_limit_per_second,
                burst=config.rate_limit_burst,
                waits=self._waits,
                metrics=self._metrics,
                cap=config.retry_after_cap,
                max_quota_wait_s=config.max_quota_wait_s,
                expected_workers=config.expected_workers,
                on_fallback=on_fallback,
            )
            return self._shared_governor
        return RateLimiter(
            config.rate_limit_per_second,
            config.rate_limit_burst,
            self._waits,
            self._metrics,
            cap=config.retry_after_cap,
            max_quota_wait_s=config.max_quota_wait_s,
        )

    # ---------------------------------------------------------------- requests
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        raise_for_status: bool = True,
        cache: bool = True,
        total_timeout: float | None = None,
        idempotent: bool = False,
        retry_check: RetryCheck | None = None,
        max_retries: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Response:
        """Send one logical request through the stack and return the ``httpx.Response``.

        The body is already read. ``url`` may be relative to ``base_url``.

        Raises:
            RetriableHTTPError: a retriable status or a network failure outlasted
                the retries (``TotalTimeoutError`` when the time budget ran out).
            CircuitOpenError: the host's breaker is open; nothing was sent.
            FatalHTTPError: any other 4xx/5xx, a refused host or an invalid URL.

        With ``raise_for_status=False`` the final response is returned whatever
        its status; network failures still raise. ``cache=False`` bypasses the
        HTTP cache for this request (large pages read once are not worth
        storing). ``total_timeout`` replaces the configured budget for this request.

        ``idempotent=True`` retries this request like a GET whatever its method
        (a GraphQL query is a POST that only reads); other POSTs stay unretried.
        ``retry_check`` reads each response whose status is final and may ask for
        another attempt (:class:`~flext_infra.http.RetryAdvice`), as a 429 would;
        it runs only for requests that may be retried. ``max_retries`` replaces
        the configured retries for this request (``0``: one attempt, as a
        readiness probe wants).

        ``cancel``: once the event is set, the request sends no further
        attempt and stops waiting (rate limit, backoff) at once, raising
        :class:`~flext_infra.http.RequestCancelledError`. An attempt already on
        the wire runs to its own timeout; a caller that must stop sooner
        abandons it (and closes the client).
        """
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        try:
            extensions: dict[str, Any] = {}
            if not cache:
                extensions[NO_CACHE] = True
            if total_timeout is not None:
                extensions[DEADLINE] = self._waits.now() + total_timeout
            if idempotent:
                extensions[IDEMPOTENT] = True
            if retry_check is not None:
                extensions[RETRY_CHECK] = retry_check
            if max_retries is not None:
                extensions[MAX_RETRIES] = max_retries
            if cancel is not None:
                extensions[CANCEL] = cancel
            request = self._client.build_request(
                method,
                url,
                params=params,
                headers=headers,
                json=json,
                content=content,
                data=data,
                extensions=extensions,
            )
        except HTTPError as exc:
            raise FatalHTTPError(
                str(exc), method=method, url=mask_url(url), reason="invalid_url"
            ) from exc
        host = host_of(request)
        safe_url = mask_url(request.url, self._secret_params)
        self._metrics.incr(host, "requests")
        started = time.perf_counter()
        try:
            response = self._client.send(request)
        except HttpError as exc:
            if not exc.url.startswith(("http://", "https://")):
                exc.url = safe_url  # raised by a layer that knew only the path
            raise
        except Cancelled as exc:
            raise RequestCancelledError(
                "request cancelled", method=method, url=safe_url, reason="cancelled"
            ) from exc
        except TransportError as exc:
            raise RetriableHTTPError(
                f"{type(exc).__name__}: {exc}",
                method=method,
                url=safe_url,
                attempts=1,
                reason="network",
            ) from exc
        except HTTPError as exc:
            raise FatalHTTPError(
                f"{type(exc).__name__}: {exc}",
                method=method,
                url=safe_url,
                reason="invalid_request",
            ) from exc
        finally:
            self._metrics.latency(host, time.perf_counter() - started)
        # httpx leaves the read response in a reference cycle (its stream wrapper
        # holds the response), so every page body waited for the cyclic collector.
        # The body is read and the stream closed: a plain byte stream replaces it.
        response.stream = ByteStream(response.content)
        if raise_for_status and response.status_code >= 400:
            raise self._status_error(method, safe_url, response)
        return response

    def _status_error(self, method: str, url: str, response: Response) -> HttpError:
        status = response.status_code
        attempts = int(response.extensions.get(ATTEMPTS, 1))
        if response.extensions.get(BUDGET_EXHAUSTED):
            return RetriableHTTPError(
                f"HTTP {status}; total time budget exhausted",
                method=method, url=url, status=status, attempts=attempts, reason="budget_exhausted",
            )  # fmt: skip
        if status in self.config.retry_statuses:
            return RetriableHTTPError(
                f"HTTP {status} after {attempts} attempt(s)",
                method=method, url=url, status=status, attempts=attempts, reason="status",
            )  # fmt: skip
        return FatalHTTPError(
            f"HTTP {status}",
            method=method,
            url=url,
            status=status,
            attempts=attempts,
            reason="status",
        )

    def get(self, url: str, **kwargs: Any) -> Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        """``request("POST", url, ...)``; retried only when POST is in ``retry_methods``
        or the call says ``idempotent=True``."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        """``request("PUT", url, ...)``."""
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        """``request("DELETE", url, ...)``."""
        return self.request("DELETE", url, **kwargs)

    def hold(self, url: str, seconds: float, source: str) -> None:
        """Hold every request to ``url``'s host for ``seconds``, as a ``Retry-After`` would.

        For budgets a server reports in bodies (a GraphQL cost extension): the
        caller reads the body and says how long the host needs.
        """
        self.rate_limiter.hold(host_of(url), seconds, source)

    # ---------------------------------------------------------------- inspection
    @property
    def httpx_client(self) -> Client:
        """The underlying ``httpx.Client`` (its transport is the whole stack)."""
        return self._client

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per-host snapshot: requests, attempts, retries, 429s, breaker opens and state,
        cache hits, bytes, waits and latency percentiles (ms)."""
        snapshot = self._metrics.snapshot()
        for host, state in self._breakers.states().items():
            snapshot.setdefault(host, {})["breaker_state"] = state
        return snapshot

    def metrics_by_stream(self) -> dict[str, dict[str, int]]:
        """Retries and 429s per stream (the ``stream`` bound to the log context at the time)."""
        return self._metrics.by_stream()

    def breaker_states(self) -> dict[str, str]:
        """Each host's circuit breaker state (``closed``, ``open``, ``half_open``)."""
        return self._breakers.states()

    def health(self) -> Result[dict[str, Any]]:
        """Healthy when no breaker is open and ``base_url`` (if set) answers below 500."""
        states = self._breakers.states()
        open_hosts = sorted(h for h, s in states.items() if s == "open")
        if open_hosts:
            return Result.fail(f"circuit open for {', '.join(open_hosts)}", reason="circuit_open")
        if not self.config.base_url:
            return Result.ok({"breakers": states})
        try:
            response = self.request(
                "GET", "", raise_for_status=False, cache=False, total_timeout=self._health_budget
            )
        except HttpError as exc:
            return Result.fail(str(exc), reason=exc.reason or "unreachable", cause=exc)
        if response.status_code >= 500:
            return Result.fail(
                f"{self.config.base_url} answered {response.status_code}", reason="unhealthy"
            )
        return Result.ok({"status": response.status_code, "breakers": self._breakers.states()})

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close connections and the cache storage. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._client.close()
        if self._shared_governor is not None:
            self._shared_governor.close()
        log.debug("http.client.closed", metrics=self._metrics.snapshot())

    def __enter__(self) -> FlextHttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def create_http_client(
    config: HttpClientConfig | None = None,
    *,
    transport: BaseTransport | None = None,
    on_fallback: Callable[[str], None] | None = None,
    **overrides: Any,
) -> FlextHttpClient:
    """Build a :class:`FlextHttpClient` from ``config`` (default settings) plus ``overrides``.

    ``on_fallback``: see :class:`FlextHttpClient`.
    """
    config = config or HttpClientConfig()
    if overrides:
        config = config.replace(**overrides)
    return FlextHttpClient(config, transport=transport, on_fallback=on_fallback)
