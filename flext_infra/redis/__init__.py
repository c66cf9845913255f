"""Redis for many workers: connections from a URL, key namespaces, the health check.

The shared HTTP cache (``FLEXT_API_CACHE_URL``) and the shared rate governor
(``FLEXT_API_RATE_LIMIT_URL``) connect through :func:`connect`; ``flext
health`` (and ``flext serve``'s ``/ready``) report each configured URL with
:func:`ping`. redis-py is the ``flext-meltano[redis]`` extra, imported
only when a Redis URL is configured.
"""

from flext_infra.redis._client import (
    REDIS_SCHEMES,
    cache_namespace,
    configured_redis,
    connect,
    ping,
    rate_limit_namespace,
    safe_redis_url,
)

__all__ = [
    "REDIS_SCHEMES",
    "cache_namespace",
    "configured_redis",
    "connect",
    "ping",
    "rate_limit_namespace",
    "safe_redis_url",
]
