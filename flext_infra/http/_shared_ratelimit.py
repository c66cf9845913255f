"""The rate governor shared through Redis: one API budget for many processes.

``FLEXT_API_RATE_LIMIT_URL=redis://…`` puts each host's token bucket and its
server-hint pause in one Redis hash (``<prefix>:rate-limit:<host:port>``), so
every process of every worker that uses the same Redis paces together and a
429 received by one pauses all of them.

**Why our own Lua and not a library.** The bucket is the same GCRA as the
local :class:`~flext_infra.http.RateLimiter` (a theoretical arrival time per
host: reserve a slot, sleep outside the lock), and it must share a hash with
the server's pause, its adopted ``RateLimit-Policy`` rate and a spent quota:
a reservation waits for whichever is later, atomically. ``limits`` (the
well-kept candidate) offers moving and fixed windows that answer "allowed or
not" with no reservation and no way to hold a key until a time, so a
``Retry-After`` could not be shared through it. Four short scripts, each one
atomic on the server, do it; the time is Redis's own (``TIME``), so the
workers' clocks need not agree.

**When Redis is unreachable** the process falls back to a local
:class:`~flext_infra.http.RateLimiter` at ``rate / expected_workers``, logs
``http.rate_limit.redis_unavailable`` and calls ``on_fallback`` once (the tap
raises a connectivity alert with it). It tries Redis again every
``retry_s`` seconds and logs ``http.rate_limit.redis_restored`` when it is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flext_infra.http._observe import HttpMetrics, Waits, log
from flext_infra.http._ratelimit import (
    RateLimiter,
    quota_error,
    quota_spent,
    read_hints,
    server_hint,
    sleep_for_slot,
)
from flext_infra.observability import redact
from flext_infra.redis import connect, rate_limit_namespace, safe_redis_url

if TYPE_CHECKING:
    from flext_infra.http._httpx import Response

T = TypeVar("T")

# Every script reads the clock from Redis and keeps its hash for at least ARGV[-1] seconds.
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function keep(seconds)
  if redis.call('TTL', KEYS[1]) < seconds then redis.call('EXPIRE', KEYS[1], seconds) end
end
"""

#: ARGV: local rate (0: none), burst, keep. Returns {kind, seconds, source}:
#: ``quota`` (spent for ``seconds`` more, learnt from ``source``) or ``wait``
#: (this request's slot is ``seconds`` from now; the slot is taken).
_RESERVE = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'tat', 'blocked', 'rate', 'quota', 'quota_source')
local quota = tonumber(h[4]) or 0
if quota > now then return {'quota', string.format('%.6f', quota - now), h[5] or ''} end
local earliest = math.max(now, tonumber(h[2]) or 0)
local rate = tonumber(ARGV[1])
local server = tonumber(h[3]) or 0
if server > 0 and (rate <= 0 or server < rate) then rate = server end
if rate <= 0 then return {'wait', string.format('%.6f', earliest - now), ''} end
local interval = 1 / rate
local tat = math.max(tonumber(h[1]) or 0, earliest)
local start = math.max(earliest, tat - (tonumber(ARGV[2]) - 1) * interval)
redis.call('HSET', KEYS[1], 'tat', string.format('%.6f', math.max(tat, start) + interval))
keep(tonumber(ARGV[3]))
return {'wait', string.format('%.6f', start - now), ''}
"""
)

#: ARGV: seconds, field (``blocked`` or ``quota``), source, keep. Returns 1 when
#: this moved the field later from nothing in force, 2 when it extended one in
#: force, 0 when a later one was already set.
_BLOCK = (
    _NOW
    + """
local till = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[2])) or 0
local moved = 0
if till > current then
  redis.call('HSET', KEYS[1], ARGV[2], string.format("%.6f", till))
  moved = 1
  if current > now then moved = 2 end
  if ARGV[2] == 'quota' and moved == 1 then
    redis.call('HSET', KEYS[1], 'quota_source', ARGV[3])
  end
end
keep(math.max(tonumber(ARGV[4]), math.ceil(tonumber(ARGV[1])) + 60))
return moved
"""
)

#: ARGV: the server's rate, keep.
_RATE = (
    _NOW
    + """
redis.call('HSET', KEYS[1], 'rate', ARGV[1])
keep(tonumber(ARGV[2]))
return 1
"""
)

#: Returns {quota seconds left, blocked seconds left, quota source}.
_LEFT = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'blocked', 'quota', 'quota_source')
return {string.format('%.6f', (tonumber(h[2]) or 0) - now),
        string.format('%.6f', (tonumber(h[1]) or 0) - now), h[3] or ''}
"""
)

#: How long a host's hash outlives its last use (seconds).
_KEEP_S = 3600


class RedisRateGovernor:
    """A :class:`~flext_infra.http.RateGovernor` whose state lives in Redis.

    Args:
        url: The ``redis://`` URL (its password is redacted from every log).
        key_prefix: First part of the keys (``FLEXT_API_REDIS_KEY_PREFIX``).
        rate: Requests per second per host for all processes together (``None``: none).
        burst: Requests allowed back to back before pacing starts.
        waits: The client's clock and sleeps.
        metrics: The client's per-host counters.
        cap: Longest pause a server hint may impose (seconds).
        max_quota_wait_s: A longer hint marks the quota spent (see ``RateLimiter``).
        expected_workers: Processes sharing the budget; the fallback takes ``rate`` / this.
        on_fallback: Called once per process, with what happened, the first
            time Redis cannot be reached.
        retry_s: Seconds between attempts to reach Redis again after a failure.
        timeout: Seconds allowed to connect and for each command.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL, or redis-py is not installed.
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str,
        rate: float | None,
        burst: int,
        waits: Waits,
        metrics: HttpMetrics,
        cap: float = 120.0,
        max_quota_wait_s: float | None = None,
        expected_workers: int = 1,
        on_fallback: Callable[[str], None] | None = None,
        retry_s: float = 30.0,
        timeout: float = 1.0,
    ) -> None:
        self._redis = connect(url, timeout=timeout)
        from redis import RedisError

        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._url = safe_redis_url(url)
        self._prefix = rate_limit_namespace(key_prefix)
        self.rate = rate
        self.burst = burst
        self.cap = cap
        self.max_quota_wait_s = max_quota_wait_s
        self.expected_workers = expected_workers
        self._waits = waits
        self._metrics = metrics
        self._on_fallback = on_fallback
        self._retry_s = retry_s
        #: The governor used while Redis is unreachable.
        self.fallback = RateLimiter(
            rate / expected_workers if rate else None,
            burst,
            waits,
            metrics,
            cap=cap,
            max_quota_wait_s=max_quota_wait_s,
        )
        self._reserve = self._redis.register_script(_RESERVE)
        self._block = self._redis.register_script(_BLOCK)
        self._rate = self._redis.register_script(_RATE)
        self._left = self._redis.register_script(_LEFT)
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # monotonic; set while Redis is unreachable
        self._alerted = False

    @property
    def shared(self) -> bool:
        """Whether Redis answered the last time it was asked (False: the local fallback paces)."""
        return self._retry_at is None

    def key(self, host: str) -> str:
        """The Redis hash holding ``host``'s bucket and pauses."""
        return f"{self._prefix}:{host}"

    # ------------------------------------------------------------ the governor
    def acquire(
        self,
        host: str,
        *,
        method: str = "GET",
        url: str = "",
        cancel: threading.Event | None = None,
    ) -> float:
        """Take ``host``'s next shared slot and wait for it; returns the seconds waited.

        A pause another process learns while this one sleeps for its slot
        holds this request too: after sleeping it looks again and, if the
        host is now paused, takes a new slot after the pause.

        Raises:
            QuotaExhaustedError: the host's quota is spent.
            Cancelled: ``cancel`` was set while waiting.
        """
        waited = 0.0
        key = self.key(host)
        rate = self.rate or 0
        while True:
            answer = self._shared(
                lambda: self._reserve(keys=[key], args=[rate, self.burst, _KEEP_S])
            )
            if answer is None:
                return waited + self.fallback.acquire(host, method=method, url=url, cancel=cancel)
            kind, seconds, source = _decode(answer)
            if kind == "quota":
                raise quota_error(host, seconds, source, method=method, url=url, attempts=0)
            if seconds <= 0:
                return waited
            sleep_for_slot(self._waits, self._metrics, host, seconds, url, cancel)
            waited += seconds
            if self._waits.zero_waits:  # the test clock: Redis's time did not move
                return waited
            left = self._left_for(key)
            if left is None:
                return waited
            quota_s, blocked_s, source = left
            if quota_s > 0:
                raise quota_error(host, quota_s, source, method=method, url=url, attempts=0)
            if blocked_s <= 0:
                return waited

    def check(self, host: str, *, method: str = "GET", url: str = "", attempts: int = 0) -> None:
        """Raise :class:`QuotaExhaustedError` while ``host``'s shared quota is spent."""
        left = self._left_for(self.key(host))
        if left is None:
            self.fallback.check(host, method=method, url=url, attempts=attempts)
        elif left[0] > 0:
            raise quota_error(host, left[0], left[2], method=method, url=url, attempts=attempts)

    def observe(self, host: str, response: Response) -> None:
        """Share what a response's rate-limit headers say (most say nothing: no round trip)."""
        hint = read_hints(response)
        if hint.server_rate is None and hint.block_s is None:
            return
        key = self.key(host)
        if hint.server_rate is not None:
            rate = hint.server_rate
            if self._shared(lambda: self._rate(keys=[key], args=[rate, _KEEP_S])) is None:
                self.fallback.observe(host, response)
                return
        if hint.block_s is not None:
            self._hold(host, hint.block_s, hint.source, response.status_code)

    def hold(self, host: str, seconds: float, source: str) -> None:
        """Pause every process's requests to ``host`` for ``seconds`` (capped)."""
        if seconds > 0:
            self._hold(host, seconds, source, None)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    # ----------------------------------------------------------------- helpers
    def _hold(self, host: str, seconds: float, source: str, status: int | None) -> None:
        spent = self.fallback.spends_quota(seconds)
        amount = seconds if spent else min(seconds, self.cap)
        field = "quota" if spent else "blocked"
        key = self.key(host)
        moved = self._shared(lambda: self._block(keys=[key], args=[amount, field, source, _KEEP_S]))
        if moved is None:
            self.fallback.hold(host, seconds, source)
        elif spent and int(moved) == 1:
            quota_spent(self._metrics, host, source, seconds, self.max_quota_wait_s, status)
        elif not spent and int(moved):
            server_hint(self._metrics, host, source, amount, status)

    def _left_for(self, key: str) -> tuple[float, float, str] | None:
        """Seconds left of the spent quota and of the pause, and the quota's source."""
        answer = self._shared(lambda: self._left(keys=[key]))
        if answer is None:
            return None
        quota_s, blocked_s, source = (_text(v) for v in answer)
        return float(quota_s), float(blocked_s), source

    def _shared(self, call: Callable[[], T]) -> T | None:
        """``call()`` on Redis, or ``None`` while Redis is unreachable (then the fallback paces)."""
        retry_at = self._retry_at
        if retry_at is not None and time.monotonic() < retry_at:
            return None
        try:
            result = call()
        except self._errors as exc:
            self._unreachable(exc)
            return None
        if retry_at is not None:
            with self._lock:
                if self._retry_at is not None:
                    self._retry_at = None
                    log.info("http.rate_limit.redis_restored", redis=self._url)
        return result

    def _unreachable(self, exc: BaseException) -> None:
        error = redact(f"{type(exc).__name__}: {exc}")
        with self._lock:
            first_spell = self._retry_at is None
            self._retry_at = time.monotonic() + self._retry_s
            alert = not self._alerted
            self._alerted = True
        if not first_spell:
            log.debug("http.rate_limit.redis_still_unavailable", redis=self._url, error=error)
            return
        fallback_rate = self.fallback.rate
        log.warning(
            "http.rate_limit.redis_unavailable",
            redis=self._url,
            error=error,
            fallback="local",
            rate_per_s=fallback_rate,
            expected_workers=self.expected_workers,
            retry_in_s=self._retry_s,
        )
        if alert and self._on_fallback is not None:
            try:
                self._on_fallback(
                    f"shared rate governor at {self._url} unreachable ({error}); this process "
                    f"paces itself locally at {fallback_rate or 'no'} requests/s "
                    f"(rate / {self.expected_workers} expected workers)"
                )
            except Exception as alert_exc:  # alerting never stops a run
                log.error("http.rate_limit.alert_failed", error=redact(str(alert_exc)))


def _decode(answer: Any) -> tuple[str, float, str]:
    """A reservation's ``{kind, seconds, source}`` as Python values."""
    kind, seconds, source = (_text(v) for v in answer)
    return kind, float(seconds), source


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
