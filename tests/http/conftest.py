"""Fixtures: the sample API on loopback and a factory of clients that are always closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flext_infra.http import BasicAuth, FlextHttpClient, HttpClientConfig, create_http_client
from flext_infra.testing import SampleApi

USER, PASSWORD = "http-user", "http-pass-9876"
ALLOCATION = "/wms/lgfapi/v10/entity/allocation/"

MakeClient = Callable[..., FlextHttpClient]


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """A small sample API with basic auth."""
    with SampleApi(records=30, username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture
def make_client(api: SampleApi) -> Iterator[MakeClient]:
    """Build clients for ``api``: zero waits, no cache, a lenient breaker, unless overridden."""
    made: list[FlextHttpClient] = []

    def make(**overrides: Any) -> FlextHttpClient:
        values: dict[str, Any] = {
            "base_url": api.base_url,
            "auth": BasicAuth(USER, PASSWORD),
            "zero_waits": True,
            "backoff_initial": 0.01,
            "cache_enabled": False,
            "breaker_min_calls": 1000,
            "loopback_only": True,
            "timeout": 5.0,
        }
        values.update(overrides)
        client = create_http_client(HttpClientConfig(**values))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def host(api: SampleApi) -> str:
    """The metrics key of the sample API."""
    return f"127.0.0.1:{api.port}"
