"""Layer 4: a per-host circuit breaker on the failure ratio over a sliding time window.

No maintained Python library offers this model (ratio over a time window,
minimum calls, single half-open probe) as an httpx transport, so it is
written here, small.

* closed: calls pass; outcomes go into the window. When the window holds at
  least ``min_calls`` outcomes and the failure share reaches ``failure_ratio``,
  the breaker opens.
* open: calls fail at once with :class:`CircuitOpenError` (nothing is sent)
  until ``break_s`` has passed.
* half-open: one probe is let through, the others still fail fast. A success
  closes the breaker (with an empty window), a failure opens it again.

A failure is a 408 or 5xx answer, or a network error, including a body cut
short. A 429 is not: the server is alive and pacing us, which the rate
limiter handles. This layer also buffers the body, so a body that breaks
while being read counts here and reaches the retry layer as an exception.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from flext_infra.http._errors import CircuitOpenError
from flext_infra.http._httpx import BaseTransport, ByteStream, Request, Response, TransportError
from flext_infra.http._observe import HttpMetrics, Waits, host_of, log, mask_url

FAILURE_STATUSES = frozenset({408, 500, 502, 503, 504})


class BreakerState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One host's breaker (thread-safe)."""

    def __init__(
        self,
        host: str,
        *,
        failure_ratio: float,
        window_s: float,
        min_calls: int,
        break_s: float,
        waits: Waits,
        metrics: HttpMetrics,
    ) -> None:
        self.host = host
        self.failure_ratio = failure_ratio
        self.window_s = window_s
        self.min_calls = min_calls
        self.break_s = break_s
        self._waits = waits
        self._metrics = metrics
        self._lock = threading.Lock()
        self._window: deque[tuple[float, bool]] = deque()
        self._state = BreakerState.CLOSED
        self._open_until = 0.0
        self._probe_out = False
        self.opens = 0

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker past its break reads as half-open)."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._waits.now() >= self._open_until:
                return BreakerState.HALF_OPEN
            return self._state

    def admit(self, method: str, url: str) -> bool:
        """Let a call through or raise :class:`CircuitOpenError`; True when it is the probe."""
        with self._lock:
            now = self._waits.now()
            if self._state is BreakerState.OPEN and now >= self._open_until:
                self._state = BreakerState.HALF_OPEN
                self._probe_out = False
                log.info("http.breaker.half_open", host=self.host)
            if self._state is BreakerState.CLOSED:
                return False
            if self._state is BreakerState.HALF_OPEN and not self._probe_out:
                self._probe_out = True
                log.info("http.breaker.probe", host=self.host, method=method, url=url)
                return True
            retry_in = max(0.0, self._open_until - now) if self._state is BreakerState.OPEN else 0.0
        self._metrics.incr(self.host, "breaker_rejections")
        retry_at = datetime.now(UTC) + timedelta(seconds=retry_in)
        log.info("http.breaker.rejected", host=self.host, url=url, retry_in_s=round(retry_in, 3))
        raise CircuitOpenError(
            method=method, url=url, host=self.host, retry_at=retry_at, retry_in_s=retry_in
        )

    def record(self, success: bool, probe: bool) -> None:
        """Record one call's outcome and change state if needed."""
        with self._lock:
            now = self._waits.now()
            if probe:
                self._probe_out = False
                if success:
                    self._state = BreakerState.CLOSED
                    self._window.clear()
                    log.info("http.breaker.closed", host=self.host)
                else:
                    self._open(now, reason="probe failed")
                return
            if self._state is not BreakerState.CLOSED:
                return  # a straggler from before the breaker opened
            self._window.append((now, success))
            horizon = now - self.window_s
            while self._window and self._window[0][0] < horizon:
                self._window.popleft()
            calls = len(self._window)
            if calls < self.min_calls or success:
                return
            failures = sum(1 for _, ok in self._window if not ok)
            if failures / calls >= self.failure_ratio:
                self._open(now, reason=f"{failures}/{calls} calls failed")

    def release(self, probe: bool) -> None:
        """Forget a call that ended without a verdict (interrupted, say)."""
        if probe:
            with self._lock:
                self._probe_out = False

    def _open(self, now: float, reason: str) -> None:
        self._state = BreakerState.OPEN
        self._open_until = now + self.break_s
        self._window.clear()
        self.opens += 1
        self._metrics.incr(self.host, "breaker_opens")
        log.warning("http.breaker.opened", host=self.host, reason=reason, break_s=self.break_s)


class CircuitBreakerTransport(BaseTransport):
    """Keeps one :class:`CircuitBreaker` per host; buffers bodies so read errors count."""

    def __init__(
        self,
        inner: BaseTransport,
        *,
        failure_ratio: float,
        window_s: float,
        min_calls: int,
        break_s: float,
        waits: Waits,
        metrics: HttpMetrics,
        secret_params: frozenset[str] = frozenset(),
    ) -> None:
        self.inner = inner
        self._failure_ratio = failure_ratio
        self._window_s = window_s
        self._min_calls = min_calls
        self._break_s = break_s
        self._waits = waits
        self._metrics = metrics
        self._secret_params = secret_params
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def breaker(self, host: str) -> CircuitBreaker:
        """The breaker of ``host`` (``host:port``), created on first use."""
        with self._lock:
            found = self._breakers.get(host)
            if found is None:
                found = self._breakers[host] = CircuitBreaker(
                    host,
                    failure_ratio=self._failure_ratio,
                    window_s=self._window_s,
                    min_calls=self._min_calls,
                    break_s=self._break_s,
                    waits=self._waits,
                    metrics=self._metrics,
                )
            return found

    def states(self) -> dict[str, str]:
        """Every known host's breaker state."""
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.host: b.state.value for b in breakers}

    def handle_request(self, request: Request) -> Response:
        host = host_of(request)
        breaker = self.breaker(host)
        probe = breaker.admit(request.method, mask_url(request.url, self._secret_params))
        self._metrics.incr(host, "attempts")
        try:
            response = self.inner.handle_request(request)
            if response.is_stream_consumed:
                # Built already read (a mock or a wrapper): nothing left to fail.
                raw = response.content
            else:
                try:
                    raw = b"".join(response.iter_raw())
                finally:
                    response.close()
                response = Response(
                    response.status_code,
                    headers=response.headers,
                    stream=ByteStream(raw),
                    extensions=response.extensions,
                )
        except TransportError:
            breaker.record(False, probe)
            raise
        except BaseException:
            breaker.release(probe)
            raise
        breaker.record(response.status_code not in FAILURE_STATUSES, probe)
        self._metrics.incr(host, "bytes_received", len(raw))
        return response

    def close(self) -> None:
        self.inner.close()
