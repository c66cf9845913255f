"""A GraphQL stream through a real `meltano run`: the sample API's /graphql into SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from flext_infra.testing import SampleApi
from tests.e2e.conftest import MeltanoProject, assert_row_matches

pytestmark = pytest.mark.meltano

PIPELINE = ("run", "tap-flext-api", "target-flext-oracle")
STATE_ID = "test:tap-flext-api-to-target-flext-oracle"
STREAM = {
    "name": "gql_items",
    "protocol": "graphql",
    # Relative to the config, which under Meltano is the project (meltano.yml).
    "query_file": "tests/e2e/graphql/items.graphql",
    "records_path": "$.data.items.edges[*].node",
    "variables": {"first": "{page_size}", "since": "{bookmark}"},
    "paginator": {"type": "relay"},
    "primary_keys": ["id"],
    "replication_key": "updated_at",
    "is_sorted": True,
    "retriable_error_codes": ["THROTTLED"],
}


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample API with 230 generic items (5 pages of 50)."""
    with SampleApi(counts={"items": 230}, username="gql", password="gql-pass-e2e") as server:
        yield server


def _rows(project: MeltanoProject) -> dict[int, dict[str, Any]]:
    with sqlite3.connect(project.tmp / "warehouse.db") as conn:
        conn.row_factory = sqlite3.Row
        return {r["id"]: dict(r) for r in conn.execute('SELECT * FROM "wms_gql_items"')}


def test_meltano_runs_a_graphql_stream_incrementally(
    project: MeltanoProject, api: SampleApi
) -> None:
    """meltano run loads every item once, then only the changed ones; the bookmark moves."""
    project.point_tap_at(api.base_url, "gql", "gql-pass-e2e")
    project.env.update(
        TAP_FLEXT_API_PROFILE="generic",
        TAP_FLEXT_API_PAGE_SIZE="50",
        TAP_FLEXT_API_STREAMS=json.dumps([STREAM]),
    )
    first = project.run(*PIPELINE)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.metric_counts("tap-flext-api") == {"gql_items": 230}
    rows = _rows(project)
    assert sorted(rows) == list(range(1, 231))
    for record_id in (1, 115, 230):
        assert_row_matches(api.record("items", record_id), rows[record_id])
    # One page per 50 records, and one sampled at discovery to infer the schema.
    assert len(api.graphql.calls) == 5 + 1
    assert "gql-pass-e2e" not in first.stderr

    modified = api.modify_records("items", ids=[7, 200])
    added = api.add_records("items", 4)
    api.set_faults(graphql_throttle_next=1)  # retried inside the run
    second = project.run(*PIPELINE)
    assert second.returncode == 0, second.stderr[-3000:]
    # updatedSince is inclusive: the record holding the bookmark is read again.
    assert second.metric_counts("tap-flext-api") == {"gql_items": 1 + len(modified) + len(added)}
    rows = _rows(project)
    assert len(rows) == 234
    for record_id in [*modified, *added]:
        assert_row_matches(api.record("items", record_id), rows[record_id])
    state = project.run("state", "get", STATE_ID)
    assert state.returncode == 0, state.stderr[-2000:]
    bookmark = json.loads(state.stdout)["singer_state"]["bookmarks"]["gql_items"]
    assert bookmark["replication_key_value"] == api.record("items", added[-1])["updated_at"]
