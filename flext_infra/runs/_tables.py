"""The ledger's tables as SQLAlchemy metadata: the one source of their DDL.

``flext_runs`` (one row per run), ``flext_run_streams`` (one per run and
stream) and ``flext_run_locks`` (one per held lock key). Every name is lower
case and unreserved, so Oracle folds them to unquoted upper-case names and the
plain SQL in ``_store.py`` finds them in every dialect.

Only creating the tables imports SQLAlchemy (through this module); reading and
writing rows is plain DB-API SQL, so a plugin process that records its run into
an existing SQLite ledger never pays SQLAlchemy's import.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

RUNS, STREAMS, LOCKS = "flext_runs", "flext_run_streams", "flext_run_locks"

_ID = 64
_NAME = 200


def metadata(schema: str | None = None) -> sa.MetaData:
    """The three ledger tables, in ``schema`` when given."""
    meta = sa.MetaData(schema=schema)
    when = sa.TIMESTAMP()  # naive UTC; Oracle TIMESTAMP keeps the fractions DATE drops
    sa.Table(
        RUNS,
        meta,
        sa.Column("run_id", sa.String(_ID), primary_key=True),
        sa.Column("job", sa.String(_NAME), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(32), nullable=False),
        sa.Column("triggered_by", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("os_user", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", when, nullable=False),
        sa.Column("ended_at", when),
        sa.Column("heartbeat_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("exit_code", sa.Integer()),
        sa.Column("error", sa.String(1000)),
        sa.Column("link_id", sa.String(_ID)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("log_path", sa.String(1000)),
        sa.Index("ix_flext_runs_job_started", "job", "started_at"),
        sa.Index("ix_flext_runs_status", "status"),
        sa.Index("ix_flext_runs_link", "link_id"),
    )
    sa.Table(
        STREAMS,
        meta,
        sa.Column("run_id", sa.String(_ID), primary_key=True),
        sa.Column("stream", sa.String(_NAME), primary_key=True),
        sa.Column("records_read", sa.BigInteger(), nullable=False),
        sa.Column("records_loaded", sa.BigInteger(), nullable=False),
        sa.Column("rejects", sa.BigInteger(), nullable=False),
        sa.Column("retries", sa.BigInteger(), nullable=False),
        sa.Column("rate_limited", sa.BigInteger(), nullable=False),
        sa.Column("bookmark_before", sa.String(1000)),
        sa.Column("bookmark_after", sa.String(1000)),
    )
    sa.Table(
        LOCKS,
        meta,
        sa.Column("lock_key", sa.String(400), primary_key=True),
        sa.Column("run_id", sa.String(_ID), nullable=False),
        sa.Column("job", sa.String(_NAME), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", when, nullable=False),
        sa.Column("heartbeat_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
    )
    return meta


def dialect(name: str) -> Any:
    """The SQLAlchemy dialect object for ``sqlite``, ``postgresql`` or ``oracle``."""
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()  # type: ignore[no-untyped-call]
    if name == "oracle":
        from sqlalchemy.dialects import oracle

        return oracle.dialect()  # type: ignore[no-untyped-call]
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def ddl(dialect_name: str, schema: str | None = None) -> list[str]:
    """Every CREATE TABLE and CREATE INDEX statement, compiled for one dialect."""
    target = dialect(dialect_name)
    statements: list[str] = []
    for table in metadata(schema).sorted_tables:
        statements.append(str(sa.schema.CreateTable(table).compile(dialect=target)).strip())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            statements.append(str(sa.schema.CreateIndex(index).compile(dialect=target)).strip())
    return statements
