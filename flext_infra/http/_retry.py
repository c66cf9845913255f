"""Layer 3: retries with exponential backoff and jitter, bounded by attempts and by time.

Why not httpx-retries or stamina (both looked at first):

* A truncated body or a connection cut mid-body only shows up while the body
  is read, after ``handle_request`` has returned. httpx-retries retries only
  what ``handle_request`` raises or returns, so those escape it; here the
  layer below buffers the body, so they arrive as exceptions inside the loop.
* The wait must be clipped to a deadline owned by the budget layer, each
  attempt's timeouts shrunk to the time left, and a ``Retry-After`` longer
  than the budget must end the request at once instead of sleeping past it.
  Neither library takes a deadline from outside.
* The zero-wait switch is per client (``HttpClientConfig.zero_waits``);
  stamina's ``set_testing`` is process-wide, and its instrumentation hooks
  are global too, while our events carry per-host metrics.

So the loop is ours, and small: it retries what it says it retries
(``retry_statuses``; connect, read and write timeouts; connections reset or
closed, including mid-body) for ``retry_methods`` only, except that a request
that never reached the server (connect failure) is retried for any method.

Two per-request opt-ins, set by the caller through ``FlextHttpClient.request``:

* ``idempotent=True`` vouches that this one request is safe to repeat
  whatever its method. A GraphQL query travels as a POST but is a read;
  making every POST retriable instead would repeat writes too.
* ``retry_check`` reads a response the status alone would accept and may
  answer a :class:`RetryAdvice`: the body says "throttled" (GraphQL's errors
  come inside a 200). It is retried like a 429: the advised wait (else the
  backoff) is honoured, and the rate limiter holds the whole host for it.
  When the attempts run out, that last response is returned as it is, and
  the caller, which understands the body, decides what it means.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flext_infra.http._errors import CircuitOpenError, RetriableHTTPError, TotalTimeoutError
from flext_infra.http._httpx import (
    BaseTransport,
    ByteStream,
    ConnectError,
    ConnectTimeout,
    Request,
    Response,
    TransportError,
)
from flext_infra.http._observe import (
    ATTEMPTS,
    BUDGET_EXHAUSTED,
    CANCEL,
    DEADLINE,
    IDEMPOTENT,
    LIMITER,
    MAX_RETRIES,
    RETRY_CHECK,
    Cancelled,
    HttpMetrics,
    Waits,
    host_of,
    log,
    mask_url,
)
from flext_infra.http._ratelimit import RateGovernor, parse_retry_after

#: Failures where the request never left this machine: safe to repeat for any method.
_NOT_SENT = (ConnectError, ConnectTimeout)
_TIMEOUT_KEYS = ("connect", "read", "write", "pool")


@dataclass(frozen=True, slots=True)
class RetryAdvice:
    """A response body's request to be retried (see ``retry_check``).

    Attributes:
        reason: Why, for logs and metrics (``"graphql THROTTLED"``).
        wait_s: How long the response says to wait, or ``None`` for the backoff.
    """

    reason: str
    wait_s: float | None = None


#: Reads a response the status accepted; a :class:`RetryAdvice` asks for another attempt.
RetryCheck = Callable[[Response], RetryAdvice | None]


def _readable_copy(response: Response, request: Request) -> Response:
    """A read copy of ``response`` for a ``retry_check``, leaving ``response`` unread.

    The breaker layer below buffered the body, so this costs no I/O. The
    original must stay unread: httpx records ``elapsed`` (which the SDK's
    request metric reads) when the client itself reads and closes it.
    """
    stream = response.stream
    raw = b"".join(stream) if isinstance(stream, ByteStream) else response.read()
    copy = Response(
        response.status_code, headers=response.headers, stream=ByteStream(raw), request=request
    )
    copy.read()  # decodes any Content-Encoding, as the real read will
    return copy


class RetryTransport(BaseTransport):
    """Sends a request up to ``1 + max_retries`` times within its deadline."""

    def __init__(
        self,
        inner: BaseTransport,
        *,
        max_retries: int,
        backoff_initial: float,
        backoff_max: float,
        retry_after_cap: float,
        retry_methods: frozenset[str],
        retry_statuses: frozenset[int],
        waits: Waits,
        metrics: HttpMetrics,
        secret_params: frozenset[str] = frozenset(),
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.max_retries = max_retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_after_cap = retry_after_cap
        self.retry_methods = retry_methods
        self.retry_statuses = retry_statuses
        self._waits = waits
        self._metrics = metrics
        self._secret_params = secret_params
        self._rng = rng or random.Random()

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based): exponential, capped, jittered.

        The jitter keeps half the computed wait and draws the other half, so
        clients that failed together do not come back together.
        """
        base: float = min(self.backoff_max, self.backoff_initial * 2.0 ** (retry - 1))
        return base / 2 + self._rng.uniform(0, base / 2)

    def handle_request(self, request: Request) -> Response:
        host = host_of(request)
        url = mask_url(request.url, self._secret_params)
        method = request.method
        method_ok = method in self.retry_methods or bool(request.extensions.get(IDEMPOTENT))
        check: RetryCheck | None = request.extensions.get(RETRY_CHECK) if method_ok else None
        deadline: float | None = request.extensions.get(DEADLINE)
        limiter: RateGovernor | None = request.extensions.get(LIMITER)
        cancel: threading.Event | None = request.extensions.get(CANCEL)
        timeouts: dict[str, Any] = dict(request.extensions.get("timeout") or {})
        max_retries: int = request.extensions.get(MAX_RETRIES, self.max_retries)
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if attempt > 1 and limiter is not None:
                limiter.acquire(host, method=method, url=url, cancel=cancel)
            self._clip_timeouts(request, timeouts, deadline, method, url, attempt)
            response: Response | None = None
            error: TransportError | None = None
            advice: RetryAdvice | None = None
            try:
                response = self.inner.handle_request(request)
            except CircuitOpenError as exc:
                exc.attempts = attempt
                raise
            except TransportError as exc:
                error = exc
                self._metrics.incr(host, "network_errors")
            if response is not None:
                self._metrics.status(host, response.status_code)
                response.extensions[ATTEMPTS] = attempt
                if limiter is not None:
                    limiter.observe(host, response)
                if response.status_code not in self.retry_statuses or not method_ok:
                    if check is None or response.status_code >= 300:
                        return response
                    advice = check(_readable_copy(response, request))
                    if advice is None:
                        return response
                    self._metrics.incr(host, "retriable_bodies")
                    reason = advice.reason
                else:
                    reason = f"status {response.status_code}"
            else:
                assert error is not None
                if not (method_ok or isinstance(error, _NOT_SENT)):
                    raise RetriableHTTPError(
                        f"{type(error).__name__}: {error} ({method} is not in retry_methods)",
                        method=method, url=url, attempts=attempt, reason="network",
                    ) from error  # fmt: skip
                reason = type(error).__name__

            if attempt > max_retries:
                self._metrics.incr(host, "retries_exhausted")
                log.warning(
                    "http.retries_exhausted",
                    method=method,
                    url=url,
                    attempts=attempt,
                    reason=reason,
                )
                if response is not None:
                    return response
                raise RetriableHTTPError(
                    f"{type(error).__name__}: {error}",
                    method=method, url=url, attempts=attempt, reason="network",
                ) from error  # fmt: skip

            wait = self.backoff(attempt)
            source = "backoff"
            if response is not None:
                asked = parse_retry_after(response.headers.get("Retry-After"))
                if asked is not None:
                    wait, source = min(asked, self.retry_after_cap), "retry-after"
                elif advice is not None and advice.wait_s is not None:
                    wait, source = min(advice.wait_s, self.retry_after_cap), "response"
                    if limiter is not None:
                        # Every worker of the host waits, as for a 429's Retry-After.
                        limiter.hold(host, wait, source=reason)
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if limiter is not None:
                # A hint too long to wait out (a spent quota) ends the request now.
                limiter.check(host, method=method, url=url, attempts=attempt)
            if deadline is not None and self._waits.now() + wait >= deadline:
                return self._out_of_time(host, method, url, attempt, response, error, wait)
            self._metrics.incr(host, "retries")
            self._metrics.add(host, "retry_wait_s", wait)
            log.warning(
                "http.retry_scheduled",
                method=method,
                url=url,
                attempt=attempt,
                next_attempt=attempt + 1,
                reason=reason,
                wait_s=round(wait, 3),
                wait_source=source,
            )
            if response is not None:
                response.close()
            self._waits.sleep(wait, cancel)

    def _clip_timeouts(
        self,
        request: Request,
        timeouts: dict[str, Any],
        deadline: float | None,
        method: str,
        url: str,
        attempt: int,
    ) -> None:
        """Shrink this attempt's timeouts to the time the budget has left."""
        if deadline is None:
            return
        left = deadline - self._waits.now()
        if left <= 0:
            raise TotalTimeoutError(
                "total time budget exhausted",
                method=method, url=url, attempts=attempt - 1, reason="budget_exhausted",
            )  # fmt: skip
        clipped = {
            k: (left if timeouts.get(k) is None else min(float(timeouts[k]), left))
            for k in _TIMEOUT_KEYS
        }
        request.extensions = {**request.extensions, "timeout": clipped}

    def _out_of_time(
        self,
        host: str,
        method: str,
        url: str,
        attempt: int,
        response: Response | None,
        error: TransportError | None,
        wait: float,
    ) -> Response:
        self._metrics.incr(host, "budget_exhausted")
        log.warning(
            "http.budget_exhausted", method=method, url=url, attempts=attempt, wait_s=round(wait, 3)
        )
        if response is not None:
            response.extensions[BUDGET_EXHAUSTED] = True
            return response
        raise TotalTimeoutError(
            f"total time budget exhausted after {type(error).__name__}: {error}",
            method=method, url=url, attempts=attempt, reason="budget_exhausted",
        ) from error  # fmt: skip

    def close(self) -> None:
        self.inner.close()
