"""SQLite, the embedded default: typed columns, ISO text timestamps, one-transaction executemany."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from target_flext_oracle._logical import Kind, LogicalType
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._plan import TablePlan, TableRef
from target_flext_oracle.connector import Adapter, BulkSession, FlextConnector
from target_flext_oracle.dialects._adbc import AdbcSession, sqlite_session

if TYPE_CHECKING:
    import pyarrow as pa

    from target_flext_oracle._logical import Form

# Values become what sqlite3 stores natively *here*, per column, instead of
# sqlite3.register_adapter(), which would change every sqlite3 user in the process.
# Decimals become text (every digit kept; NUMERIC affinity makes it a number where
# SQLite can), timestamps and dates ISO 8601 text, booleans 0/1.
_ADAPTERS: dict[Kind, Adapter] = {
    Kind.NUMBER: str,
    Kind.TIMESTAMP: dt.datetime.isoformat,
    Kind.DATE: dt.date.isoformat,
    Kind.BOOLEAN: int,
}


def _plain_cursor(conn: sa.Connection) -> sqlite3.Cursor:
    # The infrastructure's connections adapt every parameter on the way in; our
    # converters already produce what sqlite3 binds natively, so skip that pass.
    raw = conn.connection.driver_connection
    return sqlite3.Cursor(raw)  # type: ignore[arg-type]


class SqliteConnector(FlextConnector):
    """SQLite: no schemas, types not enforced, upsert with ``INSERT ... ON CONFLICT``."""

    family: ClassVar[str] = "sqlite"
    supports_schemas: ClassVar[bool] = False
    creates_schemas: ClassVar[bool] = False
    enforces_column_types: ClassVar[bool] = False
    supports_columnar: ClassVar[bool] = True

    def identifier_policy(self) -> IdentifierPolicy:
        """SQLite has no practical length limit; 128 bytes keeps names portable."""
        return IdentifierPolicy(max_bytes=128)

    def sql_type(self, logical: LogicalType) -> sa.types.TypeEngine[Any]:
        """SQLite column types (declared for affinity and for reflection)."""
        kind = logical.kind
        if kind is Kind.INTEGER:
            return sa.BigInteger() if not logical.big else sa.Numeric(38, 0)
        if kind is Kind.NUMBER:
            return sa.Numeric()
        if kind is Kind.BOOLEAN:
            return sa.Boolean()
        if kind is Kind.TIMESTAMP:
            return sa.TIMESTAMP()
        if kind is Kind.DATE:
            return sa.Date()
        if kind is Kind.JSON:
            return sqlite.JSON()
        if kind is Kind.STRING and logical.length:
            return sa.String(logical.length)
        return sa.Text()

    def adapter(self, logical: LogicalType) -> Adapter | None:
        """Decimals, datetimes, dates and booleans as sqlite3 stores them."""
        return _ADAPTERS.get(logical.kind)

    def widen_column_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """None: SQLite does not enforce declared lengths or types."""
        return []

    def to_text_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """None: SQLite stores text in any column."""
        return []

    def insert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """``executemany`` on a plain sqlite3 cursor, inside the batch transaction."""
        cursor = _plain_cursor(conn)
        try:
            cursor.executemany(self.insert_sql(ref, plan.columns), rows)
        finally:
            cursor.close()

    def upsert_sql(self, ref: TableRef, plan: TablePlan) -> str:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE`` (DO NOTHING when all columns are keys)."""
        return f"{self.insert_sql(ref, plan.columns)} {self._conflict_clause(plan)}"

    def _conflict_clause(self, plan: TablePlan) -> str:
        keys = ", ".join(self.q(k) for k in plan.keys)
        others = [c for c in plan.columns if c not in plan.keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{self.q(c)} = excluded.{self.q(c)}" for c in others)
            if others
            else "DO NOTHING"
        )
        return f"ON CONFLICT ({keys}) {action}"

    def upsert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """The batch is already deduplicated in memory (the staging step); upsert it."""
        cursor = _plain_cursor(conn)
        try:
            cursor.executemany(self.upsert_sql(ref, plan), rows)
        finally:
            cursor.close()

    # --- the columnar path: ADBC's SQLite driver ------------------------------------------

    def columnar_form(self, kind: Kind) -> Form:
        """What sqlite3 stores for the per-record path: text for all but integers and strings."""
        return "native" if kind in {Kind.INTEGER, Kind.STRING, Kind.TIME} else "text"

    def open_bulk_session(self) -> AdbcSession:
        """The run's ADBC SQLite connection."""
        url = self.settings.connection.url
        database = sa.engine.make_url(url).database if url else None
        if not database:  # pragma: no cover - the target always loads into a file
            raise ValueError("no SQLite file")
        return sqlite_session(database)

    def load_arrow(
        self, session: BulkSession, ref: TableRef, plan: TablePlan, data: pa.Table, *, upsert: bool
    ) -> None:
        """Bind the columns in C; an upsert goes through a temp table and ``ON CONFLICT``."""
        if not upsert:
            session.ingest(ref, data)
            return
        stage = TableRef(None, self.policy.normalize(f"stage_{ref.name}"))
        cols = ", ".join(self.q(c) for c in plan.columns)
        session.execute(
            f"CREATE TEMP TABLE {self.q(stage.name)} AS SELECT {cols} FROM {self.qt(ref)} WHERE 0"
        )
        session.ingest(stage, data, temporary=True)
        session.execute(self.upsert_select_sql(ref, f"temp.{self.q(stage.name)}", plan))
        session.execute(f"DROP TABLE temp.{self.q(stage.name)}")

    def upsert_select_sql(self, ref: TableRef, source: str, plan: TablePlan) -> str:
        """``INSERT ... SELECT ... ON CONFLICT`` (``WHERE true``: SQLite's parser needs it)."""
        cols = ", ".join(self.q(c) for c in plan.columns)
        return (
            f"INSERT INTO {self.qt(ref)} ({cols}) SELECT {cols} FROM {source} WHERE true "
            f"{self._conflict_clause(plan)}"
        )
