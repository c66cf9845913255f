"""Unit cases of the stack over httpx.MockTransport: what is retried and what is fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flext_infra.http import (
    CircuitOpenError,
    FatalHTTPError,
    FlextHttpClient,
    HttpClientConfig,
    MockTransport,
    Request,
    Response,
    RetriableHTTPError,
    create_http_client,
)
from flext_infra.http._httpx import ConnectError, ReadError, ReadTimeout, RemoteProtocolError


def _client(handler: Callable[[Request], Response], **overrides: Any) -> FlextHttpClient:
    config = HttpClientConfig(base_url="http://127.0.0.1:9", zero_waits=True, cache_enabled=False)
    return create_http_client(config, transport=MockTransport(handler), **overrides)


def _failing(
    errors: list[Exception], then: int = 200
) -> tuple[Callable[[Request], Response], list[str]]:
    calls: list[str] = []

    def handler(request: Request) -> Response:
        calls.append(request.method)
        if errors:
            raise errors.pop(0)
        return Response(then, json={"ok": True})

    return handler, calls


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeout("slow"),
        ReadError("reset"),
        RemoteProtocolError("peer closed"),
        ConnectError("refused"),
    ],
)
def test_get_retries_network_errors(error: Exception) -> None:
    """Timeouts, resets and closed connections are retried for GET."""
    handler, calls = _failing([error, error])
    with _client(handler) as client:
        assert client.get("/x").json() == {"ok": True}
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("error", "expected_calls"), [(ReadError("reset"), 1), (ConnectError("refused"), 2)]
)
def test_post_retries_only_what_never_reached_the_server(
    error: Exception, expected_calls: int
) -> None:
    """A POST whose connection was reset is not repeated; one that never connected is."""
    handler, calls = _failing([error])
    with _client(handler) as client:
        if expected_calls == 1:
            with pytest.raises(RetriableHTTPError) as caught:
                client.post("/x")
            assert caught.value.reason == "network" and caught.value.attempts == 1
        else:
            assert client.post("/x").status_code == 200
    assert len(calls) == expected_calls


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, FatalHTTPError),
        (404, FatalHTTPError),
        (501, FatalHTTPError),
        (408, RetriableHTTPError),
    ],
)
def test_status_maps_to_the_error_class(status: int, expected: type[Exception]) -> None:
    """Non-retriable statuses are fatal at once; retriable ones are retried, then retriable."""
    calls: list[int] = []

    def handler(request: Request) -> Response:
        calls.append(1)
        return Response(status)

    with _client(handler, max_retries=2) as client, pytest.raises(expected) as caught:
        client.get("/x")
    assert caught.value.status == status
    assert len(calls) == (3 if expected is RetriableHTTPError else 1)


def test_breaker_counts_a_body_cut_short_as_a_failure() -> None:
    """A read error in the body is a breaker failure, so a run of them opens it."""

    from flext_infra.http._httpx import httpx

    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"par'
            raise RemoteProtocolError("peer closed connection without sending complete body")

    def handler(request: Request) -> Response:
        return Response(200, stream=Broken())

    client = _client(handler, max_retries=5, breaker_min_calls=3, breaker_failure_ratio=1.0)
    with client, pytest.raises(CircuitOpenError) as caught:
        client.get("/x")
    assert caught.value.attempts == 4


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("test", (True, True)), ("development", (False, False)), ("production", (False, False))],
)
def test_the_environment_policy_wins_over_settings_and_overrides(
    monkeypatch: pytest.MonkeyPatch, environment: str, expected: tuple[bool, bool]
) -> None:
    """for_environment applies the test profile's rules (no waits, loopback only) last."""
    from flext_infra.settings import load_settings

    monkeypatch.setenv("FLEXT_ORACLE_HOST", "db.example.com")  # production needs Oracle
    monkeypatch.setenv("FLEXT_ORACLE_SERVICE_NAME", "svc")
    monkeypatch.setenv("FLEXT_ORACLE_USER", "u")
    monkeypatch.setenv("FLEXT_ORACLE_PASSWORD", "p")
    settings = load_settings(environment=environment)
    config = HttpClientConfig.for_environment(settings, zero_waits=False, loopback_only=False)
    assert (config.zero_waits, config.loopback_only) == expected
