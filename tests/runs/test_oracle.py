"""The ledger on Oracle: its DDL compiled with SQLAlchemy's Oracle dialect and its SQL checked.

Oracle cannot run here. The DDL is compiled and compared with a reviewed
snapshot; every statement the ledger and the lock issue is captured (run on
SQLite) and checked for what Oracle refuses: reserved bind names, names longer
than 30 bytes (12.1), LIMIT. The live suite runs with FLEXT_TEST_ORACLE_DSN.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.oracle.base import RESERVED_WORDS

from flext_infra.runs import LedgerStore, LockHeldError, RunLedger, RunStatus, StreamRun
from flext_infra.runs._store import sqlite_connect
from flext_infra.runs._tables import ddl, metadata

SNAPSHOT = Path(__file__).parent / "snapshots" / "oracle.sql"
DSN = os.environ.get("FLEXT_TEST_ORACLE_DSN")


def test_oracle_ddl_matches_the_reviewed_snapshot() -> None:
    """CREATE TABLE / INDEX for Oracle: VARCHAR2 in CHAR semantics, TIMESTAMP, NUMBER(19)."""
    compiled = ";\n\n".join(ddl("oracle")) + ";\n"
    assert compiled == SNAPSHOT.read_text(encoding="utf-8")
    assert "TIMESTAMP NOT NULL" in compiled  # not DATE: fractions of a second are kept
    assert "IF NOT EXISTS" not in compiled  # not before 23ai; existence is probed instead


def test_every_oracle_name_is_unreserved_and_fits_30_bytes() -> None:
    """Tables, columns and indexes are plain unquoted names Oracle 12.1 accepts."""
    for table in metadata().sorted_tables:
        names = [
            table.name,
            *(c.name for c in table.columns),
            *(str(i.name) for i in table.indexes),
        ]
        for name in names:
            assert name.upper() not in RESERVED_WORDS, name
            assert len(name.encode()) <= 30, name
            assert name == name.lower() and re.fullmatch(r"[a-z_]+", name), name


def test_the_ddl_compiles_for_every_dialect_with_a_schema() -> None:
    """The same metadata compiles for SQLite, PostgreSQL and Oracle, schema-qualified."""
    for dialect in ("sqlite", "postgresql", "oracle"):
        statements = ddl(dialect, schema="etl")
        assert all("etl." in s for s in statements), dialect
        assert sum("etl.flext_run" in s for s in statements) >= 3, dialect


class _Recording(LedgerStore):
    """An SQLite store that keeps every statement as Oracle would receive it."""

    def __init__(self, path: Path) -> None:
        super().__init__(sqlite_connect(path), "sqlite")
        self.statements: list[str] = []

    def execute(self, conn: Any, text: str, params: Any = None) -> int:
        self.statements.append(text)
        return super().execute(conn, text, params)

    def query(self, conn: Any, text: str, params: Any = None) -> list[Any]:
        self.statements.append(text)
        return super().query(conn, text, params)


def test_the_ledger_sql_is_valid_for_oracle(tmp_path: Path) -> None:
    """Every statement of a full ledger and lock cycle uses binds and clauses Oracle accepts."""
    store = _Recording(tmp_path / "l.db")
    ledger = RunLedger(store, lock_ttl_s=0.01)
    run = ledger.start("job", link_id="L")
    lock = ledger.lock("job", run.run_id, ["state:dev:a-to-b"]).acquire()
    with contextlib.suppress(LockHeldError):
        ledger.lock("job", "other").acquire()
    ledger.beat(run.run_id)
    ledger.finish(run.run_id, RunStatus.SUCCEEDED, 0, streams=[StreamRun("s", records_read=1)])
    lock.release()
    ledger.list_runs(job="job", status="abandoned")
    ledger.list_runs(status="succeeded")
    ledger.linked("L")
    ledger.prune(1)
    dead = ledger.start("dead")
    ledger.lock("dead", dead.run_id).acquire()

    time.sleep(0.05)
    ledger.lock("dead", "taker").acquire()  # takes over the expired row
    oracle = LedgerStore(sqlite_connect(tmp_path / "x.db"), "oracle").dialect
    binds: set[str] = set()
    for written in store.statements:
        if written.startswith("CREATE"):
            continue
        text = written.replace("LIMIT :limit OFFSET :offset", oracle.page())
        assert "LIMIT" not in text and ";" not in text, text
        binds |= set(re.findall(r"(?<![:\w]):(\w+)", text))
    assert binds, "no statement captured"
    assert not {b.upper() for b in binds} & RESERVED_WORDS
    assert {"triggered_by", "run_id", "limit", "offset", "expires"} <= binds
    assert oracle.page() == "OFFSET :offset ROWS FETCH NEXT :limit ROWS ONLY"


# ---------------------------------------------------------------- live Oracle
@pytest.fixture
def oracle_ledger() -> Iterator[RunLedger]:
    """A ledger in the live Oracle schema with tables of a unique name prefix dropped after."""
    if not DSN:
        pytest.skip("FLEXT_TEST_ORACLE_DSN is not set: no live Oracle here")
    from tests.target.test_oracle_live import _config_from_dsn, _manager

    manager = _manager(_config_from_dsn(DSN))
    ledger = RunLedger.from_manager(manager)
    yield ledger
    with manager.acquire() as conn:
        cursor = conn.cursor()
        for table in ("flext_run_streams", "flext_run_locks", "flext_runs"):
            with contextlib.suppress(Exception):
                cursor.execute(f"DELETE FROM {table} WHERE job LIKE 'live-%'"
                               if table != "flext_run_streams" else
                               f"DELETE FROM {table} WHERE stream = 'live'")  # fmt: skip
        conn.commit()
    manager.dispose()


@pytest.mark.oracle_live
def test_the_ledger_and_the_lock_work_on_a_live_oracle(oracle_ledger: RunLedger) -> None:
    """Live Oracle: a run recorded with a stream, a second run of the job refused."""
    job = f"live-{uuid.uuid4().hex[:8]}"
    run = oracle_ledger.start(job)
    with oracle_ledger.lock(job, run.run_id), pytest.raises(LockHeldError, match=run.run_id):
        oracle_ledger.lock(job, "second").acquire()
    done = oracle_ledger.finish(run.run_id, "succeeded", 0, streams=[StreamRun("live", 3)])
    assert done.streams[0].records_read == 3
    assert oracle_ledger.list_runs(job=job, limit=1)[0].run_id == run.run_id
    assert sa.__version__  # the dialect used for the DDL is the installed one
