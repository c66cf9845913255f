"""Runs seeded in a ledger the server reads: SQLite files and PostgreSQL schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from flext_infra.runs import RunLedger, RunStatus, StreamRun

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"

#: Jobs of the repository's meltano.yml (the server reads that project).
FAILING_JOB = "incremental-sync-job"
PASSING_JOB = "full-sync-job"
FAILURE = "meltano run exited 1: target-flext-oracle: ORA-12541 no listener"


@dataclass
class LedgerDb:
    """Where a ledger lives, as the server's settings name it."""

    url: str
    schema: str | None

    def env(self) -> dict[str, str]:
        """The FLEXT_RUNS_* variables that point a process at this ledger."""
        env = {"FLEXT_RUNS_URL": self.url}
        if self.schema is not None:
            env["FLEXT_RUNS_SCHEMA"] = self.schema
        return env

    def ledger(self) -> RunLedger:
        """A ledger over the same tables, for seeding."""
        return RunLedger.from_url(self.url, schema=self.schema, environment="test")


def pg_available() -> bool:
    """True when the test PostgreSQL answers."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def create_schema() -> str:
    """A new PostgreSQL schema with a unique name."""
    name = f"serve_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return name


def drop_schema(name: str) -> None:
    """Drop a schema made by :func:`create_schema`."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@dataclass
class SetClock:
    """The ledger's clock, set by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    """The ids of what was seeded."""

    failed: str
    succeeded: str
    all_ids: list[str]


def seed(ledger: RunLedger, *, history: int = 6) -> Seeded:
    """``history`` hourly runs of the failing job (the last one failed) and one good full sync.

    Each run has two streams whose record counts grow, so the charts have shape.
    """
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=history + 1)
    clock = SetClock(base)
    ledger.clock = clock
    ids: list[str] = []
    failed = ""
    for i in range(history):
        started = base + timedelta(hours=i)
        clock.now = started
        run = ledger.start(FAILING_JOB, trigger="schedule")
        clock.now = started + timedelta(seconds=90 + i)
        last = i == history - 1
        streams = [
            StreamRun("allocation", records_read=100 * (i + 1), records_loaded=100 * (i + 1),
                      rejects=i % 2, bookmark_after=f"2024-05-0{i + 1}T00:00:00Z"),
            StreamRun("order_hdr", records_read=40 + i, records_loaded=0 if last else 40 + i),
        ]  # fmt: skip
        ledger.finish(
            run.run_id,
            RunStatus.FAILED if last else RunStatus.SUCCEEDED,
            1 if last else 0,
            error=FAILURE if last else None,
            streams=streams,
        )
        ids.append(run.run_id)
        if last:
            failed = run.run_id
    started = base + timedelta(minutes=30)
    clock.now = started
    full = ledger.start(PASSING_JOB)
    clock.now = started + timedelta(minutes=12)
    ledger.finish(
        full.run_id, RunStatus.SUCCEEDED, 0,
        streams=[StreamRun("allocation", records_read=5000, records_loaded=5000)],
    )  # fmt: skip
    ids.append(full.run_id)
    return Seeded(failed=failed, succeeded=full.run_id, all_ids=ids)
