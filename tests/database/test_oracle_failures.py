"""Oracle failure paths against real loopback sockets (no Oracle server, nothing faked)."""

from __future__ import annotations

import contextlib
import gc
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oracledb
import pytest

from flext_infra import Container, Environment, FlextContainer, ServiceCreationError, load_settings
from flext_infra.database import (
    ConnectConfigurationError,
    ConnectionClosedError,
    DatabaseConfigurationError,
    DatabaseDisposedError,
    DatabaseError,
    DatabaseTimeoutError,
    FatalDatabaseError,
    InvalidCredentialsError,
    ListenerUnreachableError,
    OracleConnectionManager,
    RetriableDatabaseError,
    UnknownServiceError,
    WalletError,
    translate_error,
)
from flext_infra.database._services import SERVICES
from flext_infra.environments import register_profile, validate_environment
from tests.database._tls import WALLET_PASSWORD, hang_up_server, make_wallet, tls_server

PASSWORD = "N0t-In-Any-Log-42"


def _manager(port: int, **options: Any) -> OracleConnectionManager:
    return OracleConnectionManager(
        host="127.0.0.1", port=port, service_name="FREEPDB1", user="etl", password=PASSWORD,
        **{"tcp_connect_timeout": 2.0, "pool_wait_timeout": 2000, **options},
    )  # fmt: skip


def test_closed_port_fails_fast_with_listener_unreachable(
    closed_port: int, logs: io.StringIO
) -> None:
    """A closed port raises ListenerUnreachableError naming host:port, within the timeout."""
    manager = _manager(closed_port)
    started = time.monotonic()
    try:
        with pytest.raises(ListenerUnreachableError) as info, manager.acquire():
            pass
        elapsed = time.monotonic() - started
    finally:
        manager.dispose()
    err = info.value
    assert elapsed < 2.0 + 1.0
    assert f"127.0.0.1:{closed_port}" in str(err)
    assert err.code == "DPY-6005"
    assert err.retriable
    assert "listener" in str(err)
    assert isinstance(err.__cause__, oracledb.OperationalError)
    assert PASSWORD not in str(err)
    captured = logs.getvalue()
    assert "oracle.acquire_failed" in captured
    assert PASSWORD not in captured


def test_health_of_unreachable_database_is_a_failed_result(
    closed_port: int, logs: io.StringIO
) -> None:
    """health() answers with a failed Result saying why, instead of raising."""
    manager = _manager(closed_port)
    try:
        result = manager.health()
    finally:
        manager.dispose()
    assert result.is_failure
    assert result.reason == "listener_unreachable"
    assert isinstance(result.cause, ListenerUnreachableError)
    assert f"127.0.0.1:{closed_port}" in (result.error or "")
    assert PASSWORD not in (result.error or "")
    assert PASSWORD not in logs.getvalue()


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A listener whose accept queue is full, so new TCP handshakes get no answer."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.1)
    yield port
    for c in fillers:
        c.close()
    server.close()


def test_connect_timeout_is_honoured(unanswered_port: int, logs: io.StringIO) -> None:
    """A TCP handshake that never completes fails after tcp_connect_timeout as a timeout."""
    manager = _manager(unanswered_port, tcp_connect_timeout=0.5, pool_min=1, pool_max=1)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseTimeoutError) as info, manager.acquire():
            pass
        elapsed = time.monotonic() - started
    finally:
        manager.dispose()
    assert 0.4 < elapsed < 3.0
    assert info.value.retriable
    assert f"127.0.0.1:{unanswered_port}" in str(info.value)
    assert "FLEXT_ORACLE_TCP_CONNECT_TIMEOUT" in str(info.value)
    assert PASSWORD not in str(info.value) + logs.getvalue()


@contextlib.contextmanager
def _silent_server() -> Iterator[int]:
    """A server that accepts connections and never says a word."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in accepted:
            conn.close()
        thread.join(2)


# python-oracledb's pool thread, stuck in the handshake, drops its socket without
# closing it once the server finally hangs up; that ResourceWarning is the driver's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pool_wait_timeout_and_dispose_with_a_stuck_pool(logs: io.StringIO) -> None:
    """A server that never answers gives a timeout, and dispose still returns in bounded time."""
    with _silent_server() as port:
        manager = _manager(port, pool_wait_timeout=300, pool_min=1, pool_max=1)
        manager.close_timeout = 0.5
        with pytest.raises(DatabaseTimeoutError, match="DPY-4005"), manager.acquire():
            pass
        started = time.monotonic()
        manager.dispose(grace=0.2)
        assert time.monotonic() - started < 2.0
        assert "oracle.pool_close_abandoned" in logs.getvalue()
    # The server hung up: the abandoned close now finishes; let it, so nothing leaks on.
    for thread in threading.enumerate():
        if thread.name == "oracle-pool-close":
            thread.join(10)
            assert not thread.is_alive()
    gc.collect()


def test_dispose_of_a_manager_that_never_connected(closed_port: int, logs: io.StringIO) -> None:
    """Disposing an unused manager, or one whose pool never connected, is quick and repeatable."""
    unused = _manager(closed_port)
    unused.dispose()
    unused.dispose()
    assert unused.disposed
    assert '"pool_created": false' in logs.getvalue()
    with pytest.raises(DatabaseDisposedError), unused.acquire():
        pass

    failed = _manager(closed_port)
    assert failed.health().is_failure  # creates the pool; no connection ever opens
    started = time.monotonic()
    failed.dispose()
    assert time.monotonic() - started < 2.0
    assert '"event": "oracle.pool_closed"' in logs.getvalue()
    failed.dispose()
    with pytest.raises(DatabaseDisposedError):
        _ = failed.pool


def test_engine_uses_the_pool_and_null_pool(closed_port: int) -> None:
    """engine() is SQLAlchemy's Oracle dialect on creator=pool.acquire with NullPool."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    manager = _manager(closed_port)
    try:
        engine = manager.engine()
        assert engine is manager.engine()
        assert engine.dialect.name == "oracle"
        assert engine.dialect.driver == "oracledb"
        assert isinstance(engine.pool, NullPool)
        with pytest.raises(OperationalError) as info, engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM DUAL"))
        assert isinstance(translate_error(info.value), ListenerUnreachableError)
    finally:
        manager.dispose()


def _oracle_error(
    message: str, code: int = 0, *, exc: type[Exception] = oracledb.DatabaseError
) -> Exception:
    # The driver's own error object, built the way the thin driver builds it from a
    # server message; oracledb itself computes isrecoverable and the DPY mapping.
    from oracledb.errors import _Error

    return exc(_Error(message, code=code))


@pytest.mark.parametrize(
    ("error", "expected", "retriable"),
    [
        (_oracle_error("ORA-01017: invalid username/password; logon denied", 1017),
         InvalidCredentialsError, False),
        (_oracle_error("ORA-28000: The account is locked.", 28000), InvalidCredentialsError, False),
        (_oracle_error("ORA-12514: TNS:listener does not currently know of service", 12514),
         UnknownServiceError, True),
        (_oracle_error("ORA-12541: TNS:no listener", 12541), ListenerUnreachableError, True),
        (_oracle_error("ORA-03113: end-of-file on communication channel", 3113),
         ConnectionClosedError, True),
        (_oracle_error("DPY-4011: the database or network closed the connection"),
         ConnectionClosedError, True),
        (_oracle_error("DPY-4005: timed out waiting for the connection pool"),
         DatabaseTimeoutError, True),
        (_oracle_error("DPY-2018: wallet file /w/ewallet.pem was not found"), WalletError, False),
        (_oracle_error("ORA-01033: ORACLE initialization or shutdown in progress", 1033),
         RetriableDatabaseError, True),
        (_oracle_error("ORA-00942: table or view does not exist", 942), FatalDatabaseError, False),
    ],
)  # fmt: skip
def test_driver_errors_become_named_errors(
    error: Exception, expected: type[DatabaseError], retriable: bool
) -> None:
    """Oracle codes map to named errors, retriable where oracledb's isrecoverable says so."""
    err = translate_error(error, target="db:1521/S", secrets=(PASSWORD,))
    assert type(err) is expected
    assert err.retriable is retriable
    assert "db:1521/S" in str(err)
    assert "Check:" in str(err)


def test_connection_closed_error_is_recoverable_per_oracledb() -> None:
    """ORA-03113 is mapped by oracledb to DPY-4011 and flagged recoverable; we keep both."""
    err = translate_error(_oracle_error("ORA-03113: end-of-file on communication channel", 3113))
    assert err.code == "DPY-4011"
    assert err.retriable


def test_staging_without_oracle_is_a_configuration_error_found_by_validate() -> None:
    """validate names the FLEXT_ORACLE_* variables; resolving says the same; nothing is built."""
    report = validate_environment("staging")
    assert not report.ok
    problem = next(p for p in report.problems() if p.startswith("oracle_manager:"))
    for var in ("FLEXT_ORACLE_HOST", "FLEXT_ORACLE_SERVICE_NAME", "FLEXT_ORACLE_USER",
                "FLEXT_ORACLE_DSN"):  # fmt: skip
        assert var in problem
    container = FlextContainer.for_environment("production")
    try:
        with pytest.raises(ServiceCreationError) as info:
            container.resolve("database")
        assert isinstance(info.value.__cause__, DatabaseConfigurationError)
        assert "FLEXT_ORACLE_HOST" in str(info.value)
    finally:
        container.dispose()


def test_staging_with_oracle_configured_validates(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    """With FLEXT_ORACLE_* set, staging validates and database is the oracle_manager itself."""
    monkeypatch.setenv("FLEXT_ORACLE_HOST", "127.0.0.1")
    monkeypatch.setenv("FLEXT_ORACLE_PORT", str(closed_port))
    monkeypatch.setenv("FLEXT_ORACLE_SERVICE_NAME", "FREEPDB1")
    monkeypatch.setenv("FLEXT_ORACLE_USER", "etl")
    monkeypatch.setenv("FLEXT_ORACLE_PASSWORD", PASSWORD)
    report = validate_environment("staging")
    assert not [p for p in report.problems() if "oracle" in p], report.problems()
    container = FlextContainer.for_environment("staging")
    try:
        manager = container.resolve("oracle_manager")
        assert container.resolve("database") is manager
        assert container.resolve(OracleConnectionManager) is manager
        assert isinstance(container.resolve("connection_pool"), oracledb.ConnectionPool)
    finally:
        container.dispose()
    assert manager.disposed


def test_container_disposes_oracle_manager_after_its_dependents(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, logs: io.StringIO
) -> None:
    """Services using oracle_manager are cleaned up while it is still open; it goes last."""
    for name, value in {"HOST": "127.0.0.1", "PORT": str(closed_port), "SERVICE_NAME": "S",
                        "USER": "etl", "PASSWORD": PASSWORD}.items():  # fmt: skip
        monkeypatch.setenv(f"FLEXT_ORACLE_{name}", value)
    settings = load_settings(environment=Environment.DEVELOPMENT)
    events: list[str] = []

    class Loader:
        def __init__(self, oracle_manager: OracleConnectionManager) -> None:
            self.manager = oracle_manager

    def close_loader(loader: Loader) -> None:
        events.append(f"loader closed, manager disposed={loader.manager.disposed}")

    container = Container(cleanup_timeout=30)
    register_profile(container, Environment.DEVELOPMENT, settings)
    container.register_singleton("loader", Loader, cleanup=close_loader)
    loader = container.resolve("loader")
    database = container.resolve("database")  # development: Oracle is configured, so Oracle
    assert database is loader.manager
    assert container.resolve("connection_pool") is loader.manager.pool
    container.dispose()
    assert events == ["loader closed, manager disposed=False"]
    assert loader.manager.disposed
    assert '"kind": "oracle"' in logs.getvalue()  # the choice is logged
    assert PASSWORD not in logs.getvalue()


def test_services_are_declared_for_every_environment() -> None:
    """oracle_manager, connection_pool and database exist in all four environments."""
    for env in Environment:
        keys = {s.key for s in SERVICES if env in s.environments}
        assert keys == {"oracle_manager", "connection_pool", "database"}, env


def test_untrusted_server_certificate_is_a_wallet_error(tmp_path: Path, logs: io.StringIO) -> None:
    """TCPS to a server whose certificate the wallet does not trust fails as WalletError."""
    wallet = make_wallet(tmp_path / "wallet")
    with tls_server(tmp_path) as port:
        manager = _manager(port, protocol="tcps", wallet_location=wallet,
                           wallet_password=WALLET_PASSWORD)  # fmt: skip
        try:
            result = manager.health()
        finally:
            manager.dispose()
    assert isinstance(result.cause, WalletError)
    assert not result.cause.retriable
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert "FLEXT_ORACLE_WALLET_LOCATION" in (result.error or "")
    assert WALLET_PASSWORD not in (result.error or "") + logs.getvalue()
    assert PASSWORD not in logs.getvalue()


def test_tcps_against_a_server_that_hangs_up_is_connection_closed(tmp_path: Path) -> None:
    """A server hanging up in the TLS handshake gives ConnectionClosedError naming the protocol."""
    wallet = make_wallet(tmp_path / "wallet")
    with hang_up_server() as port:
        manager = _manager(port, protocol="tcps", wallet_location=wallet,
                           wallet_password=WALLET_PASSWORD)  # fmt: skip
        try:
            with (
                pytest.raises(ConnectionClosedError, match="FLEXT_ORACLE_PROTOCOL"),
                manager.acquire(),
            ):
                pass
        finally:
            manager.dispose()


def test_password_inside_an_easy_connect_dsn_is_never_shown(
    closed_port: int, logs: io.StringIO
) -> None:
    """A user/password@host DSN is rejected by the driver, whose message is masked."""
    manager = OracleConnectionManager(
        dsn=f"etl/Inline-Secret-1@127.0.0.1:{closed_port}/FREEPDB1", user="etl",
        tcp_connect_timeout=2.0,
    )  # fmt: skip
    try:
        result = manager.health()
    finally:
        manager.dispose()
    # python-oracledb echoes the whole connect string in DPY-4018; we mask the password.
    assert isinstance(result.cause, ConnectConfigurationError)
    assert result.cause.code == "DPY-4018"
    assert manager.target == f"127.0.0.1:{closed_port}/FREEPDB1"
    assert manager.target in (result.error or "")
    assert "Inline-Secret-1" not in (result.error or "") + repr(manager) + logs.getvalue()
