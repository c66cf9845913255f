"""A real `meltano run` of this project's meltano.yml: sample API -> tap -> target."""

from __future__ import annotations

import copy
import importlib
import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flext_infra.alerts import read_recorded_alerts
from flext_infra.testing import Faults, SampleApi
from tests.e2e.conftest import BIN, PG_URL, ROOT, MeltanoProject, assert_row_matches

pytestmark = pytest.mark.meltano

ENTITIES = ("allocation", "order_hdr", "order_dtl")
PIPELINE = ("run", "tap-flext-api", "target-flext-oracle")
STATE_ID = "test:tap-flext-api-to-target-flext-oracle"


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample WMS API with a different size per entity."""
    with SampleApi(
        counts={"allocation": 120, "order_hdr": 45, "order_dtl": 230},
        username="wms",
        password="wms-pass-e2e",
    ) as server:
        yield server


def _sqlite_rows(path: Path, table: str) -> dict[int, dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return {r["id"]: dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')}


def test_meltano_run_into_sqlite(project: MeltanoProject, api: SampleApi) -> None:
    """meltano run loads every entity into SQLite with exact counts and intact values."""
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    result = project.run(*PIPELINE)
    assert result.returncode == 0, result.stderr[-3000:]
    warehouse = project.tmp / "warehouse.db"
    for entity, expected in (("allocation", 120), ("order_hdr", 45), ("order_dtl", 230)):
        rows = _sqlite_rows(warehouse, f"wms_{entity}")
        assert len(rows) == expected, entity
        for record_id in (1, expected // 2, expected):
            assert_row_matches(api.record(entity, record_id), rows[record_id])
    assert result.metric_counts("tap-flext-api") == {
        "allocation": 120,
        "order_hdr": 45,
        "order_dtl": 230,
    }
    assert "wms-pass-e2e" not in result.stderr


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A throwaway PostgreSQL schema, dropped afterwards."""
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    yield name
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
def test_meltano_run_into_postgres(project: MeltanoProject, api: SampleApi, pg_schema: str) -> None:
    """meltano run loads every entity into PostgreSQL with exact counts and intact values."""
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    project.env["TARGET_FLEXT_ORACLE_SQLALCHEMY_URL"] = PG_URL
    project.env["TARGET_FLEXT_ORACLE_DEFAULT_TARGET_SCHEMA"] = pg_schema
    result = project.run(*PIPELINE)
    assert result.returncode == 0, result.stderr[-3000:]
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            for entity, expected in (("allocation", 120), ("order_hdr", 45), ("order_dtl", 230)):
                table = f'"{pg_schema}"."wms_{entity}"'
                count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                assert count == expected, entity
                for record_id in (1, expected):
                    row = (
                        conn.execute(
                            sa.text(f"SELECT * FROM {table} WHERE id = :id"), {"id": record_id}
                        )
                        .mappings()
                        .one()
                    )
                    assert_row_matches(api.record(entity, record_id), dict(row))
    finally:
        engine.dispose()


def test_incremental_run_loads_only_new_and_changed(
    project: MeltanoProject, api: SampleApi
) -> None:
    """A second run loads only added and modified records, upserting without duplicates."""
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    first = project.run(*PIPELINE)
    assert first.returncode == 0, first.stderr[-3000:]

    added = api.add_records("allocation", 7)
    modified = api.modify_records("allocation", 5)
    changed_hdr = api.modify_records("order_hdr", 2)
    second = project.run(*PIPELINE)
    assert second.returncode == 0, second.stderr[-3000:]

    emitted = second.metric_counts("tap-flext-api")
    # mod_ts__gte is inclusive: the record holding the bookmark may be read again.
    assert len(added) + len(modified) <= emitted["allocation"] <= len(added) + len(modified) + 1
    assert len(changed_hdr) <= emitted["order_hdr"] <= len(changed_hdr) + 1
    assert emitted.get("order_dtl", 0) <= 1

    rows = _sqlite_rows(project.tmp / "warehouse.db", "wms_allocation")
    assert len(rows) == 120 + len(added)  # upsert: no duplicates
    for record_id in [*added, *modified]:
        assert_row_matches(api.record("allocation", record_id), rows[record_id])

    state = project.run("state", "get", STATE_ID)
    assert state.returncode == 0, state.stderr[-2000:]
    bookmark = json.loads(state.stdout)["singer_state"]["bookmarks"]["allocation"]
    newest = max(api.record("allocation", i)["mod_ts"] for i in [*added, *modified])
    assert bookmark["replication_key"] == "mod_ts"
    assert bookmark["replication_key_value"].startswith(newest[:19])


@pytest.mark.parametrize(
    ("plugin", "module", "cls"),
    [
        ("tap-flext-api", "tap_flext_api.tap", "TapFlextApi"),
        ("target-flext-oracle", "target_flext_oracle.target", "TargetFlextOracle"),
    ],
)
def test_config_list_shows_documented_settings(
    project: MeltanoProject, plugin: str, module: str, cls: str
) -> None:
    """`meltano config <plugin> list` shows every setting of the plugin's schema."""
    plugin_cls = getattr(importlib.import_module(module), cls)
    schema = copy.deepcopy(plugin_cls.config_jsonschema)
    plugin_cls.append_builtin_config(schema)
    # Meltano 4 spells it `meltano config list <plugin>` (older: `config <plugin> list`).
    result = project.run("config", "list", "--all", plugin)
    assert result.returncode == 0, result.stderr[-2000:]
    listed = result.stdout
    for name, prop in schema["properties"].items():
        if prop.get("properties") and not isinstance(prop.get("additionalProperties"), dict):
            # record-like nested objects (oracle_config) are listed as dotted settings
            for sub in prop["properties"]:
                assert f"{name}.{sub}" in listed, f"{name}.{sub}"
        else:
            assert name in listed, name
            description = " ".join(prop.get("description", "").split())
            assert description, f"{name} has no description"
            assert description[:40] in " ".join(listed.split()), name


def test_outage_fails_the_run_and_raises_a_pipeline_failure_alert(
    project: MeltanoProject, api: SampleApi
) -> None:
    """An API outage makes meltano run exit non-zero and reaches the test alert channel."""
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    api.set_faults(Faults(outage=True))
    result = project.run(*PIPELINE)
    assert result.returncode != 0
    alerts = read_recorded_alerts(project.tmp / "alerts")
    failures = [a for a in alerts if a["alert_type"] == "pipeline_failure"]
    assert failures, alerts
    assert "wms-pass-e2e" not in json.dumps(alerts)


def test_flext_run_reports_real_counts_and_duration(
    project: MeltanoProject, api: SampleApi
) -> None:
    """`flext run incremental-sync-job` reports the records loaded and a measured duration."""
    project.point_tap_at(api.base_url, "wms", "wms-pass-e2e")
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "flext"), "run", "incremental-sync-job", "--env", "test", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **project.env},
    )
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["success"] is True
    assert result["exit_code"] == 0
    assert result["records"] == {"allocation": 120, "order_hdr": 45, "order_dtl": 230}
    assert 0 < result["duration_s"] <= wall
    assert _sqlite_rows(project.tmp / "warehouse.db", "wms_order_hdr").keys() == set(range(1, 46))
