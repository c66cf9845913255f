"""Oracle: version-aware types and names, MERGE upserts, array DML with setinputsizes.

What changes with the server version comes from :class:`ServerFacts` (the
``ServerFacts`` of ``flext_infra.database`` when the engine comes from there):
identifier length (30 bytes before 12.2, else 128), native ``JSON`` (21c+),
native ``BOOLEAN`` (23ai+) and ``MAX_STRING_SIZE=EXTENDED`` (32767-byte VARCHAR2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.dialects.oracle.base import RESERVED_WORDS
from sqlalchemy.engine import Dialect
from sqlalchemy.types import UserDefinedType

from flext_infra.database import ServerFacts
from flext_infra.observability import get_logger
from target_flext_oracle._errors import TargetConfigError
from target_flext_oracle._logical import Kind, LogicalType
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._plan import FieldPlan, TablePlan, TableRef, TableState
from target_flext_oracle.connector import Adapter, BulkSession, Execute, FlextConnector

if TYPE_CHECKING:
    import pyarrow as pa

    from target_flext_oracle._logical import Form

log = get_logger("target_flext_oracle.oracle")

#: SQLAlchemy's list plus words Oracle's V$RESERVED_WORDS marks reserved that it lacks.
ORACLE_RESERVED = frozenset(w.upper() for w in RESERVED_WORDS) | frozenset(
    {
        "ACCESS", "ADD", "AUDIT", "COLUMN", "FILE", "IMMEDIATE", "INCREMENT", "INITIAL",
        "MAXEXTENTS", "MLSLABEL", "MODIFY", "NOAUDIT", "OFFLINE", "ONLINE", "ROW", "ROWID",
        "ROWNUM", "ROWS", "SESSION", "SUCCESSFUL", "SYSDATE", "VALIDATE", "WHENEVER",
    }
)  # fmt: skip


class OracleJSON(UserDefinedType[Any]):
    """The native ``JSON`` type (21c+)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """``JSON``."""
        return "JSON"


class OracleBoolean(UserDefinedType[Any]):
    """The native ``BOOLEAN`` type (23ai+)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """``BOOLEAN``."""
        return "BOOLEAN"


def oracle_dialect(facts: ServerFacts) -> Dialect:
    """A SQLAlchemy Oracle dialect set up as if connected to a server with ``facts``."""
    dialect = oracle.dialect()  # type: ignore[no-untyped-call]
    dialect.server_version_info = facts.version
    dialect.max_identifier_length = facts.max_identifier_bytes
    return dialect


def _utc_wall_clock(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class OracleConnector(FlextConnector):
    """Oracle: never ``CREATE SCHEMA``; ``ALTER TABLE ... ADD (...)`` / ``MODIFY (...)``."""

    family: ClassVar[str] = "oracle"
    creates_schemas: ClassVar[bool] = False
    empty_string_is_null: ClassVar[bool] = True
    sizes_strings_from_data: ClassVar[bool] = True
    max_varchar_bytes: ClassVar[int | None] = 4000
    supports_columnar: ClassVar[bool] = True

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        sqlalchemy_url: str | None = None,
        *,
        dialect: Dialect | None = None,
        facts: ServerFacts | None = None,
    ) -> None:
        """Build the connector; ``facts`` (offline) or the server's facts decide types.

        Args:
            config: The target config.
            sqlalchemy_url: Unused.
            dialect: A dialect to compile with offline (defaults to one built from ``facts``).
            facts: Server facts for offline compilation (tests).
        """
        self._facts = facts
        if facts is not None and dialect is None:
            dialect = oracle_dialect(facts)
        super().__init__(config, sqlalchemy_url, dialect=dialect)
        if self._facts is not None:
            self._apply_facts(self._facts)

    @property
    def facts(self) -> ServerFacts:
        """The server's facts (read once from the connection manager)."""
        if self._facts is None:
            handle = self.handle
            if handle.server_facts is None:
                raise TargetConfigError("the Oracle engine did not come with server facts")
            self._facts = handle.server_facts()
            self._apply_facts(self._facts)
            log.info("target.oracle_server", version=".".join(map(str, self._facts.version)))
        return self._facts

    def _apply_facts(self, facts: ServerFacts) -> None:
        self._policy = None
        self.max_varchar_bytes = facts.max_varchar2_bytes  # type: ignore[misc]

    def identifier_policy(self) -> IdentifierPolicy:
        """Upper-folding names, 30 or 128 bytes, reserved words and leading ``_`` quoted."""
        return IdentifierPolicy(
            max_bytes=self.facts.max_identifier_bytes,
            fold_upper=True,
            reserved=ORACLE_RESERVED,
            quote_leading_underscore=True,
        )

    def sql_type(self, logical: LogicalType) -> sa.types.TypeEngine[Any]:
        """Oracle column types for this server version."""
        facts = self.facts
        kind = logical.kind
        if kind is Kind.INTEGER:
            return oracle.NUMBER(38 if logical.big else 19, 0)  # type: ignore[no-untyped-call]
        if kind is Kind.NUMBER:
            return oracle.NUMBER()  # type: ignore[no-untyped-call]
        if kind is Kind.BOOLEAN:
            return OracleBoolean() if facts.supports_boolean else oracle.NUMBER(1, 0)  # type: ignore[no-untyped-call]
        if kind is Kind.TIMESTAMP:
            return oracle.TIMESTAMP(timezone=True)
        if kind is Kind.DATE:
            return oracle.DATE()
        if kind is Kind.JSON:
            return OracleJSON() if facts.supports_json else sa.CLOB()
        if kind is Kind.TIME:
            return oracle.VARCHAR2(64)
        limit = facts.max_varchar2_bytes
        if logical.length is not None and logical.length <= limit:
            return oracle.VARCHAR2(logical.length)
        return sa.CLOB()

    def column_constraints(self, column: str, logical: LogicalType) -> list[sa.Constraint]:
        """``IS JSON`` on CLOB JSON columns; ``IN (0, 1)`` on NUMBER(1) booleans."""
        facts = self.facts
        col = self.q(column)
        if logical.kind is Kind.JSON and not facts.supports_json:
            return [sa.CheckConstraint(f"{col} IS JSON")]
        if logical.kind is Kind.BOOLEAN and not facts.supports_boolean:
            return [sa.CheckConstraint(f"{col} IN (0, 1)")]
        return []

    def logical_from_sql(self, sql_type: sa.types.TypeEngine[Any]) -> LogicalType:
        """NUMBER(1) is our boolean; NUMBER(p, 0) an integer; NUMBER a number."""
        if isinstance(sql_type, oracle.NUMBER | sa.Numeric):
            precision = getattr(sql_type, "precision", None)
            scale = getattr(sql_type, "scale", None)
            if precision == 1 and scale == 0:
                return LogicalType(Kind.BOOLEAN)
        if isinstance(sql_type, oracle.DATE):
            return LogicalType(Kind.DATE)
        return super().logical_from_sql(sql_type)

    def adapter(self, logical: LogicalType) -> Adapter | None:
        """Booleans as 0/1 before 23ai; timestamps as UTC wall-clock values.

        python-oracledb ignores ``tzinfo`` when binding and stores the wall clock
        with a GMT offset (oracle/python-oracledb#414), so aware values are moved
        to UTC first; the stored instant is then right whatever the session zone.
        """
        if logical.kind is Kind.BOOLEAN and not self.facts.supports_boolean:
            return int
        if logical.kind is Kind.TIMESTAMP:
            return _utc_wall_clock
        return None

    # --- DDL ------------------------------------------------------------------

    def add_columns_sql(self, ref: TableRef, fields: Any) -> list[str]:
        """``ALTER TABLE t ADD (c1 type, c2 type)`` with the column checks."""
        if not fields:
            return []
        parts = []
        for fp in fields:
            checks = "".join(
                f" CHECK ({c.sqltext})"  # type: ignore[attr-defined]
                for c in self.column_constraints(fp.column, fp.target)
            )
            parts.append(f"{self.q(fp.column)} {self.compile_type(fp.target)}{checks}")
        return [f"ALTER TABLE {self.qt(ref)} ADD ({', '.join(parts)})"]

    def widen_column_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """``MODIFY`` where Oracle allows it; VARCHAR2 -> CLOB by copy (ORA-22858)."""
        new_type = self.compile_type(new)
        if new_type == self.compile_type(old):
            return []
        if new_type == "CLOB":
            return self._copy_column(ref, column, new, self.q(column))
        return [f"ALTER TABLE {self.qt(ref)} MODIFY ({self.q(column)} {new_type})"]

    def to_text_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """Copy into a new CLOB column as ISO text (MODIFY fails on filled columns, ORA-01439)."""
        col = self.q(column)
        kind = old.kind
        if kind is Kind.TIMESTAMP:
            expr = f"TO_CHAR({col}, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF6TZH:TZM')"
        elif kind is Kind.DATE:
            expr = f"TO_CHAR({col}, 'YYYY-MM-DD')"
        elif kind is Kind.BOOLEAN:
            expr = f"CASE {col} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"
        elif kind is Kind.JSON:
            expr = f"JSON_SERIALIZE({col} RETURNING CLOB)" if self.facts.supports_json else col
        else:
            expr = f"TO_CHAR({col})"
        return self._copy_column(ref, column, new, expr)

    def _copy_column(self, ref: TableRef, column: str, new: LogicalType, expr: str) -> list[str]:
        tmp = self.policy.normalize(f"{column}__new")
        table = self.qt(ref)
        return [
            f"ALTER TABLE {table} ADD ({self.q(tmp)} {self.compile_type(new)})",
            f"UPDATE {table} SET {self.q(tmp)} = {expr}",
            f"ALTER TABLE {table} DROP COLUMN {self.q(column)}",
            f"ALTER TABLE {table} RENAME COLUMN {self.q(tmp)} TO {self.q(column)}",
        ]

    def rename_table_sql(self, ref: TableRef, new_name: str) -> str:
        """``ALTER TABLE ... RENAME TO`` (the new name is never schema-qualified)."""
        return f"ALTER TABLE {self.qt(ref)} RENAME TO {self.q(new_name)}"

    def drop_table_sql(self, ref: TableRef) -> str:
        """``DROP TABLE ... PURGE`` (our staging tables need no recycle bin)."""
        return f"DROP TABLE {self.qt(ref)} PURGE"

    def unique_key_sql(self, ref: TableRef, keys: Any) -> list[str]:
        """Nothing: MERGE matches on the keys without a unique index."""
        return []

    def schema_sql(self, schema: str) -> list[str]:
        """Nothing: a schema is a user, created by a DBA (never ``CREATE SCHEMA``)."""
        return []

    def stage_ref(self, ref: TableRef) -> TableRef:
        """The global temporary table a MERGE reads from."""
        return self.derived_ref(ref, "stg")

    def create_stage_sql(self, ref: TableRef) -> list[str]:
        """A global temporary table shaped like ``ref``, emptied at each commit."""
        return [
            f"CREATE GLOBAL TEMPORARY TABLE {self.qt(self.stage_ref(ref))} "
            f"ON COMMIT DELETE ROWS AS SELECT * FROM {self.qt(ref)} WHERE 1 = 0"
        ]

    def merge_sql(self, ref: TableRef, stage: TableRef, plan: TablePlan) -> str:
        """``MERGE INTO t USING stage ON (keys) WHEN MATCHED ... WHEN NOT MATCHED ...``."""
        on = " AND ".join(f"t.{self.q(k)} = s.{self.q(k)}" for k in plan.keys)
        others = [c for c in plan.columns if c not in plan.keys]
        cols = ", ".join(self.q(c) for c in plan.columns)
        values = ", ".join(f"s.{self.q(c)}" for c in plan.columns)
        update = (
            "WHEN MATCHED THEN UPDATE SET "
            + ", ".join(f"t.{self.q(c)} = s.{self.q(c)}" for c in others)
            + " "
            if others
            else ""
        )
        return (
            f"MERGE INTO {self.qt(ref)} t USING {self.qt(stage)} s ON ({on}) "
            f"{update}WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
        )

    def apply_plan(self, execute: Execute, plan: TablePlan, *, need_unique: bool) -> None:
        """The shared DDL, then (re)build the MERGE staging table when the columns changed.

        Oracle commits each DDL statement, which is why DDL runs before any row
        of the batch is written.
        """
        changed = plan.has_ddl
        super().apply_plan(execute, plan, need_unique=need_unique)
        if need_unique and plan.keys:
            stage = self.stage_ref(plan.ref)
            exists = self.describe(stage) is not None
            if exists and changed:
                execute(self.drop_table_sql(stage))
                exists = False
            if not exists:
                for sql in self.create_stage_sql(plan.ref):
                    execute(sql)
                # Known to exist now; its columns are never needed, so none are recorded.
                self._states[stage] = TableState(stage, {})

    # --- loading ----------------------------------------------------------------

    def placeholder(self, index: int) -> str:
        """python-oracledb's numbered placeholder."""
        return f":{index + 1}"

    def input_sizes(self, fields: list[FieldPlan]) -> list[Any]:
        """``setinputsizes`` per column, so array DML never re-guesses types mid-batch."""
        import oracledb

        sizes: list[Any] = []
        for fp in fields:
            kind = fp.target.kind
            if kind in {Kind.INTEGER, Kind.NUMBER}:
                sizes.append(oracledb.DB_TYPE_NUMBER)
            elif kind is Kind.BOOLEAN:
                sizes.append(
                    oracledb.DB_TYPE_BOOLEAN
                    if self.facts.supports_boolean
                    else oracledb.DB_TYPE_NUMBER
                )
            elif kind is Kind.TIMESTAMP:
                sizes.append(oracledb.DB_TYPE_TIMESTAMP_TZ)
            elif kind is Kind.DATE:
                sizes.append(oracledb.DB_TYPE_DATE)
            elif kind is Kind.TIME:
                sizes.append(64)
            elif kind is Kind.JSON or fp.target.length is None:
                sizes.append(oracledb.DB_TYPE_CLOB)
            else:
                sizes.append(fp.target.length)
        return sizes

    def _array_insert(
        self, conn: sa.Connection, sql: str, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            size = self.settings.oracle_array_size
            for start in range(0, len(rows), size):
                cursor.setinputsizes(*self.input_sizes(plan.fields))
                cursor.executemany(sql, rows[start : start + size])
        finally:
            cursor.close()

    def insert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """Array DML in chunks of ``oracle_array_size``, or a direct path load if enabled.

        A direct path load must start its own transaction (OCI-26085) and its
        FINISH step commits: the batch's DDL has committed implicitly before it,
        and the load commits the batch as one unit.
        """
        if self.settings.direct_path_load:
            raw = conn.connection.driver_connection
            raw.direct_path_load(**self.direct_path_args(raw, ref, plan), data=rows)  # type: ignore[union-attr]
            return
        self._array_insert(conn, self.insert_sql(ref, plan.columns), plan, rows)

    def direct_path_args(self, raw: Any, ref: TableRef, plan: TablePlan) -> dict[str, Any]:
        """``direct_path_load`` arguments: upper-case names, ``oracle_array_size`` rows each."""
        schema = self.policy.sql_name(ref.schema) if ref.schema else raw.username
        return {
            "schema_name": str(schema).upper(),
            "table_name": str(self.policy.sql_name(ref.name)).upper(),
            "column_names": [str(self.policy.sql_name(c)).upper() for c in plan.columns],
            "batch_size": self.settings.oracle_array_size,
        }

    def upsert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """Array-insert into the staging table, then one MERGE (no ORA-30926: keys are unique)."""
        stage = self.stage_ref(ref)
        self._array_insert(conn, self.insert_sql(stage, plan.columns), plan, rows)
        conn.exec_driver_sql(self.merge_sql(ref, stage, plan))

    # --- the columnar path: DataFrame ingestion and direct path load ---------------------

    def columnar_form(self, kind: Kind) -> Form:
        """Native Arrow types, but JSON as the per-record path's text (CLOB or JSON columns)."""
        return "text" if kind is Kind.JSON else "native"

    @contextlib.contextmanager
    def bulk_transaction(
        self, on_commit: Callable[[], object] | None = None
    ) -> Iterator[BulkSession]:
        """The batch transaction of the per-record path, with Arrow ingestion on its connection."""
        with self.begin(on_commit) as conn:
            session = OracleBulkSession(self, conn)
            self._bulk_active: OracleBulkSession | None = session
            try:
                yield session
            finally:
                self._bulk_active = None

    def cancel_bulk(self) -> None:
        """``Connection.cancel()`` on the batch's connection (the round trip in progress fails)."""
        session: OracleBulkSession | None = getattr(self, "_bulk_active", None)
        if session is not None:
            with contextlib.suppress(Exception):
                session.raw.cancel()

    def oracle_frame(self, data: pa.Table, plan: TablePlan) -> pa.Table:
        """The Arrow table as python-oracledb ingests it for this server.

        Timestamps become UTC wall-clock values (python-oracledb stores the wall
        clock, as for the per-record path's binds); booleans become 0/1 before 23ai
        (``NUMBER(1)``); text bound for CLOB columns becomes ``large_string``
        (python-oracledb's LONG binding, which has no 32767-byte limit).
        """
        import pyarrow as pa

        facts = self.facts
        for i, fp in enumerate(plan.fields):
            kind = fp.target.kind
            column = data.column(i)
            if kind is Kind.TIMESTAMP:
                column = column.cast(pa.timestamp("us"))
            elif kind is Kind.BOOLEAN and not facts.supports_boolean:
                column = column.cast(pa.int64())
            elif kind is Kind.JSON or (
                kind is Kind.STRING
                and (fp.target.length is None or fp.target.length > facts.max_varchar2_bytes)
            ):
                column = column.cast(pa.large_string())
            else:
                continue
            data = data.set_column(i, fp.column, column)
        return data

    def load_arrow(
        self, session: BulkSession, ref: TableRef, plan: TablePlan, data: pa.Table, *, upsert: bool
    ) -> None:
        """``executemany`` with the DataFrame (append or the MERGE stage), or a direct path load.

        One statement with one bind per column whatever the batch size (never
        ORA-01745's bind limit), ``oracle_array_size`` rows per round trip.
        """
        assert isinstance(session, OracleBulkSession)
        frame = self.oracle_frame(data, plan)
        if upsert:
            stage = self.stage_ref(ref)
            session.executemany(self.insert_sql(stage, plan.columns), frame)
            session.execute(self.merge_sql(ref, stage, plan))
        elif self.settings.direct_path_load:
            session.raw.direct_path_load(
                **self.direct_path_args(session.raw, ref, plan), data=frame
            )
        else:
            session.executemany(self.insert_sql(ref, plan.columns), frame)


class OracleBulkSession:
    """The batch transaction's connection, taking Arrow tables as python-oracledb DataFrames."""

    def __init__(self, connector: OracleConnector, conn: sa.Connection) -> None:
        self._connector = connector
        self._conn = conn
        self.raw: Any = conn.connection.driver_connection

    def execute(self, sql: str) -> None:
        """Run one statement in the batch's transaction."""
        self._conn.exec_driver_sql(sql)

    def executemany(self, sql: str, frame: pa.Table) -> None:
        """One statement, the frame's rows as its array binds."""
        cursor = self.raw.cursor()
        try:
            cursor.executemany(sql, frame, batch_size=self._connector.settings.oracle_array_size)
        finally:
            cursor.close()

    def ingest(self, ref: TableRef, data: pa.Table, *, temporary: bool = False) -> None:
        """Append an Arrow table with ``INSERT`` array binds."""
        self.executemany(self._connector.insert_sql(ref, list(data.column_names)), data)
