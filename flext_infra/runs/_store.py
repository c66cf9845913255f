"""DB-API access to the ledger tables, the same SQL for SQLite, PostgreSQL and Oracle.

The statements are plain SQL with ``:name`` parameters; a small dialect class
per database turns them into the driver's paramstyle and says how to page, how
to bind a time and how to tell a duplicate key. Written against DB-API rather
than SQLAlchemy Core because a plugin process records its own run: through
``sqlite3`` that costs a few milliseconds, through SQLAlchemy a third of a
second of imports at every start (see ``flext_infra/_lazy.py``). SQLAlchemy
still owns the DDL (``_tables.py``), run once when the tables are missing.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from flext_infra.observability import get_logger

log = get_logger("flext.runs")

RUNS, STREAMS, LOCKS = "flext_runs", "flext_run_streams", "flext_run_locks"

Connect = Callable[[], AbstractContextManager[Any]]


class _Dialect:
    """Paramstyle, paging and time binding of one database."""

    name: ClassVar[str] = "sqlite"

    def sql(self, text: str) -> str:
        """``text`` in the driver's paramstyle (``:name`` is the written form)."""
        return text

    def page(self) -> str:
        """The clause that takes ``:limit`` rows after ``:offset``."""
        return "LIMIT :limit OFFSET :offset"

    def bind_time(self, value: datetime | None) -> Any:
        """A UTC time as the driver binds it (naive UTC)."""
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def read_time(self, value: Any) -> datetime | None:
        """A stored time back as an aware UTC datetime."""
        if value is None:
            return None
        found: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if found.tzinfo is None:
            return found.replace(tzinfo=UTC)
        return found.astimezone(UTC)


class _SqliteDialect(_Dialect):
    name = "sqlite"

    def bind_time(self, value: datetime | None) -> Any:
        # Text in one fixed-width form, so comparisons order like times; sqlite3's
        # own datetime adapter is deprecated (Python 3.12).
        if value is None:
            return None
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _PostgresDialect(_Dialect):
    name = "postgresql"
    _param = re.compile(r"(?<![:\w]):(\w+)")

    def sql(self, text: str) -> str:
        return self._param.sub(r"%(\1)s", text)


class _OracleDialect(_Dialect):
    name = "oracle"

    def page(self) -> str:
        return "OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY"


_DIALECTS: dict[str, type[_Dialect]] = {
    "sqlite": _SqliteDialect,
    "postgresql": _PostgresDialect,
    "oracle": _OracleDialect,
}


def is_duplicate_key(exc: BaseException) -> bool:
    """True for a driver's unique-constraint violation (PEP 249 ``IntegrityError``)."""
    return any(cls.__name__ == "IntegrityError" for cls in type(exc).__mro__)


class LedgerStore:
    """The ledger's connection and SQL: creates the tables on first use.

    Args:
        connect: Returns a context manager yielding a DB-API connection (a
            pooled one is returned on exit, uncommitted work rolled back).
        dialect: ``sqlite``, ``postgresql`` or ``oracle``.
        schema: The schema holding the tables (None: the connection's default).
        target: The database without credentials, for logs and messages.
    """

    def __init__(
        self, connect: Connect, dialect: str, *, schema: str | None = None, target: str = ""
    ) -> None:
        if dialect not in _DIALECTS:
            raise ValueError(f"the run ledger supports {', '.join(_DIALECTS)}, not {dialect}")
        self._connect = connect
        self.dialect: _Dialect = _DIALECTS[dialect]()
        self.schema = schema
        self.target = target
        self._ready = threading.Event()
        self._ready_lock = threading.Lock()

    def table(self, name: str) -> str:
        """``name``, qualified by the schema when one is set."""
        return f"{self.schema}.{name}" if self.schema else name

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection to a database that has the ledger tables."""
        self.ensure_tables()
        with self._connect() as conn:
            yield conn

    def execute(self, conn: Any, text: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement on ``conn``; the number of rows it touched."""
        cursor = conn.cursor()
        try:
            cursor.execute(self.dialect.sql(text), dict(params or {}))
            return int(cursor.rowcount or 0)
        finally:
            cursor.close()

    def query(
        self, conn: Any, text: str, params: Mapping[str, Any] | None = None
    ) -> list[Sequence[Any]]:
        """Run one query on ``conn``; every row."""
        cursor = conn.cursor()
        try:
            cursor.execute(self.dialect.sql(text), dict(params or {}))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def write(self, text: str, params: Mapping[str, Any] | None = None) -> int:
        """One statement in its own transaction; the rows it touched."""
        with self.connection() as conn:
            count = self.execute(conn, text, params)
            conn.commit()
            return count

    def read(self, text: str, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        """One query on a fresh connection."""
        with self.connection() as conn:
            rows = self.query(conn, text, params)
            conn.rollback()
            return rows

    # ------------------------------------------------------------------ tables
    def ensure_tables(self) -> None:
        """Create the ledger tables if they are missing (once per store)."""
        if self._ready.is_set():
            return
        with self._ready_lock:
            if self._ready.is_set():
                return
            if not self._tables_exist():
                self._create_tables()
            self._ready.set()

    def _tables_exist(self) -> bool:
        with self._connect() as conn:
            try:
                for name in (RUNS, STREAMS, LOCKS):
                    self.query(conn, f"SELECT 1 FROM {self.table(name)} WHERE 1 = 0")
            except Exception as exc:
                if not _is_driver_error(exc):
                    raise
                conn.rollback()  # PostgreSQL aborts the transaction on the failed probe
                return False
            conn.rollback()
            return True

    def _create_tables(self) -> None:
        from flext_infra.runs._tables import ddl

        log.info("runs.ledger_created", target=self.target, schema=self.schema)
        with self._connect() as conn:
            for statement in ddl(self.dialect.name, self.schema):
                try:
                    self.execute(conn, statement)
                    conn.commit()
                except Exception as exc:
                    # Another process created it between our probe and now.
                    if not _is_driver_error(exc):
                        raise
                    conn.rollback()
                    log.debug("runs.ddl_skipped", statement=statement[:80], error=str(exc))
        if not self._tables_exist():
            raise RuntimeError(f"the run ledger tables could not be created in {self.target}")


def _is_driver_error(exc: BaseException) -> bool:
    # Every PEP 249 driver error derives from a class named Error (sqlite3, psycopg,
    # oracledb); our DatabaseError translations of them too.
    return any(cls.__name__ in ("Error", "DatabaseError") for cls in type(exc).__mro__)


# ------------------------------------------------------------- connections
def sqlite_connect(path: Path, busy_timeout_s: float = 30.0) -> Connect:
    """Connections to an SQLite file (WAL, busy timeout), without SQLAlchemy."""

    @contextlib.contextmanager
    def connect() -> Iterator[Any]:
        import sqlite3  # only when the ledger is SQLite: the plugins import it lazily too

        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=busy_timeout_s, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # corruption-safe under WAL, no fsync/commit
            yield conn
        finally:
            conn.close()

    return connect


def postgres_connect(url: str, connect_timeout: int = 10) -> Connect:
    """Connections to PostgreSQL through psycopg 3 directly, from a SQLAlchemy-style URL."""
    parts = urlsplit(url)
    conninfo = urlunsplit(("postgresql", *parts[1:]))

    @contextlib.contextmanager
    def connect() -> Iterator[Any]:
        import psycopg

        conn = psycopg.connect(
            conninfo, connect_timeout=connect_timeout, application_name="flext-runs"
        )
        try:
            yield conn
        finally:
            conn.close()

    return connect


def url_dialect(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``oracle`` from a SQLAlchemy URL's scheme."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return {"postgres": "postgresql"}.get(scheme, scheme)


def sqlite_path(url: str) -> Path:
    """The file of an ``sqlite:///path`` URL."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    if not rest or rest == ":memory:":
        raise ValueError("the run ledger needs an SQLite file, not an in-memory database")
    return Path(rest.split("?", 1)[0])
