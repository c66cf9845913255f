"""Engines for the three databases, from ``flext_infra.database``, behind one function.

``OracleConnectionManager`` gives Oracle engines (pooled python-oracledb, thin
mode, TCPS with wallet) and the server's facts; ``DatabaseManager`` gives
PostgreSQL and SQLite engines. The target only adds what a loader needs on
SQLite: an explicit ``BEGIN`` so DDL and rows share one transaction (pysqlite
would otherwise auto-commit DDL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from flext_infra.database import DatabaseManager, OracleConnectionManager, ServerFacts
from target_flext_oracle._settings import ConnectionSpec


@dataclass
class EngineHandle:
    """An engine, how to release everything behind it, and (Oracle) the server facts."""

    engine: sa.Engine
    close: Callable[[], None]
    server_facts: Callable[[], ServerFacts] | None = None


def open_engine(spec: ConnectionSpec) -> EngineHandle:
    """Open an engine for ``spec`` through the infrastructure's connection managers."""
    if spec.family == "oracle":
        oracle = OracleConnectionManager(**dict(spec.oracle))
        return EngineHandle(oracle.engine(), oracle.dispose, oracle.server_facts)
    if spec.url is None:  # pragma: no cover - ConnectionSpec.family raised already
        raise ValueError("no URL")
    manager = DatabaseManager(spec.url)
    engine = manager.engine()
    if spec.family == "sqlite":
        _sqlite_transactions(engine)
    return EngineHandle(engine, manager.dispose)


def _sqlite_transactions(engine: sa.Engine) -> None:
    # SQLAlchemy's documented recipe for transactional DDL on pysqlite, scoped
    # to this engine only.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")
