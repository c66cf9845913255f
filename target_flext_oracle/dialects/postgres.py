"""PostgreSQL: timestamptz, numeric, bigint, boolean, jsonb, text; loads with COPY (psycopg 3)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from target_flext_oracle._converters import utc_isoformat
from target_flext_oracle._logical import Kind, LogicalType
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._plan import TablePlan, TableRef
from target_flext_oracle.connector import Adapter, BulkSession, FlextConnector
from target_flext_oracle.dialects._adbc import AdbcSession, postgres_session

if TYPE_CHECKING:
    import pyarrow as pa

_PG_RESERVED = frozenset(w.upper() for w in postgresql.base.RESERVED_WORDS)

# Timestamps and dates go to COPY as ISO 8601 text (validated by parsing it first):
# psycopg dumps datetime objects about 4x slower than text, and PostgreSQL parses
# ISO text exactly. Timestamps are written in UTC so equal instants are equal keys
# when an upsert batch is deduplicated.
_ADAPTERS: dict[Kind, Adapter] = {
    Kind.TIMESTAMP: utc_isoformat,
    Kind.DATE: dt.date.isoformat,
}


class PostgresConnector(FlextConnector):
    """PostgreSQL: transactional DDL, COPY for loading, upsert from a temp staging table."""

    family: ClassVar[str] = "postgresql"
    supports_columnar: ClassVar[bool] = True

    def identifier_policy(self) -> IdentifierPolicy:
        """63-byte identifiers (NAMEDATALEN - 1)."""
        return IdentifierPolicy(max_bytes=63, reserved=_PG_RESERVED)

    def sql_type(self, logical: LogicalType) -> sa.types.TypeEngine[Any]:
        """PostgreSQL column types."""
        kind = logical.kind
        if kind is Kind.INTEGER:
            return sa.BigInteger() if not logical.big else sa.Numeric(38, 0)
        if kind is Kind.NUMBER:
            return sa.Numeric()
        if kind is Kind.BOOLEAN:
            return sa.Boolean()
        if kind is Kind.TIMESTAMP:
            return postgresql.TIMESTAMP(timezone=True)
        if kind is Kind.DATE:
            return sa.Date()
        if kind is Kind.JSON:
            return postgresql.JSONB()
        return sa.Text()

    def adapter(self, logical: LogicalType) -> Adapter | None:
        """Timestamps (in UTC) and dates as ISO text for COPY."""
        return _ADAPTERS.get(logical.kind)

    def add_columns_sql(self, ref: TableRef, fields: Any) -> list[str]:
        """One ``ALTER TABLE`` adding every new column."""
        if not fields:
            return []
        parts = ", ".join(
            f"ADD COLUMN {self.q(fp.column)} {self.compile_type(fp.target)}" for fp in fields
        )
        return [f"ALTER TABLE {self.qt(ref)} {parts}"]

    def widen_column_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """``ALTER COLUMN ... TYPE`` (bigint -> numeric; text needs nothing)."""
        if self.compile_type(old) == self.compile_type(new):
            return []
        return [
            f"ALTER TABLE {self.qt(ref)} ALTER COLUMN {self.q(column)} "
            f"TYPE {self.compile_type(new)}"
        ]

    def to_text_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """``ALTER COLUMN ... TYPE text USING col::text``."""
        col = self.q(column)
        return [f"ALTER TABLE {self.qt(ref)} ALTER COLUMN {col} TYPE text USING {col}::text"]

    def placeholder(self, index: int) -> str:
        """psycopg's placeholder."""
        return "%s"

    def _copy(self, conn: sa.Connection, ref: TableRef, columns: list[str], rows: Any) -> None:
        cols = ", ".join(self.q(c) for c in columns)
        raw = conn.connection.driver_connection
        sql = f"COPY {self.qt(ref)} ({cols}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            write = copy.write_row
            for row in rows:
                write(row)

    def insert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """COPY the rows straight into the table."""
        self._copy(conn, ref, plan.columns, rows)

    # --- the columnar path: binary COPY through ADBC ------------------------------------

    def open_bulk_session(self) -> AdbcSession:
        """The run's ADBC connection (binary COPY)."""
        url = self.settings.connection.url
        if url is None:  # pragma: no cover - a PostgreSQL spec always has a URL
            raise ValueError("no URL")
        return postgres_session(url)

    def cancel_bulk(self) -> None:
        """Cancel the COPY in progress (``PQcancel`` through ADBC)."""
        if self._bulk is not None:
            self._bulk.cancel()

    def load_arrow(
        self, session: BulkSession, ref: TableRef, plan: TablePlan, data: pa.Table, *, upsert: bool
    ) -> None:
        """Binary COPY into the table, or into a temp stage then ``INSERT ... ON CONFLICT``."""
        data = _jsonb_columns(data, plan)
        if not upsert:
            session.ingest(ref, data)
            return
        stage = TableRef(None, self.policy.normalize(f"stage_{ref.name}"))
        session.execute(
            f"CREATE TEMP TABLE {self.q(stage.name)} "
            f"(LIKE {self.qt(ref)} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        session.ingest(stage, data, temporary=True)
        session.execute(self.merge_sql(ref, stage, plan))

    def upsert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """COPY into a temp staging table, then ``INSERT ... SELECT ... ON CONFLICT``."""
        stage = TableRef(None, self.policy.normalize(f"stage_{ref.name}"))
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {self.q(stage.name)} "
            f"(LIKE {self.qt(ref)} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        self._copy(conn, stage, plan.columns, rows)
        conn.exec_driver_sql(self.merge_sql(ref, stage, plan))

    def merge_sql(self, ref: TableRef, stage: TableRef, plan: TablePlan) -> str:
        """The statement moving the staged batch into the table."""
        cols = ", ".join(self.q(c) for c in plan.columns)
        keys = ", ".join(self.q(k) for k in plan.keys)
        others = [c for c in plan.columns if c not in plan.keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{self.q(c)} = EXCLUDED.{self.q(c)}" for c in others)
            if others
            else "DO NOTHING"
        )
        return (
            f"INSERT INTO {self.qt(ref)} ({cols}) SELECT {cols} FROM {self.qt(stage)} "
            f"ON CONFLICT ({keys}) {action}"
        )


def _jsonb_columns(data: pa.Table, plan: TablePlan) -> pa.Table:
    """JSON text columns as Arrow's JSON type: ADBC then writes them in jsonb's binary form."""
    import pyarrow as pa

    for i, fp in enumerate(plan.fields):
        if fp.target.kind is Kind.JSON:
            column = data.column(i)
            storage = column.cast(pa.string())
            data = data.set_column(
                i,
                fp.column,
                pa.chunked_array(
                    [pa.ExtensionArray.from_storage(pa.json_(), c) for c in storage.chunks],
                    pa.json_(),
                ),
            )
    return data
