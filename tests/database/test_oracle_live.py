"""Live Oracle suite: runs only against a real server named by FLEXT_TEST_ORACLE_DSN.

Set FLEXT_TEST_ORACLE_DSN (an Easy Connect string, descriptor or TNS alias),
FLEXT_TEST_ORACLE_USER and FLEXT_TEST_ORACLE_PASSWORD; for a wallet also
FLEXT_TEST_ORACLE_WALLET_LOCATION and FLEXT_TEST_ORACLE_WALLET_PASSWORD.
Without them every test here is reported as skipped with that reason.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from flext_infra.database import (
    DatabaseError,
    InvalidCredentialsError,
    OracleConnectionManager,
    ServerFacts,
    parse_version,
)

_REQUIRED = ("FLEXT_TEST_ORACLE_DSN", "FLEXT_TEST_ORACLE_USER", "FLEXT_TEST_ORACLE_PASSWORD")
_MISSING = [name for name in _REQUIRED if not os.environ.get(name)]

pytestmark = [
    pytest.mark.oracle_live,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"no live Oracle: set {', '.join(_REQUIRED)} (missing: {', '.join(_MISSING)})",
    ),
]


def _options(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "dsn": os.environ.get("FLEXT_TEST_ORACLE_DSN"),
        "user": os.environ.get("FLEXT_TEST_ORACLE_USER"),
        "password": os.environ.get("FLEXT_TEST_ORACLE_PASSWORD"),
        "pool_min": 1,
        "pool_max": 1,
        "tcp_connect_timeout": 15.0,
        "pool_wait_timeout": 30_000,
    }
    if os.environ.get("FLEXT_TEST_ORACLE_WALLET_LOCATION"):
        options["wallet_location"] = os.environ["FLEXT_TEST_ORACLE_WALLET_LOCATION"]
        options["wallet_password"] = os.environ.get("FLEXT_TEST_ORACLE_WALLET_PASSWORD")
        options["protocol"] = "tcps"
    options.update(overrides)
    return options


@pytest.fixture
def live() -> Iterator[OracleConnectionManager]:
    """A one-connection pool on the live server."""
    manager = OracleConnectionManager(**_options())
    yield manager
    manager.dispose()


def test_live_health(live: OracleConnectionManager) -> None:
    """health() runs SELECT 1 FROM DUAL and reports latency, pool counts and version."""
    health = live.health().unwrap()
    assert health.dialect == "oracle"
    assert health.latency_ms > 0
    assert health.pool_opened >= 1
    assert health.pool_busy == 0
    assert parse_version(health.server_version)[0] >= 11


def test_live_version_detection(live: OracleConnectionManager) -> None:
    """server_facts() reads the version and MAX_STRING_SIZE once and caches them."""
    facts = live.server_facts()
    assert isinstance(facts, ServerFacts)
    assert live.server_facts() is facts
    with live.acquire() as conn:
        assert facts.version == parse_version(conn.version)
    assert facts.max_identifier_bytes == (128 if facts.version[:2] >= (12, 2) else 30)
    assert isinstance(facts.max_string_size_extended, bool)


def test_live_pool_reuses_its_session(live: OracleConnectionManager) -> None:
    """A one-connection pool hands the same session to acquire() and to the engine."""
    query = "SELECT SYS_CONTEXT('USERENV', 'SID') FROM DUAL"
    with live.acquire() as conn:
        cur = conn.cursor()
        first = cur.execute(query).fetchone()[0]
        cur.close()
    with live.acquire() as conn:
        cur = conn.cursor()
        second = cur.execute(query).fetchone()[0]
        cur.close()
    with live.engine().connect() as c:
        third = c.execute(text(query)).scalar()
    assert first == second == third
    assert live.pool.opened == 1


def test_live_session_callback_sets_current_schema_and_nls() -> None:
    """The session callback applies CURRENT_SCHEMA and NLS settings to pooled sessions."""
    user = os.environ["FLEXT_TEST_ORACLE_USER"].upper()
    manager = OracleConnectionManager(
        **_options(current_schema=user, nls_date_format="YYYY-MM-DD", time_zone="UTC")
    )
    try:
        with manager.acquire() as conn:
            cur = conn.cursor()
            schema, fmt = cur.execute(
                "SELECT SYS_CONTEXT('USERENV','CURRENT_SCHEMA'), "
                "(SELECT value FROM nls_session_parameters WHERE parameter='NLS_DATE_FORMAT') "
                "FROM DUAL"
            ).fetchone()
            cur.close()
        assert schema == user
        assert fmt == "YYYY-MM-DD"
    finally:
        manager.dispose()


def test_live_forced_close_after_grace(live: OracleConnectionManager, logs: io.StringIO) -> None:
    """A connection held past the grace period is force-closed, and that is logged."""
    held = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with live.acquire() as conn:
                held.set()
                release.wait(10)
                cur = conn.cursor()
                cur.execute("SELECT 1 FROM DUAL")
        except DatabaseError as exc:  # the pool was closed under it, as intended
            errors.append(exc)

    worker = threading.Thread(target=hold)
    worker.start()
    assert held.wait(30)
    started = time.monotonic()
    live.dispose(grace=0.3)
    assert time.monotonic() - started < live.close_timeout + 1
    release.set()
    worker.join(10)
    assert "oracle.pool_force_close" in logs.getvalue()
    assert errors, "using a force-closed connection should fail"


def test_live_bad_password_is_invalid_credentials(logs: io.StringIO) -> None:
    """A wrong password fails as InvalidCredentialsError and is not echoed anywhere."""
    wrong = "Wr0ng-Pa55word-xyz"
    manager = OracleConnectionManager(**_options(password=wrong))
    try:
        result = manager.health()
    finally:
        manager.dispose()
    assert isinstance(result.cause, InvalidCredentialsError)
    assert not result.cause.retriable
    assert wrong not in (result.error or "")
    assert wrong not in logs.getvalue()
