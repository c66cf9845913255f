"""Fixtures for the reliability suite: PostgreSQL schemas, configs, the sample API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from flext_infra.testing import SampleApi
from tests.reliability._checks import PASSWORD, USER

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def pg_available() -> bool:
    """True when PostgreSQL answers on 127.0.0.1:5432."""
    try:
        conn = psycopg.connect(PG_DSN, connect_timeout=3)
    except psycopg.OperationalError:
        return False
    conn.close()
    return True


def drop_schema(name: str) -> None:
    """Drop a PostgreSQL schema and everything in it."""
    engine = sa.create_engine(PG_URL, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A unique PostgreSQL schema name, dropped after the test."""
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (CI starts it)")
    name = f"rel_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(name)


def tap_config(api: SampleApi, **extra: Any) -> dict[str, Any]:
    """The tap's WMS-profile config for ``allocation`` on the sample API."""
    return {
        "profile": "oracle_wms",
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "entities": ["allocation"],
        "page_size": 1000,
        **extra,
    }


def target_config(
    tmp_path: Path, url: str | None, schema: str | None, batch: int, **extra: Any
) -> dict[str, Any]:
    """The target's upsert config; SQLite in ``tmp_path`` when ``url`` is None."""
    return {
        "sqlalchemy_url": url or f"sqlite:///{tmp_path / 'target.db'}",
        "default_target_schema": schema,
        "load_method": "upsert",
        "batch_size_rows": batch,
        "reject_path": str(tmp_path / "rejects"),
        **extra,
    }
