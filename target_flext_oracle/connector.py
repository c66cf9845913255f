"""The connector base: one class per dialect under ``dialects/``, told apart by capability flags.

:class:`FlextConnector` holds what every database shares: reflection (cached,
refreshed only by our own DDL), the table plan (create, add, widen, retype),
quoting through the dialect's :class:`~target_flext_oracle._names.IdentifierPolicy`,
and the batch transaction. The dialect subclasses fill in types, DDL spelling
and the bulk paths (COPY on PostgreSQL, ``executemany`` + ``setinputsizes`` on
Oracle, ``executemany`` on SQLite).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa
from singer_sdk.sql import SQLConnector
from sqlalchemy.engine import Dialect

from flext_infra.observability import get_logger
from flext_infra.runtime import signals_deferred
from target_flext_oracle._engine import EngineHandle, open_engine
from target_flext_oracle._errors import SchemaChangeError
from target_flext_oracle._logical import Change, Kind, LogicalType, compare
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._plan import ColumnState, FieldPlan, TablePlan, TableRef, TableState
from target_flext_oracle._settings import SchemaChangePolicy, TargetSettings

if TYPE_CHECKING:
    import pyarrow as pa

    from target_flext_oracle._logical import Form

log = get_logger("target_flext_oracle.connector")

#: String column sizes chosen from observed data (dialects that size strings).
STRING_BUCKETS = (64, 255, 1000, 4000, 32767)

Adapter = Callable[[Any], Any]
#: Runs one SQL statement inside the batch's transaction.
Execute = Callable[[str], object]


class BulkSession(Protocol):
    """The columnar path's connection: statements and Arrow ingestion in one transaction."""

    def execute(self, sql: str) -> None:
        """Run one statement."""

    def ingest(self, ref: TableRef, data: pa.Table, *, temporary: bool = False) -> None:
        """Append an Arrow table (columns named as the table's) to ``ref``."""


class FlextConnector(SQLConnector):
    """Shared behaviour of the Oracle, PostgreSQL and SQLite connectors.

    Capability flags (class attributes) carry the dialect differences that
    shared code must know about; everything else is an overridden method.
    """

    # SDK flags.
    allow_column_add = True
    allow_column_alter = True
    allow_merge_upsert = True
    allow_overwrite = True
    allow_temp_tables = True

    #: ``CREATE SCHEMA`` is allowed (never on Oracle, where a schema is a user).
    creates_schemas: ClassVar[bool] = True
    #: Tables live in schemas at all (SQLite has none).
    supports_schemas: ClassVar[bool] = True
    #: Column types are enforced, so widening needs DDL (SQLite: they are not).
    enforces_column_types: ClassVar[bool] = True
    #: ``''`` is stored as NULL (Oracle), so ``""`` in a key column is rejected.
    empty_string_is_null: ClassVar[bool] = False
    #: Unbounded strings get a VARCHAR sized from the data instead of unbounded text.
    sizes_strings_from_data: ClassVar[bool] = False
    #: Longest VARCHAR (bytes) before falling back to the unbounded string type.
    max_varchar_bytes: ClassVar[int | None] = None
    #: The family name in logs and errors.
    family: ClassVar[str] = "sql"
    #: Batches can load as Arrow columns through the driver's bulk path.
    supports_columnar: ClassVar[bool] = False

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        sqlalchemy_url: str | None = None,
        *,
        dialect: Dialect | None = None,
    ) -> None:
        """Build a connector from a validated config.

        Args:
            config: The target config.
            sqlalchemy_url: Unused; the URL comes from the config.
            dialect: A SQLAlchemy dialect to compile against without connecting
                (used by the compile tests).
        """
        super().__init__(config or {}, sqlalchemy_url)
        self.settings = TargetSettings.from_config(self.config)
        self._offline_dialect = dialect
        self._handle: EngineHandle | None = None
        self._states: dict[TableRef, TableState | None] = {}
        self._policy: IdentifierPolicy | None = None
        #: The columnar path's connection (a dialect's ``bulk_transaction`` opens it).
        self._bulk: Any = None

    @property
    def policy(self) -> IdentifierPolicy:
        """The identifier policy (built on first use: Oracle's depends on the server)."""
        if self._policy is None:
            self._policy = self.identifier_policy()
        return self._policy

    # --- engine and dialect -------------------------------------------------

    @property
    def handle(self) -> EngineHandle:
        """The engine handle, opened on first use."""
        if self._handle is None:
            self._handle = open_engine(self.settings.connection)
            if self.settings.connection.sqlite_default is not None:
                log.info(
                    "target.sqlite_default",
                    path=str(self.settings.connection.sqlite_default.resolve()),
                    hint="no database configured; loading into the embedded SQLite file",
                )
        return self._handle

    def create_engine(self) -> sa.Engine:
        """The SDK's engine hook: our handle's engine."""
        return self.handle.engine

    @property
    def sa_dialect(self) -> Dialect:
        """The dialect statements are compiled with."""
        if self._offline_dialect is not None:
            return self._offline_dialect
        return self._engine.dialect

    def dispose(self) -> None:
        """Close the bulk connection, the engine and everything behind it (safe to call twice)."""
        if self._bulk is not None:
            bulk, self._bulk = self._bulk, None
            bulk.close()
        if self._handle is not None:
            handle, self._handle = self._handle, None
            self._cached_engine = None
            handle.close()

    @contextlib.contextmanager
    def begin(self, on_commit: Callable[[], object] | None = None) -> Iterator[sa.Connection]:
        """One transaction: committed when the block ends, rolled back on error.

        The commit and ``on_commit`` (the run ledger's count of what it committed)
        happen together: a stop signal arriving between them takes effect after both.
        """
        with self._engine.connect() as conn:
            transaction = conn.begin()
            try:
                yield conn
            except BaseException:
                transaction.rollback()
                raise
            with _deferred_here():
                transaction.commit()
                if on_commit is not None:
                    on_commit()

    # --- names --------------------------------------------------------------

    def identifier_policy(self) -> IdentifierPolicy:
        """How this database spells identifiers."""
        return IdentifierPolicy(max_bytes=63)

    def table_ref(self, schema: str | None, table: str) -> TableRef:
        """The physical reference for a (schema, table) pair from the stream."""
        if schema and not self.supports_schemas:
            schema = None
        return TableRef(
            self.policy.normalize(schema) if schema else None,
            self.policy.normalize(table),
        )

    def derived_ref(self, ref: TableRef, suffix: str) -> TableRef:
        """A sibling table (staging, swap) whose name stays within the length limit."""
        return TableRef(ref.schema, self.policy.normalize(f"{ref.name}__{suffix}"))

    def q(self, name: str) -> str:
        """A quoted (where needed) column or table name."""
        return self.sa_dialect.identifier_preparer.quote(self.policy.sql_name(name))

    def qt(self, ref: TableRef) -> str:
        """A quoted, schema-qualified table name."""
        return f"{self.q(ref.schema)}.{self.q(ref.name)}" if ref.schema else self.q(ref.name)

    # --- types --------------------------------------------------------------

    def sql_type(self, logical: LogicalType) -> sa.types.TypeEngine[Any]:
        """The SQL type of a logical type in this dialect."""
        raise NotImplementedError

    def column_constraints(self, column: str, logical: LogicalType) -> list[sa.Constraint]:
        """Extra constraints a column of this type carries (Oracle's IS JSON check)."""
        return []

    def adapter(self, logical: LogicalType) -> Adapter | None:
        """Turns a converted value into what the driver binds (None = as is)."""
        return None

    def logical_from_sql(self, sql_type: sa.types.TypeEngine[Any]) -> LogicalType:
        """The logical type of a reflected column."""
        if isinstance(sql_type, sa.Boolean):
            return LogicalType(Kind.BOOLEAN)
        if isinstance(sql_type, sa.Integer):
            return LogicalType(Kind.INTEGER)
        if isinstance(sql_type, sa.Numeric):
            scale = getattr(sql_type, "scale", None)
            precision = getattr(sql_type, "precision", None)
            if scale == 0 and precision:
                return LogicalType(Kind.INTEGER, big=precision > 19)
            return LogicalType(Kind.NUMBER)
        if isinstance(sql_type, sa.Date) and not isinstance(sql_type, sa.DateTime):
            return LogicalType(Kind.DATE)
        if isinstance(sql_type, sa.DateTime):
            return LogicalType(Kind.TIMESTAMP)
        if isinstance(sql_type, sa.JSON):
            return LogicalType(Kind.JSON)
        if isinstance(sql_type, sa.Time):
            return LogicalType(Kind.TIME)
        if isinstance(sql_type, sa.Text | sa.CLOB):
            return LogicalType(Kind.STRING, None)
        if isinstance(sql_type, sa.String):
            return LogicalType(Kind.STRING, sql_type.length)
        return LogicalType(Kind.STRING, None)

    # --- reflection (cached) --------------------------------------------------

    def describe(self, ref: TableRef) -> TableState | None:
        """The table as it exists, or None; reflected once, then kept current by our DDL."""
        if ref in self._states:
            return self._states[ref]
        state = None
        with self._engine.connect() as conn:
            inspector = sa.inspect(conn)
            name = self.policy.sql_name(ref.name)
            schema = self.policy.sql_name(ref.schema) if ref.schema else None
            if inspector.has_table(name, schema):
                columns = {
                    str(c["name"]).lower(): ColumnState(
                        str(c["name"]).lower(),
                        self.logical_from_sql(c["type"]),
                        bool(c.get("nullable", True)),
                    )
                    for c in inspector.get_columns(name, schema)
                }
                pk = inspector.get_pk_constraint(name, schema).get("constrained_columns") or []
                state = TableState(ref, columns, tuple(str(c).lower() for c in pk))
        self._states[ref] = state
        return state

    def forget(self, ref: TableRef) -> None:
        """Drop the cached reflection of ``ref``."""
        self._states.pop(ref, None)

    # --- planning -------------------------------------------------------------

    def plan_table(
        self,
        ref: TableRef,
        fields: Sequence[tuple[str, str, LogicalType, bool]],
        keys: Sequence[str],
        *,
        fresh: bool = False,
    ) -> TablePlan:
        """Work out the DDL and field layout for a stream's table.

        Args:
            ref: The table.
            fields: (field, column, logical type, nullable) per stream field.
            keys: Key column names.
            fresh: Plan a new table whatever exists (overwrite's staging table).

        Raises:
            SchemaChangeError: an incompatible change under the ``fail`` policy.
        """
        state = None if fresh else self.describe(ref)
        plan = TablePlan(ref, [], tuple(keys))
        if state is None:
            plan.create = True
            plan.fields = [FieldPlan(f, c, lt, lt, n) for f, c, lt, n in fields]
            return plan
        existing = dict(state.columns)
        for fname, column, incoming, nullable in fields:
            fp = self._plan_column(plan, existing, fname, column, incoming, nullable)
            plan.fields.append(fp)
        return plan

    def _plan_column(
        self,
        plan: TablePlan,
        existing: dict[str, ColumnState],
        fname: str,
        column: str,
        incoming: LogicalType,
        nullable: bool,
    ) -> FieldPlan:
        current = existing.get(column)
        if current is None:
            fp = FieldPlan(fname, column, incoming, incoming, nullable)
            plan.add.append(fp)
            existing[column] = ColumnState(column, incoming)
            return fp
        change, wider = compare(current.logical, incoming)
        if change is Change.KEEP:
            return FieldPlan(fname, column, incoming, current.logical, nullable)
        if change is Change.WIDEN:
            plan.widen.append((column, current.logical, wider))
            current.logical = wider
            return FieldPlan(fname, column, incoming, wider, nullable)
        policy = self.settings.schema_change_policy
        where = f"{plan.ref}.{column}"
        if policy is SchemaChangePolicy.FAIL:
            raise SchemaChangeError(
                f"column {where} is {current.logical} but the stream now sends {incoming} "
                "(schema_change_policy=fail)"
            )
        if policy is SchemaChangePolicy.TEXT:
            text = LogicalType(Kind.STRING, None)
            plan.to_text.append((column, current.logical, text))
            current.logical = text
            log.warning("target.column_to_text", column=where, was=str(current.logical))
            return FieldPlan(fname, column, incoming, text, nullable)
        sibling = self.policy.normalize(f"{column}__{incoming.kind.value}")
        log.warning("target.column_evolved", column=where, sibling=sibling, incoming=str(incoming))
        return self._plan_column(plan, existing, fname, sibling, incoming, nullable)

    def size_strings(self, plan: TablePlan, observed: dict[str, tuple[int, int]]) -> None:
        """Fit string columns to the data of a batch before its DDL runs.

        Args:
            plan: The table plan (changed in place).
            observed: column -> (longest value in characters, longest in UTF-8 bytes).
        """
        new_columns = {f.column for f in plan.add} | (
            {f.column for f in plan.fields} if plan.create else set()
        )
        widened = {c for c, _, _ in plan.widen}
        for fp in plan.fields:
            lt = fp.target
            if lt.kind is not Kind.STRING or fp.column not in observed:
                continue
            chars, nbytes = observed[fp.column]
            if fp.column in new_columns:
                if (lt.length is None and self.sizes_strings_from_data) or (
                    lt.length is not None and self._too_long(lt.length, chars, nbytes)
                ):
                    fp.target = LogicalType(Kind.STRING, self._bucket(chars, nbytes))
                continue
            if lt.length is not None and self._too_long(lt.length, chars, nbytes):
                wider = LogicalType(Kind.STRING, self._bucket(chars, nbytes))
                if fp.column in widened:
                    plan.widen = [w for w in plan.widen if w[0] != fp.column]
                plan.widen.append((fp.column, lt, wider))
                fp.target = wider

    def _too_long(self, length: int, chars: int, nbytes: int) -> bool:
        if chars > length:
            return True
        return self.max_varchar_bytes is not None and nbytes > self.max_varchar_bytes

    def _bucket(self, chars: int, nbytes: int) -> int | None:
        limit = self.max_varchar_bytes or math.inf
        if nbytes > limit:
            return None
        for size in STRING_BUCKETS:
            if chars <= size <= limit:
                return size
        return None

    # --- DDL spelling -----------------------------------------------------------

    def table_object(
        self, ref: TableRef, fields: Sequence[FieldPlan], keys: Sequence[str]
    ) -> sa.Table:
        """A SQLAlchemy table for ``fields`` (keys NOT NULL and the primary key)."""
        key_set = set(keys)
        columns: list[sa.Column[Any]] = []
        constraints: list[sa.Constraint] = []
        for fp in fields:
            name = self.policy.sql_name(fp.column)
            columns.append(
                sa.Column(
                    name,
                    self.sql_type(fp.target),
                    nullable=fp.column not in key_set,
                )
            )
            constraints.extend(self.column_constraints(fp.column, fp.target))
        if keys:
            constraints.append(sa.PrimaryKeyConstraint(*[self.policy.sql_name(k) for k in keys]))
        schema = self.policy.sql_name(ref.schema) if ref.schema else None
        return sa.Table(
            self.policy.sql_name(ref.name), sa.MetaData(), *columns, *constraints, schema=schema
        )

    def compile_type(self, logical: LogicalType) -> str:
        """The SQL spelling of a logical type in this dialect."""
        return self.sql_type(logical).compile(dialect=self.sa_dialect)

    def create_table_sql(
        self, ref: TableRef, fields: Sequence[FieldPlan], keys: Sequence[str]
    ) -> list[str]:
        """``CREATE TABLE`` for the planned columns (never ``CREATE SCHEMA``)."""
        table = self.table_object(ref, fields, keys)
        return [str(sa.schema.CreateTable(table).compile(dialect=self.sa_dialect)).strip()]

    def add_columns_sql(self, ref: TableRef, fields: Sequence[FieldPlan]) -> list[str]:
        """``ALTER TABLE ... ADD`` for new columns."""
        return [
            f"ALTER TABLE {self.qt(ref)} ADD COLUMN {self.q(fp.column)} "
            f"{self.compile_type(fp.target)}"
            for fp in fields
        ]

    def widen_column_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """Statements widening ``column`` from ``old`` to ``new``."""
        raise NotImplementedError

    def to_text_sql(
        self, ref: TableRef, column: str, old: LogicalType, new: LogicalType
    ) -> list[str]:
        """Statements converting ``column`` to text, keeping its values as text."""
        raise NotImplementedError

    def rename_table_sql(self, ref: TableRef, new_name: str) -> str:
        """``ALTER TABLE ... RENAME TO``."""
        return f"ALTER TABLE {self.qt(ref)} RENAME TO {self.q(new_name)}"

    def drop_table_sql(self, ref: TableRef) -> str:
        """``DROP TABLE`` (only ever for our own staging and swap tables)."""
        return f"DROP TABLE {self.qt(ref)}"

    def unique_key_sql(self, ref: TableRef, keys: Sequence[str]) -> list[str]:
        """Statements giving ``keys`` a unique index when the table has no primary key."""
        index = self.policy.normalize(f"{ref.name}__key")
        cols = ", ".join(self.q(k) for k in keys)
        return [f"CREATE UNIQUE INDEX IF NOT EXISTS {self.q(index)} ON {self.qt(ref)} ({cols})"]

    def schema_sql(self, schema: str) -> list[str]:
        """Statements creating ``schema`` if missing (none where schemas are users)."""
        return [f"CREATE SCHEMA IF NOT EXISTS {self.q(schema)}"]

    # --- applying plans ---------------------------------------------------------

    def apply_plan(self, execute: Execute, plan: TablePlan, *, need_unique: bool) -> None:
        """Run the plan's DDL (inside the batch transaction, before loading).

        Args:
            execute: Runs one statement in the batch's transaction.
            plan: The plan.
            need_unique: The keys must be unique (upsert): new tables get a primary
                key, existing ones without one a unique index. Append-only tables
                get neither, since they keep every version of a row.
        """
        ref = plan.ref
        statements: list[str] = []
        if plan.create:
            if ref.schema and self.creates_schemas:
                statements += self.schema_sql(ref.schema)
            pk = plan.keys if need_unique else ()
            statements += self.create_table_sql(ref, plan.fields, pk)
        else:
            if plan.add:
                statements += self.add_columns_sql(ref, plan.add)
            if self.enforces_column_types:
                for column, old, new in plan.widen:
                    statements += self.widen_column_sql(ref, column, old, new)
                for column, old, new in plan.to_text:
                    statements += self.to_text_sql(ref, column, old, new)
            state = self.describe(ref)
            if need_unique and plan.keys and state is not None and not state.primary_key:
                statements += self.unique_key_sql(ref, plan.keys)
        for sql in statements:
            log.info("target.ddl", table=str(ref), sql=sql)
            execute(sql)

    def plan_applied(self, plan: TablePlan, *, unique: bool = False) -> None:
        """Record a committed plan in the reflection cache and clear its DDL."""
        state = self._states.get(plan.ref)
        if plan.create or state is None:
            state = TableState(plan.ref, {}, plan.keys)
        for fp in plan.fields:
            state.columns[fp.column] = ColumnState(fp.column, fp.target)
        if plan.keys and not state.primary_key and unique:
            state.primary_key = plan.keys
        self._states[plan.ref] = state
        plan.create = False
        plan.add = []
        plan.widen = []
        plan.to_text = []

    # --- loading ------------------------------------------------------------------

    def insert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """Bulk insert ``rows`` (in ``plan.columns`` order)."""
        raise NotImplementedError

    def upsert_rows(
        self, conn: sa.Connection, ref: TableRef, plan: TablePlan, rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert or update ``rows`` by ``plan.keys`` (rows are unique by key)."""
        raise NotImplementedError

    def delete_keys(
        self, conn: sa.Connection, ref: TableRef, keys: Sequence[str], values: list[tuple[Any, ...]]
    ) -> None:
        """Delete the rows with these key values (hard deletes)."""
        cond = " AND ".join(f"{self.q(k)} = {self.placeholder(i)}" for i, k in enumerate(keys))
        sql = f"DELETE FROM {self.qt(ref)} WHERE {cond}"
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, values)
        finally:
            cursor.close()

    # --- the columnar path -----------------------------------------------------------

    def columnar_form(self, kind: Kind) -> Form:
        """How the bulk path wants a column of ``kind``: Arrow's type, or the per-record text."""
        return "native"

    @contextlib.contextmanager
    def bulk_transaction(
        self, on_commit: Callable[[], object] | None = None
    ) -> Iterator[BulkSession]:
        """One transaction on the bulk connection: committed when the block ends, then
        ``on_commit`` (the run ledger's count), rolled back on any exception.

        The connection is :meth:`open_bulk_session`'s, opened on the first batch and
        kept for the run (closed by :meth:`dispose`).
        """
        if self._bulk is None:
            self._bulk = self.open_bulk_session()
        with self._bulk.transaction(on_commit) as tx:
            yield tx

    def open_bulk_session(self) -> Any:
        """The run's bulk connection (an ADBC session on PostgreSQL and SQLite)."""
        raise NotImplementedError

    def cancel_bulk(self) -> None:
        """Ask the bulk connection to stop its statement (called from another thread)."""

    def load_arrow(
        self, session: BulkSession, ref: TableRef, plan: TablePlan, data: pa.Table, *, upsert: bool
    ) -> None:
        """Append ``data`` to ``ref``, or upsert it by ``plan.keys`` (rows unique by key)."""
        raise NotImplementedError

    def placeholder(self, index: int) -> str:
        """The driver's bind placeholder for the ``index``-th (0-based) value."""
        return "?"

    def insert_sql(self, ref: TableRef, columns: Sequence[str]) -> str:
        """``INSERT INTO ... VALUES`` with driver placeholders."""
        cols = ", ".join(self.q(c) for c in columns)
        marks = ", ".join(self.placeholder(i) for i in range(len(columns)))
        return f"INSERT INTO {self.qt(ref)} ({cols}) VALUES ({marks})"

    def table_exists(self, full_table_name: Any) -> bool:
        """True if the table exists (uses the cached reflection for our refs)."""
        if isinstance(full_table_name, TableRef):
            return self.describe(full_table_name) is not None
        return super().table_exists(full_table_name)

    def swap_in(self, live: TableRef, staged: TableRef) -> None:
        """Make ``staged`` the live table: rename the old one away, rename, drop the old.

        On PostgreSQL and SQLite the three steps are one transaction. Oracle
        commits DDL as it goes, so the old table is kept until the rename
        succeeded and a failure leaves either the old table or the new one
        in place, never neither.
        """
        old = self.derived_ref(live, "old")
        live_existed = self.describe(live) is not None
        stale_old = self.describe(old) is not None
        with self.begin() as conn:
            if stale_old:
                conn.exec_driver_sql(self.drop_table_sql(old))
            if live_existed:
                conn.exec_driver_sql(self.rename_table_sql(live, old.name))
            conn.exec_driver_sql(self.rename_table_sql(staged, live.name))
            if live_existed:
                conn.exec_driver_sql(self.drop_table_sql(old))
        log.info("target.overwrite_swapped", table=str(live), replaced=live_existed)
        self._states[live] = self._states.get(staged)
        if self._states[live] is not None:
            self._states[live].ref = live  # type: ignore[union-attr]
        self._states[staged] = None
        self._states[old] = None

    def drop_if_exists(self, ref: TableRef) -> None:
        """Drop one of our own leftover tables (a staging table of a failed run)."""
        if self.describe(ref) is not None:
            with self.begin() as conn:
                conn.exec_driver_sql(self.drop_table_sql(ref))
            log.warning("target.stale_table_dropped", table=str(ref))
        self._states[ref] = None


def _deferred_here() -> contextlib.AbstractContextManager[None]:
    """Stop signals wait for the commit, in the main thread (where they are raised).

    A commit on the loader thread needs no deferral (signals never interrupt it),
    and must not take one: the deferral is process-wide, and a stop signal held by
    it would be raised in the loader thread instead of the main one.
    """
    if threading.current_thread() is threading.main_thread():
        return signals_deferred()
    return contextlib.nullcontext()
