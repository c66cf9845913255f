"""``DatabaseManager``: the same interface as the Oracle manager, for a SQLAlchemy URL.

Dialect differences (pool class, connect arguments, per-connection setup,
the version string) live in one small profile class per dialect, not in
branches through the manager.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flext_infra._lazy import lazy_module
from flext_infra._result import Result
from flext_infra.database._base import DatabaseHealth, _Leases, _ManagerBase
from flext_infra.database._errors import (
    DatabaseConfigurationError,
    DatabaseError,
)
from flext_infra.database._sqlite import AdaptingConnection
from flext_infra.observability import get_logger, redactor
from flext_infra.settings import DatabaseSettings

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL, Engine
else:
    # Imported on first use: a tap builds the container but never opens a database.
    sa = lazy_module("sqlalchemy")

_log = get_logger("flext.database")


class _Profile:
    """Engine arguments and per-connection setup for one dialect."""

    name: ClassVar[str] = "generic"
    probe: ClassVar[str] = "SELECT 1"

    def __init__(self, url: URL, settings: DatabaseSettings) -> None:
        self.url = url
        self.settings = settings

    def engine_kwargs(self) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    def on_connect(self, dbapi_connection: Any) -> None:
        """Run on every new DB-API connection."""

    def server_version(self, engine: Engine) -> str:
        info = engine.dialect.server_version_info
        return ".".join(str(p) for p in info) if info else "unknown"


class _SqliteProfile(_Profile):
    name = "sqlite"

    @property
    def is_memory(self) -> bool:
        return self.url.database in (None, "", ":memory:") or "mode=memory" in str(self.url)

    def engine_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "connect_args": {
                # Per-connection Decimal/datetime binding; see _sqlite.py for why not
                # sqlite3.register_adapter.
                "factory": AdaptingConnection,
                # sqlite3's timeout is SQLite's busy timeout: how long a writer waits.
                "timeout": self.settings.sqlite_busy_timeout,
                "check_same_thread": False,
            },
        }
        if not self.is_memory:
            kwargs["pool_size"] = self.settings.pool_size
            kwargs["max_overflow"] = self.settings.max_overflow
            kwargs["pool_timeout"] = self.settings.pool_timeout
        return kwargs

    def on_connect(self, dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not self.is_memory:
                # WAL lets readers run while one writer writes; with WAL,
                # synchronous=NORMAL stays corruption-safe and avoids an fsync per commit.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            busy_ms = int(self.settings.sqlite_busy_timeout * 1000)
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    def server_version(self, engine: Engine) -> str:
        return sqlite3.sqlite_version


class _PostgresProfile(_Profile):
    name = "postgresql"

    def engine_kwargs(self) -> dict[str, Any]:
        return {
            "pool_pre_ping": True,
            "pool_size": self.settings.pool_size,
            "max_overflow": self.settings.max_overflow,
            "pool_timeout": self.settings.pool_timeout,
            "connect_args": {
                "connect_timeout": self.settings.connect_timeout,
                "application_name": "flext",
            },
        }


_PROFILES: dict[str, type[_Profile]] = {"sqlite": _SqliteProfile, "postgresql": _PostgresProfile}


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; a bare ``postgresql://`` gets the psycopg 3 driver.

    Raises:
        DatabaseConfigurationError: the URL cannot be parsed.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        # The message would echo the URL, password included: describe it instead.
        raise DatabaseConfigurationError(
            f"{DatabaseSettings.variable('url')}: not a SQLAlchemy URL ({type(exc).__name__})"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class DatabaseManager(_ManagerBase):
    """Connections, engine, health and dispose for a SQLAlchemy URL (SQLite, PostgreSQL).

    The same interface as :class:`OracleConnectionManager`, so code above the
    database layer does not care which one it holds::

        db = DatabaseManager("sqlite:///var/flext.db")
        with db.acquire() as conn:  # a DB-API connection
            conn.execute("CREATE TABLE t (x TEXT)")
            conn.commit()
        db.dispose()

    SQLite gets WAL mode, a busy timeout and exact ``Decimal``/``datetime``
    binding; PostgreSQL uses psycopg 3 (``postgresql+psycopg://``), whose
    ``COPY`` is reachable through ``acquire()``'s ``driver_connection``.

    Args:
        url: A SQLAlchemy URL.
        settings: Pool and timeout knobs; the ``FLEXT_DATABASE_*`` defaults otherwise.
        echo: Log every SQL statement (debugging).
    """

    def __init__(
        self,
        url: str | URL,
        settings: DatabaseSettings | None = None,
        *,
        echo: bool = False,
    ) -> None:
        self.url = normalize_url(url)
        self.settings = settings if settings is not None else DatabaseSettings.model_construct()
        if self.url.password:
            redactor.add([str(self.url.password)])
        self._secrets = (str(self.url.password),) if self.url.password else ()
        backend = self.url.get_backend_name()
        self._profile = _PROFILES.get(backend, _Profile)(self.url, self.settings)
        if isinstance(self._profile, _SqliteProfile) and not self._profile.is_memory:
            assert self.url.database is not None
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self._target = self.url.render_as_string(hide_password=True)
        try:
            self._engine = sa.create_engine(self.url, echo=echo, **self._profile.engine_kwargs())
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise DatabaseConfigurationError(
                f"cannot build an engine for {self._target}: {type(exc).__name__}: {exc}"
            ) from None
        sa.event.listen(self._engine, "connect", self._on_connect)
        self._leases = _Leases()

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        self._profile.on_connect(dbapi_connection)

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql``, ... (the SQLAlchemy backend name)."""
        return self.url.get_backend_name()

    def engine(self) -> Engine:
        """The SQLAlchemy engine (pooled)."""
        return self._engine

    @contextmanager
    def acquire(self) -> Iterator[Any]:
        """A pooled DB-API connection, returned to the pool on exit.

        Uncommitted work is rolled back on return: call ``commit()`` inside
        the block. The object proxies the driver's connection
        (``cursor()``, ``commit()``, ...); the raw driver connection (a
        ``psycopg.Connection`` or ``sqlite3.Connection``) is ``.driver_connection``.

        Raises:
            DatabaseError: connecting failed, or a driver error inside the block.
        """
        self._leases.begin(self._target)
        try:
            try:
                raw = self._engine.raw_connection()
            except Exception as exc:
                # The pool raises the driver's own error on connect, not SQLAlchemy's.
                if not _is_driver_error(exc):
                    raise
                raise self._acquire_error(exc, _log, "database.acquire_failed") from exc
            try:
                yield raw
            except DatabaseError:
                raise
            except Exception as exc:
                if _is_driver_error(exc):
                    raise self._error(exc) from exc
                raise
            finally:
                raw.close()
        finally:
            self._leases.end()

    def health(self) -> Result[DatabaseHealth]:
        """The probe query's latency, pool opened/busy, and the server version."""
        try:
            with self.acquire() as connection:
                started = time.perf_counter()
                cursor = connection.cursor()
                try:
                    cursor.execute(self._profile.probe)
                    cursor.fetchone()
                finally:
                    cursor.close()
                latency_ms = (time.perf_counter() - started) * 1000
        except DatabaseError as err:
            return Result.fail(str(err), reason=err.reason, cause=err)
        opened, busy = _pool_counts(self._engine)
        return Result.ok(
            DatabaseHealth(
                self.dialect,
                self._target,
                round(latency_ms, 3),
                opened,
                busy,
                self._profile.server_version(self._engine),
            )
        )

    def dispose(self, grace: float | None = None) -> None:
        """Wait up to ``grace`` seconds for connections in use, then close them all.

        A second call does nothing.
        """
        if not self._leases.close():
            return
        grace = self.settings.close_grace_seconds if grace is None else grace
        left = self._leases.wait_returned(grace)
        if left:
            _log.warning("database.dispose_busy", target=self._target, busy=left, grace_s=grace)
        self._engine.dispose()
        _log.info("database.disposed", target=self._target)


def _is_driver_error(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.SQLAlchemyError | sqlite3.Error):
        return True
    # psycopg is imported only when a PostgreSQL URL is used; look it up, don't import it.
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def _pool_counts(engine: Engine) -> tuple[int, int]:
    pool: Any = engine.pool
    busy = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    idle = int(pool.checkedin()) if hasattr(pool, "checkedin") else 0
    return idle + busy, busy
