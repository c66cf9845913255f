"""``flext health`` reports each configured Redis (the shared cache and the rate governor)."""

from __future__ import annotations

import json

from tests._seaweedfs import free_ports
from tests.cli.conftest import Flext
from tests.conftest import REDIS_URL


def test_health_reports_a_configured_redis_as_healthy(flext: Flext) -> None:
    """With FLEXT_API_CACHE_URL and FLEXT_API_RATE_LIMIT_URL set, both are pinged and named."""
    env = {"FLEXT_API_CACHE_URL": REDIS_URL, "FLEXT_API_RATE_LIMIT_URL": REDIS_URL}
    done = flext("health", "--json", env=env)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["redis:http_cache"]["status"] == "healthy", done.stdout
    assert checks["redis:rate_limit"]["status"] == "healthy"
    assert "version=" in checks["redis:rate_limit"]["detail"]


def test_health_fails_on_an_unreachable_redis_without_showing_its_password(flext: Flext) -> None:
    """A Redis that does not answer is unhealthy (exit 1); the URL's password is never shown."""
    [port] = free_ports(1)
    env = {"FLEXT_API_RATE_LIMIT_URL": f"redis://:redis-Pw-8812@127.0.0.1:{port}/0"}
    done = flext("health", env=env)
    assert done.returncode == 1
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "unhealthy" in lines["redis:rate_limit"]
    assert f"127.0.0.1:{port}" in lines["redis:rate_limit"]
    assert "redis-Pw-8812" not in done.stdout + done.stderr


def test_health_has_no_redis_row_when_none_is_configured(flext: Flext) -> None:
    """Without a Redis URL nothing Redis is checked (or imported)."""
    done = flext("health", "--json")
    names = [c["name"] for c in json.loads(done.stdout)["checks"]]
    assert not [n for n in names if n.startswith("redis")]
