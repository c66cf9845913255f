"""Fixtures: a running sample API and a plain httpx client (no resilience) to probe it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flext_infra.testing import SampleApi

USER, PASSWORD = "wms-user", "wms-pass-1234"


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """A small seeded server with basic auth."""
    with SampleApi(records=25, username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A bare httpx client: these tests check the server, not our client stack."""
    with httpx.Client(auth=(USER, PASSWORD), timeout=10) as c:
        yield c


def walk(
    client: httpx.Client, url: str, key: str = "results", **params: Any
) -> list[dict[str, Any]]:
    """Follow ``next_page``/``next`` links from ``url`` and return every record."""
    out: list[dict[str, Any]] = []
    next_url: str | None = url
    first = True
    for _ in range(1000):
        if next_url is None:
            return out
        response = client.get(next_url, params=params or None) if first else client.get(next_url)
        first = False
        response.raise_for_status()
        body = response.json()
        out.extend(body[key])
        next_url = body.get("next_page") if key == "results" else body.get("next")
    raise AssertionError("pagination did not end")
