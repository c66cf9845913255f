"""What every layer shares: the wait switch, per-host metrics, and URL masking for logs."""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

from flext_infra.http._httpx import URL, Request
from flext_infra.observability import MASK, get_logger

log = get_logger("flext.http")

#: Request extension keys our layers use to talk to each other.
DEADLINE = "flext.deadline"
LIMITER = "flext.rate_limiter"
ATTEMPTS = "flext.attempts"
BUDGET_EXHAUSTED = "flext.budget_exhausted"
NO_CACHE = "flext.no_cache"
#: The caller vouches that this request is safe to repeat whatever its method
#: (a GraphQL query sent as a POST, say).
IDEMPOTENT = "flext.idempotent"
#: A callable reading a final response and saying whether it asks for a retry
#: (an API reporting "throttled" inside a 200 body).
RETRY_CHECK = "flext.retry_check"
#: This request's retries instead of the client's ``max_retries`` (a readiness
#: probe sends exactly one request: ``0``).
MAX_RETRIES = "flext.max_retries"
#: A ``threading.Event``: once set, the request sends nothing more and stops waiting.
CANCEL = "flext.cancel"

#: Query parameters whose value is always masked in logged URLs.
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "secret", "client_secret", "password"}
)


class Waits:
    """Sleeps, or (with ``zero_waits``) only pretends to: the test switch.

    Every layer asks this object to wait and to tell the time, so one flag
    makes a whole suite fast without changing behaviour: a skipped wait moves
    this clock forward instead, so budgets, breaker breaks and server hints
    expire as if the time had passed, and the decisions (how long, why) are
    still logged and counted.
    """

    def __init__(self, zero_waits: bool = False) -> None:
        self.zero_waits = zero_waits
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Monotonic seconds, plus every wait skipped so far."""
        return time.monotonic() + self._skipped

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Wait ``seconds`` (under ``zero_waits``, move the clock instead).

        Raises:
            Cancelled: ``cancel`` was set before or while waiting.
        """
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if seconds <= 0:
            return
        if self.zero_waits:
            with self._lock:
                self._skipped += seconds
        elif cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled


class Cancelled(Exception):
    """A wait ended because the request's cancel event was set (the client raises
    ``RequestCancelledError`` for it)."""


def host_of(request: Request | URL | str) -> str:
    """``host:port`` of a request or URL: the key of metrics, breakers and rate limits."""
    url = request.url if isinstance(request, Request) else URL(str(request))
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def mask_url(url: URL | str, secret_params: Iterable[str] = ()) -> str:
    """The URL without user info, with secret query values masked (for logs and errors)."""
    secret = secret_params if isinstance(secret_params, frozenset) else frozenset(secret_params)
    return _masked(str(url), secret)


@functools.lru_cache(maxsize=64)
def _masked(url: str, secret_params: frozenset[str]) -> str:
    # Cached: the client, the breaker and the retry layer each mask the same URL
    # of a request (~25 us each, ~7% of a small request's client-side cost).
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = parts.query
    if query:
        hidden = SECRET_PARAMS | {p.lower() for p in secret_params}
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k.lower() in hidden else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_COUNTERS = (
    "requests",
    "attempts",
    "retries",
    "retries_exhausted",
    "retriable_bodies",
    "budget_exhausted",
    "responses_2xx",
    "responses_3xx",
    "responses_4xx",
    "responses_5xx",
    "status_429",
    "network_errors",
    "breaker_opens",
    "breaker_rejections",
    "cache_hits",
    "cache_revalidations",
    "cache_stores",
    "rate_limit_waits",
    "server_hints",
    "quota_exhausted",
    "bytes_received",
)
_SUMS = ("retry_wait_s", "rate_limit_wait_s")


class _Host:
    __slots__ = ("counters", "latencies", "sums")

    def __init__(self) -> None:
        self.counters: dict[str, int] = defaultdict(int)
        self.sums: dict[str, float] = defaultdict(float)
        # A bounded reservoir: percentiles of the recent past, in constant memory.
        self.latencies: deque[float] = deque(maxlen=10_000)


#: Counters also kept per stream (the ``stream`` bound to the log context), for the
#: run ledger's per-stream retries and 429s. Rare events: the lookup costs nothing.
_PER_STREAM = frozenset({"retries", "status_429"})


def _bound_stream() -> str | None:
    stream = structlog.contextvars.get_contextvars().get("stream")
    return str(stream) if stream else None


class HttpMetrics:
    """Per-host counters, wait sums and latency percentiles (thread-safe)."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}
        self._streams: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._lock = threading.Lock()

    def _host(self, host: str) -> _Host:
        found = self._hosts.get(host)
        if found is None:
            found = self._hosts.setdefault(host, _Host())
        return found

    def incr(self, host: str, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` of ``host`` (and of the bound stream, for some)."""
        stream = _bound_stream() if name in _PER_STREAM else None
        with self._lock:
            self._host(host).counters[name] += n
            if stream is not None:
                self._streams[stream][name] += n

    def add(self, host: str, name: str, value: float) -> None:
        """Add ``value`` to the sum ``name`` (seconds waited, say)."""
        with self._lock:
            self._host(host).sums[name] += value

    def latency(self, host: str, seconds: float) -> None:
        """Record one logical request's duration."""
        with self._lock:
            self._host(host).latencies.append(seconds)

    def status(self, host: str, status: int) -> None:
        """Count a response by class (and 429s on their own)."""
        stream = _bound_stream() if status == 429 else None
        with self._lock:
            counters = self._host(host).counters
            counters[f"responses_{status // 100}xx"] += 1
            if status == 429:
                counters["status_429"] += 1
                if stream is not None:
                    self._streams[stream]["status_429"] += 1

    def by_stream(self) -> dict[str, dict[str, int]]:
        """Retries and 429s per stream (requests made while a ``stream`` was bound to the logs)."""
        with self._lock:
            return {
                s: {n: c.get(n, 0) for n in sorted(_PER_STREAM)} for s, c in self._streams.items()
            }

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every host's counters, sums and latency percentiles (ms), as plain data."""
        with self._lock:
            hosts = {
                h: (dict(s.counters), dict(s.sums), sorted(s.latencies))
                for h, s in self._hosts.items()
            }
        out: dict[str, dict[str, Any]] = {}
        for host, (counters, sums, lat) in hosts.items():
            entry: dict[str, Any] = {name: counters.get(name, 0) for name in _COUNTERS}
            entry.update({name: round(sums.get(name, 0.0), 6) for name in _SUMS})
            entry["latency_ms"] = _percentiles(lat)
            out[host] = entry
        return out


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}

    def pick(q: float) -> float:
        index = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))  # nearest rank
        return round(values[index] * 1000, 3)

    return {
        "count": len(values),
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(values[-1] * 1000, 3),
    }
