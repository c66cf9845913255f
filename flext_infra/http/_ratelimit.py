"""Layer 1: a per-host token bucket that also obeys the server's rate-limit hints.

The bucket is kept as a "theoretical arrival time" (the GCRA form of a token
bucket): one number per host, no background refill, and a request reserves
its slot under the lock and then sleeps outside it, so concurrent callers
are spaced correctly.

Server hints block a host until a time: ``Retry-After`` (on 429/503),
``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset`` (seconds, or an epoch
time), the IETF ``RateLimit: "p";r=0;t=N`` (and the older drafts'
``RateLimit: limit=N, remaining=0, reset=N`` and
``RateLimit-Remaining``/``RateLimit-Reset`` pair). ``RateLimit-Policy:
"p";q=100;w=60`` lowers the bucket's rate to the server's quota.

This layer is outermost, so a logical request waits for its slot before its
time budget starts. Retries re-enter the same bucket through a hook the retry
layer calls, so a retry storm cannot exceed the rate either.

**One governor per client, shared by every thread.** A tap running many
workers over one client has them all pace through the same bucket, and a
429's ``Retry-After`` (or a body-reported limit, :meth:`RateLimiter.hold`)
blocks the host for all of them, not only for the worker that received it.

**A spent quota is not waited out.** With ``max_quota_wait_s`` set, a hint
asking for a longer wait marks the host's quota as spent until the time
given: the request that learnt it and every later one to the host raise
:class:`~flext_infra.http.QuotaExhaustedError` at once (nothing is sent), so a
caller can stop cleanly and say when to resume.

:class:`RateGovernor` is the interface the transports use; a shared
implementation (one bucket for many processes, in Redis) can stand in for
:class:`RateLimiter` behind it.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

from flext_infra.http._errors import QuotaExhaustedError
from flext_infra.http._httpx import BaseTransport, Request, Response
from flext_infra.http._observe import CANCEL, LIMITER, HttpMetrics, Waits, host_of, log

_PARAM = re.compile(r"\b([rtqw]|remaining|reset)=(\d+(?:\.\d+)?)")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns ``None`` when the header is missing or unreadable; a date in the
    past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RateGovernor(Protocol):
    """Per-host pacing for every request of a client. Implementations are thread-safe.

    The transports call :meth:`acquire` before each attempt, :meth:`observe`
    after each response, :meth:`check` before sleeping for a retry, and
    :meth:`hold` for a limit reported in a body.
    """

    def acquire(
        self,
        host: str,
        *,
        method: str = "GET",
        url: str = "",
        cancel: threading.Event | None = None,
    ) -> float:
        """Wait for ``host``'s next slot; returns the seconds waited.

        Raises:
            QuotaExhaustedError: the host's quota is spent (nothing may be sent).
            Cancelled: ``cancel`` was set while waiting.
        """
        ...

    def observe(self, host: str, response: Response) -> None:
        """Learn from a response's rate-limit headers (pause the host, adopt its rate)."""
        ...

    def hold(self, host: str, seconds: float, source: str) -> None:
        """Pause every request to ``host`` until ``seconds`` from now."""
        ...

    def check(self, host: str, *, method: str = "GET", url: str = "", attempts: int = 0) -> None:
        """Raise :class:`QuotaExhaustedError` if ``host``'s quota is spent."""
        ...


@dataclass(frozen=True, slots=True)
class Hints:
    """What one response says about the host's limits.

    Attributes:
        block_s: Seconds to send nothing more (``None``: no pause asked for).
        source: Which header asked for it (``retry-after``, ``x-ratelimit``, ``ratelimit``).
        server_rate: Requests per second the server's ``RateLimit-Policy`` allows.
    """

    block_s: float | None = None
    source: str = ""
    server_rate: float | None = None


def read_hints(response: Response) -> Hints:
    """The pause and rate a response's headers ask for (see the module docstring)."""
    headers = response.headers
    block: float | None = None
    source = ""
    if response.status_code in (429, 503):
        block = parse_retry_after(headers.get("Retry-After"))
        source = "retry-after"
    if block is None and headers.get("X-RateLimit-Remaining", "").strip() == "0":
        block = _reset_seconds(headers.get("X-RateLimit-Reset"))
        source = "x-ratelimit"
    if block is None:
        params = dict(_PARAM.findall(headers.get("RateLimit", "")))
        remaining = params.get("r") or params.get("remaining")
        remaining = remaining or headers.get("RateLimit-Remaining", "").strip()
        reset = params.get("t") or params.get("reset") or headers.get("RateLimit-Reset")
        if remaining in ("0", "0.0"):
            block = _reset_seconds(reset)
            source = "ratelimit"
    policy = dict(_PARAM.findall(headers.get("RateLimit-Policy", "")))
    server_rate = None
    if "q" in policy and "w" in policy and float(policy["w"]) > 0:
        server_rate = float(policy["q"]) / float(policy["w"])
    return Hints(block, source if block is not None else "", server_rate)


@dataclass
class _HostState:
    tat: float = 0.0  # theoretical arrival time of the next request
    blocked_until: float = 0.0
    server_rate: float | None = None
    quota_until: float = 0.0  # a spent quota: no request before this (waits clock)
    quota_source: str = ""


class RateLimiter:
    """Per-host pacing shared by every request (and every thread) of one client.

    Args:
        rate: Requests per second per host, or ``None`` for no local limit.
        burst: Requests allowed back to back before pacing starts.
        cap: Longest block a server hint may impose (seconds).
        max_quota_wait_s: A hint asking for a longer wait means the quota is
            spent (see the module docstring); ``None`` caps every hint at ``cap``.
    """

    def __init__(
        self,
        rate: float | None,
        burst: int,
        waits: Waits,
        metrics: HttpMetrics,
        cap: float = 120.0,
        max_quota_wait_s: float | None = None,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.cap = cap
        self.max_quota_wait_s = max_quota_wait_s
        self._waits = waits
        self._metrics = metrics
        self._hosts: dict[str, _HostState] = {}
        self._lock = threading.Lock()

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState()
        return state

    def reserve(self, host: str) -> float:
        """Reserve the next slot for ``host``; returns how long to wait for it."""
        with self._lock:
            state = self._state(host)
            now = self._waits.now()
            earliest = max(now, state.blocked_until)
            rates = [r for r in (self.rate, state.server_rate) if r]
            if not rates:
                return earliest - now
            interval = 1.0 / min(rates)
            tat = max(state.tat, earliest)
            start = max(earliest, tat - (self.burst - 1) * interval)
            state.tat = max(tat, start) + interval
            return start - now

    def acquire(
        self,
        host: str,
        *,
        method: str = "GET",
        url: str = "",
        cancel: threading.Event | None = None,
    ) -> float:
        """Wait for ``host``'s next slot; returns the seconds waited (or skipped).

        Raises:
            QuotaExhaustedError: the host's quota is spent.
            Cancelled: ``cancel`` was set while waiting.
        """
        self.check(host, method=method, url=url)
        wait = self.reserve(host)
        if wait > 0:
            sleep_for_slot(self._waits, self._metrics, host, wait, url, cancel)
        return wait

    def check(self, host: str, *, method: str = "GET", url: str = "", attempts: int = 0) -> None:
        """Raise :class:`QuotaExhaustedError` while ``host``'s quota is spent.

        ``attempts``: how many times the request was sent already (for the error).
        """
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                return
            left = state.quota_until - self._waits.now()
            source = state.quota_source
        if left > 0:
            raise quota_error(host, left, source, method=method, url=url, attempts=attempts)

    def observe(self, host: str, response: Response) -> None:
        """Learn from a response's rate-limit headers."""
        hint = read_hints(response)
        with self._lock:
            state = self._state(host)
            if hint.server_rate is not None:
                state.server_rate = hint.server_rate
            if hint.block_s is not None:
                self._block(host, state, hint.block_s, hint.source, status=response.status_code)

    def hold(self, host: str, seconds: float, source: str) -> None:
        """Hold every request to ``host`` for ``seconds`` (capped), as a ``Retry-After`` would.

        For limits a server reports in its body rather than its headers (a
        GraphQL cost budget, a throttled error inside a 200): the caller reads
        the body and says how long to wait; every worker of the host waits.
        """
        if seconds <= 0:
            return
        with self._lock:
            self._block(host, self._state(host), seconds, source, status=None)

    def _block(
        self, host: str, state: _HostState, seconds: float, source: str, *, status: int | None
    ) -> None:
        """Block ``host`` until ``seconds`` from now, unless it is blocked longer (lock held).

        Beyond ``max_quota_wait_s`` the host's quota is marked spent instead.
        """
        if self.spends_quota(seconds):
            now = self._waits.now()
            already = state.quota_until > now
            state.quota_until = max(state.quota_until, now + seconds)
            state.quota_source = state.quota_source if already else source
            if not already:
                quota_spent(self._metrics, host, source, seconds, self.max_quota_wait_s, status)
            return
        block = min(seconds, self.cap)
        until = self._waits.now() + block
        if until > state.blocked_until:
            state.blocked_until = until
            server_hint(self._metrics, host, source, block, status)

    def spends_quota(self, seconds: float) -> bool:
        """Whether a hint asking for ``seconds`` means the quota is spent (not waited out)."""
        return self.max_quota_wait_s is not None and seconds > self.max_quota_wait_s


def sleep_for_slot(
    waits: Waits,
    metrics: HttpMetrics,
    host: str,
    seconds: float,
    url: str,
    cancel: threading.Event | None,
) -> None:
    """Count, log and wait out the ``seconds`` until a request's slot.

    Raises:
        Cancelled: ``cancel`` was set while waiting.
    """
    metrics.incr(host, "rate_limit_waits")
    metrics.add(host, "rate_limit_wait_s", seconds)
    # Debug: with a configured rate this fires on most requests.
    log.debug("http.rate_limit.wait", host=host, wait_s=round(seconds, 3), url=url)
    waits.sleep(seconds, cancel)


def quota_error(
    host: str, left: float, source: str, *, method: str, url: str, attempts: int
) -> QuotaExhaustedError:
    """The error for a request to ``host`` whose quota is spent for ``left`` more seconds.

    ``attempts``: how many times the request was sent already.
    """
    return QuotaExhaustedError(
        method=method, url=url, host=host,
        resume_at=datetime.now(UTC) + timedelta(seconds=left), retry_in_s=left,
        source=source, status=429 if attempts else None, attempts=attempts,
    )  # fmt: skip


def quota_spent(
    metrics: HttpMetrics,
    host: str,
    source: str,
    seconds: float,
    max_quota_wait_s: float | None,
    status: int | None,
) -> None:
    """Count and log a quota found spent (once per spell, by whoever learnt it)."""
    metrics.incr(host, "quota_exhausted")
    log.warning(
        "http.rate_limit.quota_exhausted",
        host=host,
        source=source,
        wait_s=round(seconds, 3),
        max_quota_wait_s=max_quota_wait_s,
        status=status,
    )


def server_hint(
    metrics: HttpMetrics, host: str, source: str, block: float, status: int | None
) -> None:
    """Count and log a pause a server asked for (when it moves the host's block later)."""
    metrics.incr(host, "server_hints")
    log.info(
        "http.rate_limit.server_hint", host=host, source=source, block_s=round(block, 3),
        status=status,
    )  # fmt: skip


def _reset_seconds(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        return parse_retry_after(value)
    # Large numbers are epoch times (GitHub style), small ones are deltas.
    return max(0.0, number - time.time()) if number > 1e9 else max(0.0, number)


class RateLimitTransport(BaseTransport):
    """Waits for the host's slot, then hands the governor to the layers below."""

    def __init__(self, inner: BaseTransport, limiter: RateGovernor) -> None:
        self.inner = inner
        self.limiter = limiter

    def handle_request(self, request: Request) -> Response:
        self.limiter.acquire(
            host_of(request),
            method=request.method,
            url=request.url.path,
            cancel=request.extensions.get(CANCEL),
        )
        request.extensions = {**request.extensions, LIMITER: self.limiter}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
