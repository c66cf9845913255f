"""Database tests: no stray FLEXT_* settings, captured logs, a free closed port, PostgreSQL."""

from __future__ import annotations

import io
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flext_infra import configure_logging

#: The PostgreSQL that runs on this machine and in CI (trust auth, database ``test``).
PG_URL = os.environ.get(
    "FLEXT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty directory with no FLEXT_* settings (live-test DSNs kept)."""
    for name in list(os.environ):
        if name.startswith("FLEXT_") and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("FLEXT_TEST_POSTGRES_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged during the test, rendered as JSON lines."""
    buffer = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=buffer)
    yield buffer
    configure_logging(level="INFO", fmt="console")


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was just bound and released, so nothing listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=5432, dbname="test", user="postgres", connect_timeout=3
        ):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL; skipped (with the reason) when the server is down."""
    reason = _postgres_reachable()
    if reason is not None:
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def table_name() -> str:
    """A table name no other test (or concurrent run) uses."""
    return f"t_{uuid.uuid4().hex[:12]}"
