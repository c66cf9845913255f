"""The live Oracle suite: runs only with FLEXT_TEST_ORACLE_DSN, and is visibly skipped otherwise.

FLEXT_TEST_ORACLE_DSN is an Easy Connect string ``user/password@host:port/service``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flext_infra.database import OracleConnectionManager
from tests.target.conftest import DATA, rec, rejects, run_target, schema_msg, singer

DSN = os.environ.get("FLEXT_TEST_ORACLE_DSN")

pytestmark = [
    pytest.mark.oracle_live,
    pytest.mark.skipif(not DSN, reason="FLEXT_TEST_ORACLE_DSN is not set: no live Oracle here"),
]


def _config_from_dsn(dsn: str) -> dict[str, Any]:
    match = re.match(
        r"^(?P<user>[^/]+)/(?P<password>[^@]+)@(?P<host>[^:/]+)(:(?P<port>\d+))?/(?P<svc>.+)$", dsn
    )
    if not match:
        pytest.fail("FLEXT_TEST_ORACLE_DSN must look like user/password@host:port/service")
    return {
        "oracle_config": {
            "host": match["host"],
            "port": int(match["port"] or 1521),
            "service_name": match["svc"],
            "username": match["user"],
            "password": match["password"],
        }
    }


def _manager(config: dict[str, Any]) -> OracleConnectionManager:
    params = config["oracle_config"]
    return OracleConnectionManager(
        host=params["host"],
        port=params["port"],
        service_name=params["service_name"],
        user=params["username"],
        password=params["password"],
    )


def _query(config: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    manager = _manager(config)
    try:
        with manager.acquire() as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        manager.dispose()


@pytest.fixture
def oracle(tmp_path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """A config for the live database and a unique table prefix, tables dropped afterwards."""
    assert DSN is not None
    prefix = f"FT{uuid.uuid4().hex[:6].upper()}_"
    config = {**_config_from_dsn(DSN), "table_prefix": prefix, "reject_path": str(tmp_path / "rej")}
    yield config, prefix
    manager = _manager(config)
    with manager.acquire() as conn:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT table_name FROM user_tables WHERE table_name LIKE :p", p=f"{prefix}%"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}" PURGE')
    manager.dispose()


def test_live_upsert_twice_with_merge(oracle: tuple[dict[str, Any], str]) -> None:
    """Upsert through MERGE twice on a real Oracle leaves one row per key, updated."""
    config, prefix = oracle
    config = {**config, "load_method": "upsert"}
    run_target(config, DATA / "upsert_run1.singer")
    run = run_target(config, DATA / "upsert_run2.singer")
    assert run.states == [{"run": 2}]
    rows = _query(config, f"SELECT id, name, qty FROM {prefix}ITEM ORDER BY id")
    assert rows == [(1, "one", 1), (2, "two v3", 0), (3, "three", 3), (4, "four v2", 40)]


def test_live_replay_with_reserved_names_and_empty_key(oracle: tuple[dict[str, Any], str]) -> None:
    """Reserved column names load, and an '' key is rejected because Oracle stores it as NULL."""
    config, prefix = oracle
    props = {
        "code": {"type": "string"},
        "date": {"type": ["string", "null"]},
        "level": {"type": ["integer", "null"]},
    }
    text = singer(
        schema_msg("t", props, ["code"]),
        rec("t", {"code": "A", "date": "d", "level": 1}),
        rec("t", {"code": "", "date": "e", "level": 2}),
    )
    run_target({**config, "load_method": "upsert"}, text)
    assert len(rejects(config, "t")) == 1
    assert _query(config, f'SELECT code, "DATE", "LEVEL" FROM {prefix}T') == [("A", "d", 1)]
    run_target(config, DATA / "wms_orders.singer")
    rows = _query(
        config,
        f"SELECT id, qty, is_active, TO_CHAR(price), TO_CHAR(mod_ts AT TIME ZONE 'UTC', "
        f"'YYYY-MM-DD HH24:MI:SS.FF3') FROM {prefix}ORDER_HDR ORDER BY id",
    )
    assert rows[1] == (2, 0, 0, "0", "2024-05-01 09:30:00.250")
    assert rows[3][3] == "123456789012345678.123456789"


def _bench_rows(config: dict[str, Any], table: str) -> list[tuple[Any, ...]]:
    return _query(
        config,
        "SELECT id, sku, name, city, TO_CHAR(price), TO_CHAR(weight_kg), quantity, active, "
        "TO_CHAR(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.FF6'), ship_date, "
        f"JSON_SERIALIZE(attributes) FROM {table} ORDER BY id",
    )


@pytest.mark.parametrize("load_method", ["append-only", "upsert"])
def test_live_columnar_and_per_record_paths_load_the_same_rows(
    oracle: tuple[dict[str, Any], str], load_method: str
) -> None:
    """DataFrame ingestion (columnar) and array binds (per record) leave identical tables."""
    from benchmarks._dataset import iter_messages

    config, prefix = oracle
    text = singer(*iter_messages(3000))
    run_target({**config, "load_method": load_method, "table_prefix": f"{prefix}C_"}, text)
    run_target(
        {**config, "load_method": load_method, "table_prefix": f"{prefix}R_", "columnar": False},
        text,
    )
    columnar = _bench_rows(config, f"{prefix}C_BENCH_ITEMS")
    per_record = _bench_rows(config, f"{prefix}R_BENCH_ITEMS")
    assert len(columnar) == 3000
    assert columnar == per_record


def test_live_direct_path_load_of_columnar_batches(oracle: tuple[dict[str, Any], str]) -> None:
    """direct_path_load with Arrow batches loads every record, and a rerun appends again."""
    from benchmarks._dataset import iter_messages

    config, prefix = oracle
    text = singer(*iter_messages(2500))
    settings = {**config, "direct_path_load": True, "batch_size_rows": 1000}
    run = run_target(settings, text)
    assert run.states == [{"bookmarks": {"bench_items": {"last_id": 2500}}}]
    assert _query(config, f"SELECT COUNT(*) FROM {prefix}BENCH_ITEMS") == [(2500,)]
    run_target(settings, text)
    assert _query(config, f"SELECT COUNT(*) FROM {prefix}BENCH_ITEMS") == [(5000,)]
