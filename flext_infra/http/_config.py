"""The client's configuration: one frozen value built from ``ApiSettings`` plus overrides."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError
from flext_infra.http._httpx import Auth

if TYPE_CHECKING:
    from pydantic import SecretStr

    from flext_infra.settings import ApiSettings, FlextSettings

#: Methods RFC 9110 calls idempotent: retried by default.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Statuses worth another attempt.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: What an environment imposes on every client, whatever settings and callers ask:
#: the test environment waits for nothing and talks to loopback only.
ENVIRONMENT_POLICY: Mapping[Environment, Mapping[str, Any]] = {
    Environment.TEST: {"zero_waits": True, "loopback_only": True},
}


@dataclass(frozen=True, kw_only=True)
class HttpClientConfig:
    """Everything the client stack needs, resolved and validated.

    Build it from settings with :meth:`from_settings`, or directly in tests.

    Attributes:
        base_url: Prefix for relative URLs.
        timeout: Per-attempt read/write/pool timeout in seconds.
        connect_timeout: Per-attempt connect timeout in seconds.
        total_timeout: Budget of one logical request, retries and waits included
            (``None``: bounded by attempts only).
        max_retries: Retries after the first attempt.
        backoff_initial: First backoff wait in seconds; doubles per retry.
        backoff_max: Longest backoff wait.
        retry_after_cap: Longest wait a server's ``Retry-After`` can ask for.
        max_quota_wait_s: A server hint asking for a longer wait (``Retry-After``,
            ``X-RateLimit-Reset`` with nothing remaining) means the quota is spent:
            requests to the host raise ``QuotaExhaustedError`` instead of
            waiting (``None``: every hint is waited, capped at ``retry_after_cap``).
        retry_methods: Methods that are retried (idempotent ones by default).
        retry_statuses: Statuses that are retried.
        rate_limit_per_second: Token-bucket rate per host (``None``: no local limit;
            server hints are still honoured).
        rate_limit_burst: Bucket size.
        breaker_failure_ratio: Failure share over the window that opens the breaker.
        breaker_window_s: Length of the sliding window.
        breaker_min_calls: Calls in the window before the ratio counts.
        breaker_break_s: How long the breaker stays open before a probe.
        cache_enabled: RFC 9111 cache with ETag/Last-Modified revalidation.
        cache_path: SQLite file for a persistent cache (``None``: in memory).
        cache_max_bytes: Size bound of the cache database (LRU eviction past it).
        cache_url: ``redis://`` URL of a cache shared by every worker (wins over
            ``cache_path``).
        cache_revalidation_window: Seconds a shared cache entry outlives its
            freshness lifetime, kept for ETag/Last-Modified revalidation.
        rate_limit_url: ``redis://`` URL of the rate governor shared by every
            process (token bucket and server-hint pauses per host).
        expected_workers: Processes sharing the API budget; without Redis (or when
            it is unreachable) each process takes ``rate_limit_per_second / expected_workers``.
        redis_key_prefix: First part of every Redis key.
        environment: The deployment environment, which namespaces the shared cache.
        verify_tls: Verify TLS certificates.
        headers: Sent with every request.
        auth: An ``httpx.Auth`` (see :mod:`flext_infra.http` for ours).
        zero_waits: Skip every sleep (backoff, Retry-After, rate limit) while keeping
            the decisions, their events and their metrics. For tests.
        loopback_only: Refuse any host but 127.0.0.0/8, ``::1`` and ``localhost``.
        user_agent: The ``User-Agent`` header.
        max_connections: Connection pool size.
    """

    base_url: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    total_timeout: float | None = 300.0
    max_retries: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_cap: float = 120.0
    max_quota_wait_s: float | None = None
    retry_methods: frozenset[str] = IDEMPOTENT_METHODS
    retry_statuses: frozenset[int] = RETRY_STATUSES
    rate_limit_per_second: float | None = None
    rate_limit_burst: int = 1
    breaker_failure_ratio: float = 0.5
    breaker_window_s: float = 60.0
    breaker_min_calls: int = 10
    breaker_break_s: float = 30.0
    cache_enabled: bool = True
    cache_path: Path | None = None
    cache_max_bytes: int = 256 * 1024 * 1024
    cache_url: str | None = None
    cache_revalidation_window: float = 86_400.0
    rate_limit_url: str | None = None
    expected_workers: int = 1
    redis_key_prefix: str = "flext"
    environment: str = "development"
    verify_tls: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: Auth | None = None
    zero_waits: bool = False
    loopback_only: bool = False
    user_agent: str = "flext-meltano/0.1"
    max_connections: int = 20

    def __post_init__(self) -> None:
        problems = []
        for name in ("timeout", "connect_timeout", "backoff_max", "breaker_window_s"):
            if getattr(self, name) <= 0:
                problems.append(f"{name}: must be > 0")
        if self.total_timeout is not None and self.total_timeout <= 0:
            problems.append("total_timeout: must be > 0 or None")
        if self.max_quota_wait_s is not None and self.max_quota_wait_s < 0:
            problems.append("max_quota_wait_s: must be >= 0 or None")
        if self.max_retries < 0:
            problems.append("max_retries: must be >= 0")
        if self.backoff_initial < 0 or self.retry_after_cap < 0 or self.breaker_break_s < 0:
            problems.append("backoff_initial, retry_after_cap, breaker_break_s: must be >= 0")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            problems.append("rate_limit_per_second: must be > 0 or None")
        if self.cache_max_bytes < 1:
            problems.append("cache_max_bytes: must be >= 1")
        if self.cache_revalidation_window < 0:
            problems.append("cache_revalidation_window: must be >= 0")
        if self.expected_workers < 1:
            problems.append("expected_workers: must be >= 1")
        for name in ("cache_url", "rate_limit_url"):
            url = getattr(self, name)
            if url is not None and url.split("://", 1)[0] not in ("redis", "rediss", "unix"):
                problems.append(f"{name}: must be a redis://, rediss:// or unix:// URL")
        if self.rate_limit_burst < 1:
            problems.append("rate_limit_burst: must be >= 1")
        if not 0 < self.breaker_failure_ratio <= 1:
            problems.append("breaker_failure_ratio: must be in (0, 1]")
        if self.breaker_min_calls < 1:
            problems.append("breaker_min_calls: must be >= 1")
        if problems:
            raise ConfigurationError(problems)
        object.__setattr__(self, "retry_methods", frozenset(m.upper() for m in self.retry_methods))
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))
        object.__setattr__(self, "headers", dict(self.headers))

    def replace(self, **changes: Any) -> HttpClientConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_settings(
        cls, api: ApiSettings, *, environment: str | None = None, **overrides: Any
    ) -> HttpClientConfig:
        """Build from ``settings.api`` (``FLEXT_API_*``); keyword overrides win.

        ``environment`` (the deployment environment) namespaces the shared cache.

        The auth is picked from the settings, first match wins: OAuth2 client
        credentials (token URL, client id and secret), bearer token, API key,
        basic auth.
        """
        from flext_infra.http._auth import auth_from_settings

        values: dict[str, Any] = {
            "base_url": api.base_url,
            "timeout": api.timeout,
            "connect_timeout": api.connect_timeout,
            "total_timeout": api.total_timeout,
            "max_retries": api.max_retries,
            "backoff_initial": api.backoff_initial,
            "backoff_max": api.backoff_max,
            "retry_after_cap": api.retry_after_cap,
            "retry_methods": frozenset(
                m.strip() for m in api.retry_methods.split(",") if m.strip()
            ),
            "rate_limit_per_second": api.rate_limit_per_second,
            "rate_limit_burst": api.rate_limit_burst,
            "breaker_failure_ratio": api.breaker_failure_ratio,
            "breaker_window_s": api.breaker_window_s,
            "breaker_min_calls": api.breaker_min_calls,
            "breaker_break_s": api.breaker_break_s,
            "cache_enabled": api.cache_enabled,
            "cache_path": api.cache_path,
            "cache_url": _secret(api.cache_url),
            "cache_revalidation_window": api.cache_revalidation_window,
            "rate_limit_url": _secret(api.rate_limit_url),
            "expected_workers": api.expected_workers,
            "redis_key_prefix": api.redis_key_prefix,
            "verify_tls": api.verify_tls,
            "zero_waits": api.zero_waits,
            "loopback_only": api.loopback_only,
            "auth": auth_from_settings(api),
        }
        if environment is not None:
            values["environment"] = str(environment)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def for_environment(cls, settings: FlextSettings, **overrides: Any) -> HttpClientConfig:
        """Build from ``settings.api`` and ``overrides``, then apply the environment's policy.

        The one place the environments' HTTP rules live (:data:`ENVIRONMENT_POLICY`):
        the container's ``http_client`` and every plugin's own client are built
        here, so a test run cannot wait or leave loopback whatever its config says.
        """
        policy = ENVIRONMENT_POLICY.get(settings.environment, {})
        return cls.from_settings(
            settings.api, environment=settings.environment, **{**overrides, **policy}
        )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
