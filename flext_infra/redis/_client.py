"""Redis connections from a URL, the key namespaces, and the health check.

redis-py is the ``flext-meltano[redis]`` extra: it is imported here, only when
a ``redis://`` (or ``rediss://``, ``unix://``) URL is configured, so a plugin
process without one never loads it. The URL may carry a password; it is
taught to the log redactor and never appears in a message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from flext_infra._errors import ConfigurationError
from flext_infra._result import Result
from flext_infra.observability import redact, redactor

if TYPE_CHECKING:
    from redis import Redis

    from flext_infra.settings import FlextSettings

REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def safe_redis_url(url: str) -> str:
    """``url`` without its user info (for logs, errors and health details)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(url: str, *, timeout: float = 2.0) -> Redis:
    """A redis-py client for ``url`` (bytes in and out; nothing is sent yet).

    ``timeout`` bounds connecting and every command, so an unreachable server
    is noticed in seconds rather than at the TCP timeout.

    Raises:
        ConfigurationError: the URL is not a Redis URL, or redis-py is not installed.
    """
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"{safe_redis_url(url)}: not a Redis URL (redis://, rediss:// or unix://)"
        )
    if parts.password:
        redactor.add([parts.password])
    try:
        from redis import Redis
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"{safe_redis_url(url)}: Redis needs the flext-meltano[redis] extra "
            "(pip install 'flext-meltano[redis]')"
        ) from exc

    client: Redis = Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )
    return client


def ping(url: str, *, timeout: float = 2.0) -> Result[dict[str, Any]]:
    """Ping the server behind ``url``: its version and round trip, or why it failed."""
    try:
        client = connect(url, timeout=timeout)
    except ConfigurationError as exc:
        return Result.fail(str(exc), reason="configuration")
    from redis import RedisError

    started = time.perf_counter()
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except RedisError as exc:
        return Result.fail(
            redact(f"{safe_redis_url(url)}: {type(exc).__name__}: {exc}"), reason="unreachable"
        )
    finally:
        client.close()
    return Result.ok(
        {
            "url": safe_redis_url(url),
            "version": version,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


def configured_redis(settings: FlextSettings) -> dict[str, str]:
    """The Redis URLs in use, by role (``http_cache``, ``rate_limit``); empty when none."""
    api = settings.api
    urls = {"http_cache": api.cache_url, "rate_limit": api.rate_limit_url}
    return {role: url.get_secret_value() for role, url in urls.items() if url is not None}


def cache_namespace(prefix: str, environment: str) -> str:
    """The HTTP cache's key prefix: one per environment, so staging never reads production's."""
    return f"{prefix}:{environment}:http-cache"


def rate_limit_namespace(prefix: str) -> str:
    """The rate governor's key prefix: per API host only, since an API's budget is the API's."""
    return f"{prefix}:rate-limit"
