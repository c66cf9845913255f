"""Ledgers in a fresh SQLite file and in a throwaway PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from flext_infra.runs import RunLedger

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def pg_available() -> bool:
    """True when the test PostgreSQL answers."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A new PostgreSQL schema, dropped afterwards."""
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"runs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class Clock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


MakeLedger = Callable[..., RunLedger]


@pytest.fixture(params=["sqlite", "postgresql"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> MakeLedger:
    """Builds ledgers on one shared database: an SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        schema = None
    else:
        schema = request.getfixturevalue("pg_schema")
        url = PG_URL

    def make(**kwargs: Any) -> RunLedger:
        return RunLedger.from_url(url, schema=schema, **kwargs)

    make.url = url  # type: ignore[attr-defined]
    make.schema = schema  # type: ignore[attr-defined]
    return make
