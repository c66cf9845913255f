"""ADBC connections for the columnar load path on PostgreSQL and SQLite.

ADBC's PostgreSQL driver writes an Arrow batch with binary ``COPY`` and its
SQLite driver binds it in C; both release the GIL while they work, so a batch
loads while the next one is decoded (``_loader``). One connection per target
run, opened on the first columnar batch and used only by the loader: DDL,
staging tables and the rows of a batch share its transaction.

The drivers are imported here, on first use, so a run that never loads a
columnar batch (``columnar: false``, Oracle) does not pay for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import pyarrow as pa

    from target_flext_oracle._plan import TableRef


class AdbcSession:
    """One ADBC connection: statements and Arrow ingestion inside explicit transactions."""

    def __init__(self, conn: Any, *, schemas: bool) -> None:
        self._conn = conn
        self._cursor = conn.cursor()
        self._schemas = schemas

    def execute(self, sql: str) -> None:
        """Run one statement in the open transaction."""
        self._cursor.execute(sql)

    def ingest(self, ref: TableRef, data: pa.Table, *, temporary: bool = False) -> None:
        """Append ``data`` (columns named as the table's) to an existing table."""
        self._cursor.adbc_ingest(
            ref.name,
            data,
            mode="append",
            db_schema_name=ref.schema if (self._schemas and not temporary) else None,
            temporary=temporary,
        )

    @contextlib.contextmanager
    def transaction(self, on_commit: Callable[[], object] | None = None) -> Iterator[AdbcSession]:
        """Commit when the block ends (then ``on_commit``), roll back on any exception.

        Runs on the loader thread, which stop signals never interrupt: nothing to defer.
        """
        try:
            yield self
        except BaseException:
            with contextlib.suppress(Exception):
                self._conn.rollback()
            raise
        self._conn.commit()
        if on_commit is not None:
            on_commit()

    def cancel(self) -> None:
        """Ask the driver to stop the statement in progress (from another thread)."""
        with contextlib.suppress(Exception):
            self._cursor.adbc_cancel()

    def close(self) -> None:
        """Close the cursor and the connection (safe to call twice)."""
        with contextlib.suppress(Exception):
            self._cursor.close()
        with contextlib.suppress(Exception):
            self._conn.close()


def postgres_session(url: str) -> AdbcSession:
    """An ADBC PostgreSQL connection for a SQLAlchemy URL (``application_name=flext``)."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    parsed = sa.engine.make_url(url).set(drivername="postgresql")
    query = dict(parsed.query)
    query.setdefault("application_name", "flext")
    uri = parsed.set(query=query).render_as_string(hide_password=False)
    return AdbcSession(adbc_pg.connect(uri), schemas=True)


def sqlite_session(path: str, *, busy_timeout_s: float = 30.0) -> AdbcSession:
    """An ADBC SQLite connection on the target's database file."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    conn = adbc_sqlite.connect(path)
    session = AdbcSession(conn, schemas=False)
    # Another connection of the run (reflection, the per-record path) may hold the
    # write lock for a moment: wait for it like the infrastructure's connections do.
    session.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    conn.commit()
    return session
