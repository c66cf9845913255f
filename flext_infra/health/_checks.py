"""Readiness checks over a container's services, each timed and named.

``flext health`` prints them as a table; ``flext serve`` answers ``/ready``
with them. Each check is an expected-failure answer, so it never raises: a
check that cannot run says why in its ``detail``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flext_infra.container import Container
from flext_infra.observability import redact

#: Longest ``detail`` kept: a check explains, it does not dump.
_DETAIL_MAX = 300


class CheckStatus(StrEnum):
    """The answer of one check."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """One check's answer.

    Attributes:
        name: What was checked (``database``, ``api``, ``breakers``, ``alert:webhook``).
        status: healthy, unhealthy or skipped.
        latency_ms: How long the check took.
        detail: What it found, secrets masked.
    """

    name: str
    status: CheckStatus
    latency_ms: float
    detail: str

    @property
    def ok(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.status is not CheckStatus.UNHEALTHY

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "status": str(self.status),
            "latency_ms": self.latency_ms,
            "detail": self.detail,
        }


def _timed(name: str, probe: Callable[[], tuple[CheckStatus, str]]) -> Check:
    started = time.perf_counter()
    try:
        status, detail = probe()
    except Exception as exc:  # a check answers; it never takes the caller down
        status, detail = CheckStatus.UNHEALTHY, f"{type(exc).__name__}: {exc}"
    latency = round((time.perf_counter() - started) * 1000, 3)
    return Check(name, status, latency, str(redact(detail))[:_DETAIL_MAX])


def _from_result(result: Any) -> tuple[CheckStatus, str]:
    if result.is_success:
        value = result.value
        if "__str__" in type(value).__dict__:
            # A value that says itself (DatabaseHealth: "sqlite 3.40.1, 0.05 ms").
            return CheckStatus.HEALTHY, str(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items())
        else:
            text = str(value)
        return CheckStatus.HEALTHY, text
    return CheckStatus.UNHEALTHY, str(result.error)


def check_database(container: Container) -> Check:
    """Ping the ``database`` service (Oracle when configured, else SQLite or PostgreSQL)."""

    def probe() -> tuple[CheckStatus, str]:
        if not container.is_registered("database"):
            return CheckStatus.SKIPPED, "no database service in this environment"
        found = container.try_resolve("database")
        if found.is_failure:
            return CheckStatus.UNHEALTHY, str(found.error)
        return _from_result(found.unwrap().health())

    return _timed("database", probe)


def check_api(container: Container, *, timeout: float) -> Check:
    """One request to the API base URL through ``http_client``, never retried.

    The request passes the client's rate limiter (a probe must not spend the
    pipeline's allowance faster than the API grants it) and its circuit
    breaker; ``timeout`` bounds it, waits included. Any answer below 500 means
    the API is reachable.
    """
    from flext_infra.http import FlextHttpClient, HttpError

    def probe() -> tuple[CheckStatus, str]:
        client: FlextHttpClient = container.resolve("http_client")
        base_url = client.config.base_url
        if not base_url:
            return CheckStatus.SKIPPED, "FLEXT_API_BASE_URL not set"
        try:
            response = client.request(
                "GET", "", raise_for_status=False, cache=False,
                total_timeout=timeout, max_retries=0,
            )  # fmt: skip
        except HttpError as exc:
            return CheckStatus.UNHEALTHY, str(exc)
        if response.status_code >= 500:
            return CheckStatus.UNHEALTHY, f"{base_url} answered {response.status_code}"
        return CheckStatus.HEALTHY, f"{base_url} answered {response.status_code}"

    return _timed("api", probe)


def check_breakers(container: Container) -> Check:
    """Unhealthy while any host's circuit breaker is open; the detail lists every state."""

    def probe() -> tuple[CheckStatus, str]:
        client = container.resolve("http_client")
        states: dict[str, str] = client.breaker_states()
        open_hosts = sorted(h for h, s in states.items() if s == "open")
        if open_hosts:
            return CheckStatus.UNHEALTHY, f"circuit open for {', '.join(open_hosts)}"
        if not states:
            return CheckStatus.HEALTHY, "no host called yet"
        return CheckStatus.HEALTHY, ", ".join(f"{h} {s}" for h, s in sorted(states.items()))

    return _timed("breakers", probe)


def check_alert_channels(container: Container) -> list[Check]:
    """Each configured alert channel reachable, without sending an alert."""
    found = container.try_resolve("alert_manager")
    if found.is_failure:
        error = str(found.error)
        return [_timed("alerts", lambda: (CheckStatus.UNHEALTHY, error))]
    return [_channel_check(channel) for channel in found.unwrap().channels]


def _channel_check(channel: Any) -> Check:
    return _timed(f"alert:{channel.name}", lambda: _from_result(channel.health()))


def check_redis(container: Container) -> list[Check]:
    """Each configured Redis (the shared HTTP cache, the shared rate governor) answering.

    None when no Redis URL is set (and redis-py is then not imported).
    """
    from flext_infra.redis import configured_redis

    settings = container.resolve("settings")
    return [_redis_check(role, url) for role, url in configured_redis(settings).items()]


def _redis_check(role: str, url: str) -> Check:
    from flext_infra.redis import ping

    return _timed(f"redis:{role}", lambda: _from_result(ping(url)))


def readiness(container: Container, *, api_timeout: float = 5.0) -> list[Check]:
    """Every readiness check, in a fixed order: database, api, breakers, Redis, alert channels.

    The API is probed before the breakers are read, so a probe that opens a
    breaker shows in the same answer.
    """
    return [
        check_database(container),
        check_api(container, timeout=api_timeout),
        check_breakers(container),
        *check_redis(container),
        *check_alert_channels(container),
    ]
