"""Fixtures for the target tests: SQLite files, a throwaway PostgreSQL schema, a runner."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from target_flext_oracle import TargetFlextOracle, _settings

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATA = Path(__file__).parent / "data"
BAD = Path(__file__).parent.parent / "data" / "bad"


@dataclass
class Run:
    """What one target run produced."""

    states: list[dict[str, Any]]
    target: TargetFlextOracle


def run_target(config: dict[str, Any], text: str | Path, **kwargs: Any) -> Run:
    """Feed Singer text (or a .singer file) through a fresh target; return emitted STATEs."""
    if isinstance(text, Path):
        text = text.read_text(encoding="utf-8")
    target = TargetFlextOracle(config=config, **kwargs)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            target.listen(io.StringIO(text))
    finally:
        target.close()
        states = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
        target.emitted_states = states  # type: ignore[attr-defined]
    return Run(states, target)


def singer(*messages: dict[str, Any]) -> str:
    """Singer lines from message dicts."""
    return "".join(json.dumps(m) + "\n" for m in messages)


def schema_msg(
    stream: str, properties: dict[str, Any], keys: list[str] | None = None
) -> dict[str, Any]:
    """A SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys or [],
    }


def rec(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": record}


def state(value: dict[str, Any]) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


@pytest.fixture
def sqlite_config(tmp_path: Path) -> dict[str, Any]:
    """Config loading into a fresh SQLite file, rejects under tmp_path."""
    return {
        "sqlalchemy_url": f"sqlite:///{tmp_path / 'target.db'}",
        "reject_path": str(tmp_path / "rejects"),
    }


@pytest.fixture
def sqlite_db(sqlite_config: dict[str, Any]) -> Iterator[sa.Engine]:
    """An engine on the SQLite file the target loads into."""
    engine = sa.create_engine(sqlite_config["sqlalchemy_url"], poolclass=NullPool)
    yield engine
    engine.dispose()


def pg_available() -> bool:
    """True when PostgreSQL answers on 127.0.0.1:5432."""
    try:
        conn = psycopg.connect(
            "host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=3
        )
    except psycopg.OperationalError:
        return False
    conn.close()
    return True


@contextlib.contextmanager
def pg_schema(prefix: str = "flext_t") -> Iterator[str]:
    """A unique PostgreSQL schema, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    yield name
    engine = sa.create_engine(PG_URL, poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


@pytest.fixture
def pg_config(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Config loading into a throwaway PostgreSQL schema."""
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    with pg_schema() as name:
        yield {
            "sqlalchemy_url": PG_URL,
            "default_target_schema": name,
            "reject_path": str(tmp_path / "rejects"),
        }


@pytest.fixture
def pg_db() -> Iterator[sa.Engine]:
    """An engine on the test database."""
    engine = sa.create_engine(PG_URL, poolclass=NullPool)
    yield engine
    engine.dispose()


def rejects(config: dict[str, Any], stream: str) -> list[dict[str, Any]]:
    """The reject lines written for ``stream`` (the quality store writes one file per run)."""
    out = []
    for path in sorted(Path(config["reject_path"]).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in out if r["stream"] == stream]


@pytest.fixture(autouse=True)
def _columnar_for_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' batches are small: let them take the columnar path (a run's default)."""
    monkeypatch.setattr(_settings, "DEFAULT_COLUMNAR_MIN_ROWS", 1)


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test so a leaked connection warns in the test that leaked it."""
    yield
    gc.collect()


@dataclass
class Db:
    """One database under test: the target config and an engine to look at the data."""

    name: str
    config: dict[str, Any]
    engine: sa.Engine
    schema: str | None

    def table(self, name: str) -> str:
        """The qualified table name for raw SQL."""
        return f'"{self.schema}"."{name}"' if self.schema else f'"{name}"'

    def rows(self, table: str, order: str = "id") -> list[dict[str, Any]]:
        """Every row of ``table`` as dicts, ordered."""
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(f"SELECT * FROM {self.table(table)} ORDER BY {order}")
            return [dict(r._mapping) for r in result]

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> declared type, as the database reports it."""
        if self.schema is not None:
            sql = (
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s"
            )
            with self.engine.connect() as conn:
                return dict(conn.exec_driver_sql(sql, (self.schema, table)).all())  # type: ignore[arg-type]
        inspector = sa.inspect(self.engine)
        return {c["name"]: str(c["type"]) for c in inspector.get_columns(table, schema=self.schema)}

    def exists(self, table: str) -> bool:
        """True if ``table`` exists."""
        return sa.inspect(self.engine).has_table(table, schema=self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'target.db'}"
        engine = sa.create_engine(url, poolclass=NullPool)
        yield Db(
            "sqlite",
            {"sqlalchemy_url": url, "reject_path": str(tmp_path / "rejects")},
            engine,
            None,
        )
        engine.dispose()
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    with pg_schema() as name:
        engine = sa.create_engine(PG_URL, poolclass=NullPool)
        yield Db(
            "postgres",
            {
                "sqlalchemy_url": PG_URL,
                "default_target_schema": name,
                "reject_path": str(tmp_path / "rejects"),
            },
            engine,
            name,
        )
        engine.dispose()
