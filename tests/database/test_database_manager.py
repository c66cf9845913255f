"""DatabaseManager on real SQLite files and the real PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from flext_infra import FlextContainer, configure_for_testing, load_settings
from flext_infra.database import (
    DatabaseDisposedError,
    DatabaseHealth,
    DatabaseManager,
    DatabaseTimeoutError,
    FatalDatabaseError,
    ListenerUnreachableError,
    UnknownServiceError,
    create_database_manager,
)
from flext_infra.database._sqlite import AdaptingConnection

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseManager]:
    """A manager on a fresh SQLite file, or on the local PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'flext.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    m = DatabaseManager(url)
    yield m
    m.dispose()


@pytest.fixture
def table(manager: DatabaseManager, table_name: str) -> Iterator[str]:
    """A fresh two-column table, dropped afterwards."""
    with manager.acquire() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table_name} (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        cur.close()
        conn.commit()
    yield table_name
    if not manager.disposed:
        with manager.acquire() as conn:
            cur = conn.cursor()
            cur.execute(f"DROP TABLE {table_name}")
            cur.close()
            conn.commit()


def _param(manager: DatabaseManager) -> str:
    return "?" if manager.dialect == "sqlite" else "%s"


def test_acquire_and_query(manager: DatabaseManager, table: str) -> None:
    """acquire() gives a DB-API connection; committed rows are visible to the next one."""
    p = _param(manager)
    with manager.acquire() as conn:
        cur = conn.cursor()
        cur.executemany(f"INSERT INTO {table} VALUES ({p}, {p})", [(1, "a"), (2, "b")])
        conn.commit()
        cur.close()
    with manager.acquire() as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(1, "a"), (2, "b")]
        cur.close()


def test_uncommitted_work_is_rolled_back_on_release(manager: DatabaseManager, table: str) -> None:
    """Leaving acquire() without commit() rolls the transaction back."""
    p = _param(manager)
    with manager.acquire() as conn:
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {table} VALUES ({p}, {p})", (1, "lost"))
        cur.close()
    with manager.engine().connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0


def test_health_reports_latency_pool_and_version(manager: DatabaseManager) -> None:
    """health() is a successful Result with latency, pool counts and the server version."""
    result = manager.health()
    assert result.is_success, result.error
    health = result.unwrap()
    assert isinstance(health, DatabaseHealth)
    assert health.dialect == manager.dialect
    assert 0 < health.latency_ms < 5000
    assert health.pool_opened >= 1
    assert health.pool_busy == 0
    assert health.server_version[0].isdigit()
    if manager.dialect == "postgresql":
        with manager.acquire() as conn:
            assert health.server_version.split(".")[0] == str(
                conn.driver_connection.info.server_version // 10000
            )
    else:
        assert health.server_version == sqlite3.sqlite_version


def test_concurrent_use_from_threads(manager: DatabaseManager, table: str) -> None:
    """Eight threads writing and reading through acquire() and the engine all succeed."""
    p = _param(manager)
    errors: list[BaseException] = []
    per_thread = 25

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                with manager.acquire() as conn:
                    cur = conn.cursor()
                    cur.execute(f"INSERT INTO {table} VALUES ({p}, {p})", (n * 1000 + i, f"t{n}"))
                    conn.commit()
                    cur.close()
                with manager.engine().connect() as c:
                    c.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    with manager.engine().connect() as c:
        assert c.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 8 * per_thread
    assert manager.health().unwrap().pool_busy == 0


def test_dispose_waits_for_connections_in_use_then_refuses_new_ones(
    manager: DatabaseManager,
) -> None:
    """dispose() lets a checked-out connection finish, then acquire() raises; twice is fine."""
    holding = threading.Event()
    finished: list[float] = []

    def hold() -> None:
        with manager.acquire() as conn:
            holding.set()
            time.sleep(0.3)
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        finished.append(time.monotonic())

    worker = threading.Thread(target=hold)
    worker.start()
    assert holding.wait(10)
    manager.dispose(grace=5)
    disposed_at = time.monotonic()
    worker.join(10)
    assert finished
    assert finished[0] <= disposed_at
    assert manager.disposed
    with pytest.raises(DatabaseDisposedError), manager.acquire():
        pass
    manager.dispose()


def test_dispose_of_an_unused_manager(tmp_path: Path) -> None:
    """A manager that never connected disposes cleanly, and twice."""
    m = DatabaseManager(f"sqlite:///{tmp_path / 'never.db'}")
    m.dispose()
    m.dispose()
    assert m.disposed
    assert not (tmp_path / "never.db").exists()


# ------------------------------------------------------------------------ SQLite


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    """Every SQLite connection is in WAL mode with the configured busy timeout."""
    settings = load_settings().database.model_copy(update={"sqlite_busy_timeout": 2.5})
    m = DatabaseManager(f"sqlite:///{tmp_path / 'w.db'}", settings)
    try:
        with m.acquire() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    finally:
        m.dispose()


def test_sqlite_binds_decimal_and_datetime_exactly(tmp_path: Path) -> None:
    """Decimal keeps every digit; datetimes keep microseconds and offset (DB-API and engine)."""
    m = DatabaseManager(f"sqlite:///{tmp_path / 'd.db'}")
    amount = Decimal("12345678901234567890.123456789")
    aware = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=-3)))
    naive = datetime(2024, 1, 2, 3, 4, 5)
    try:
        with m.acquire() as conn:
            conn.execute("CREATE TABLE v (amount TEXT, at TEXT, naive TEXT, day TEXT)")
            conn.cursor().executemany(
                "INSERT INTO v VALUES (?, ?, ?, ?)", [(amount, aware, naive, date(2024, 3, 1))]
            )
            conn.commit()
            row = conn.execute("SELECT amount, at, naive, day, datetime(at) FROM v").fetchone()
        assert Decimal(row[0]) == amount
        assert datetime.fromisoformat(row[1]) == aware
        assert datetime.fromisoformat(row[2]) == naive
        assert row[3] == "2024-03-01"
        assert row[4] == "2024-03-01 02:59:58"  # SQLite reads the offset and converts to UTC
        with m.engine().begin() as c:
            c.execute(text("INSERT INTO v (amount, at) VALUES (:a, :t)"),
                      {"a": Decimal("0.10"), "t": datetime(2024, 5, 6, tzinfo=UTC)})  # fmt: skip
            got = c.execute(text("SELECT amount, at FROM v WHERE amount = '0.10'")).one()
        assert got == ("0.10", "2024-05-06 00:00:00+00:00")
    finally:
        m.dispose()


def test_sqlite_adaptation_has_no_global_side_effect(tmp_path: Path) -> None:
    """Our connections adapt Decimal; a plain sqlite3 connection in this process still cannot."""
    adapters_before = dict(sqlite3.adapters)
    m = DatabaseManager(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with m.acquire() as conn:
            conn.execute("SELECT ?", (Decimal("1.5"),)).fetchone()
    finally:
        m.dispose()
    assert dict(sqlite3.adapters) == adapters_before
    plain = sqlite3.connect(":memory:")
    try:
        with pytest.raises(sqlite3.ProgrammingError):
            plain.execute("SELECT ?", (Decimal("1.5"),))
    finally:
        plain.close()


def test_sqlite_lock_wait_becomes_a_retriable_timeout(tmp_path: Path) -> None:
    """A writer blocked past the busy timeout gets DatabaseTimeoutError, marked retriable."""
    settings = load_settings().database.model_copy(update={"sqlite_busy_timeout": 0.2})
    m = DatabaseManager(f"sqlite:///{tmp_path / 'l.db'}", settings)
    try:
        with m.acquire() as first:
            first.execute("CREATE TABLE x (a INTEGER)")
            first.commit()
            first.execute("INSERT INTO x VALUES (1)")  # holds the write lock, uncommitted
            started = time.monotonic()
            with pytest.raises(DatabaseTimeoutError) as info, m.acquire() as second:
                second.execute("INSERT INTO x VALUES (2)")
            assert 0.15 < time.monotonic() - started < 5
        assert info.value.retriable
        assert "FLEXT_DATABASE_SQLITE_BUSY_TIMEOUT" in str(info.value)
    finally:
        m.dispose()


# -------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_url_gets_psycopg3_and_copy_works(pg_url: str, table_name: str) -> None:
    """A bare postgresql:// URL uses psycopg 3, whose COPY is reachable from acquire()."""
    m = DatabaseManager(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert m.engine().dialect.driver == "psycopg"
        with m.acquire() as conn:
            raw = conn.driver_connection
            assert isinstance(raw, psycopg.Connection)
            with raw.cursor() as cur:
                cur.execute(f"CREATE TABLE {table_name} (id int, amount numeric, at timestamptz)")
                with cur.copy(f"COPY {table_name} FROM STDIN") as copy:
                    copy.write_row((1, Decimal("1.10"), datetime(2024, 1, 1, tzinfo=UTC)))
                    copy.write_row((2, None, None))
                cur.execute(f"SELECT count(*), sum(amount) FROM {table_name}")
                assert cur.fetchone() == (2, Decimal("1.10"))
                cur.execute(f"DROP TABLE {table_name}")
            conn.commit()
    finally:
        m.dispose()


@pytest.mark.postgres
def test_postgres_unknown_database_and_closed_port(pg_url: str, closed_port: int,
                                                   logs: io.StringIO) -> None:  # fmt: skip
    """A missing database and a closed port fail with named errors and no password."""
    missing = DatabaseManager(pg_url.rsplit("/", 1)[0] + "/flext_no_such_db")
    closed = DatabaseManager(f"postgresql+psycopg://etl:Pg-Secret-77@127.0.0.1:{closed_port}/test")
    try:
        result = missing.health()
        assert result.is_failure
        assert isinstance(result.cause, UnknownServiceError)
        assert result.cause.code == "3D000"
        with pytest.raises(ListenerUnreachableError) as info, closed.acquire():
            pass
        assert f"127.0.0.1:{closed_port}" in str(info.value)
        assert "Pg-Secret-77" not in str(info.value)
        assert "Pg-Secret-77" not in logs.getvalue()
    finally:
        missing.dispose()
        closed.dispose()


# ----------------------------------------------------------------- environments


def test_test_profile_uses_sqlite_in_the_temporary_data_dir() -> None:
    """configure_for_testing gives a SQLite database inside the temp data_dir."""
    container = configure_for_testing()
    try:
        db = container.resolve("database")
        data_dir = container.resolve("data_dir")
        assert isinstance(db, DatabaseManager)
        assert db.dialect == "sqlite"
        assert str(data_dir) in db.target
        assert db.health().is_success
    finally:
        container.dispose()
    assert db.disposed


@pytest.mark.postgres
def test_test_profile_uses_postgres_when_asked(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLEXT_TEST_POSTGRES_URL switches the test profile's database to PostgreSQL."""
    monkeypatch.setenv("FLEXT_TEST_POSTGRES_URL", pg_url)
    container = configure_for_testing()
    try:
        db = container.resolve("database")
        assert db.dialect == "postgresql"
        assert db.health().is_success
    finally:
        container.dispose()


def test_development_without_oracle_uses_sqlite_under_data_dir_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """development falls back to <data_dir>/flext.db and logs which database it chose."""
    monkeypatch.setenv("FLEXT_DATA_DIR", str(tmp_path / "data"))
    container = FlextContainer.for_environment("development")
    try:
        db = container.resolve("database")
        assert db.target == f"sqlite:///{tmp_path / 'data' / 'flext.db'}"
        assert db.health().is_success
    finally:
        container.dispose()
    out = logs.getvalue()
    assert '"event": "database.selected"' in out
    assert '"kind": "sqlite"' in out


def test_create_database_manager_picks_by_settings(tmp_path: Path) -> None:
    """FlextSettings without Oracle or URL give SQLite under data_dir; a URL gives its manager."""
    m = create_database_manager(load_settings(), data_dir=tmp_path)
    try:
        assert isinstance(m, DatabaseManager)
        assert m.target == f"sqlite:///{tmp_path / 'flext.db'}"
    finally:
        m.dispose()


class _Stamp(datetime):
    """A datetime subclass, as libraries like pendulum return."""


def test_sqlite_adapts_named_parameters_lists_and_subclasses(tmp_path: Path) -> None:
    """Named parameters, list rows and datetime subclasses are adapted too."""
    m = DatabaseManager(f"sqlite:///{tmp_path / 'n.db'}")
    stamp = _Stamp(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    try:
        with m.acquire() as conn:
            conn.execute("CREATE TABLE v (a TEXT, b TEXT, c INTEGER)")
            conn.execute("INSERT INTO v VALUES (:a, :b, :c)", {"a": Decimal("2.50"), "b": stamp,
                                                               "c": 7})  # fmt: skip
            conn.executemany("INSERT INTO v VALUES (?, ?, ?)", [[Decimal("-0"), None, 1]])
            conn.commit()
            rows = conn.execute("SELECT a, b, c FROM v ORDER BY c DESC").fetchall()
        assert rows == [("2.50", "2024-01-02 03:04:05+00:00", 7), ("-0", None, 1)]
    finally:
        m.dispose()


# No deadline: the machine is shared and timing says nothing here.
@settings(deadline=None)
@given(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.none() | st.just(UTC)),
)
def test_sqlite_round_trips_any_decimal_and_datetime(value: Decimal, moment: datetime) -> None:
    """Whatever Decimal or datetime goes in comes back equal after parsing the text."""
    conn = sqlite3.connect(":memory:", factory=AdaptingConnection)
    try:
        conn.execute("CREATE TABLE v (a TEXT, b TEXT)")
        conn.execute("INSERT INTO v VALUES (?, ?)", (value, moment))
        a, b = conn.execute("SELECT a, b FROM v").fetchone()
    finally:
        conn.close()
    assert Decimal(a) == value
    assert str(Decimal(a)) == str(value)
    assert datetime.fromisoformat(b) == moment


def test_driver_errors_inside_acquire_become_database_errors(manager: DatabaseManager,
                                                             table: str) -> None:  # fmt: skip
    """A constraint violation inside acquire() is a FatalDatabaseError caused by the driver's."""
    p = _param(manager)
    sql = f"INSERT INTO {table} VALUES ({p}, {p})"
    with pytest.raises(FatalDatabaseError) as info, manager.acquire() as conn:
        conn.cursor().executemany(sql, [(1, "a"), (1, "dup")])
    assert not info.value.retriable
    assert info.value.__cause__ is not None
    assert (
        "integrity" in type(info.value.__cause__).__name__.lower()
        or "unique" in str(info.value).lower()
    )
