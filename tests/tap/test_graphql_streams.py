"""GraphQL streams against the sample API: pages, incremental, errors, faults, parent-child."""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from flext_infra.testing import Faults, SampleApi
from tap_flext_api import GraphqlResponseError, GraphqlThrottledError

from .conftest import PASSWORD, USER, Run, run_in_process, run_subprocess

ITEM_FIELDS = (
    "id name description price quantity active category rating created_at updated_at "
    "ship_date discount dimensions tags notes"
)
RELAY = f"""
query Items($first: Int!, $after: String, $since: DateTime) {{
  items(first: $first, after: $after, updatedSince: $since, orderBy: "updated_at") {{
    edges {{ cursor node {{ {ITEM_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
OFFSET = f"""
query Items($offset: Int, $limit: Int) {{
  items(offset: $offset, limit: $limit) {{ nodes {{ {ITEM_FIELDS} }} totalCount }}
}}
"""
ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "price": {"type": "number"},
        "quantity": {"type": "integer"},
        "active": {"type": "boolean"},
        "category": {"type": ["string", "null"]},
        "rating": {"type": ["number", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "ship_date": {"type": ["string", "null"], "format": "date"},
        "discount": {"type": ["number", "null"]},
        "dimensions": {"type": ["object", "null"]},
        "tags": {"type": ["array", "null"]},
        "notes": {"type": ["string", "null"]},
    },
}


def items_stream(**extra: Any) -> dict[str, Any]:
    """A relay GraphQL stream of the sample items, incremental on updated_at."""
    entry: dict[str, Any] = {
        "name": "gql_items",
        "protocol": "graphql",
        "query": RELAY,
        "operation_name": "Items",
        "records_path": "$.data.items.edges[*].node",
        "variables": {"first": "{page_size}", "since": "{bookmark}"},
        "paginator": {"type": "relay"},
        "primary_keys": ["id"],
        "replication_key": "updated_at",
        "is_sorted": True,
        "schema": ITEM_SCHEMA,
    }
    entry.update(extra)
    return entry


def config(api: SampleApi, *streams: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A generic-profile config for ``api`` with basic auth."""
    return {
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "page_size": 20,
        "streams": list(streams) or [items_stream()],
        **extra,
    }


def expected(api: SampleApi, entity: str = "items") -> list[dict[str, Any]]:
    """Every record of ``entity`` as the API serves it, in id order."""
    return [api.record(entity, i) for i in range(1, api.count(entity) + 1)]


@pytest.fixture
def api() -> Any:
    """The sample API with basic auth and 95 items (5 pages of 20)."""
    with SampleApi(records=95, username=USER, password=PASSWORD) as server:
        yield server


@pytest.mark.parametrize("trusted", [False, True], ids=["shaped", "raw"])
def test_a_relay_stream_reads_every_record_once_in_one_request_per_page(
    api: SampleApi, trusted: bool
) -> None:
    """The records equal the dataset, each once, with exactly one POST per page."""
    run = run_in_process(config(api, trust_schema=trusted), keep_tap=True)
    assert run.error is None, run.error
    assert run.records("gql_items") == expected(api)
    assert len(api.graphql.calls) == math.ceil(95 / 20)
    assert [c.variables.get("after") is None for c in api.graphql.calls] == [True] + [False] * 4
    assert {c.variables["first"] for c in api.graphql.calls} == {20}
    assert all(c.operation_name == "Items" for c in api.graphql.calls)
    assert run.tap is not None
    stream = run.tap.streams["gql_items"]
    assert stream.used_fast_path and stream.raw_pages == 5
    assert run.bookmark("gql_items") == api.record("items", 95)["updated_at"]


def test_the_fast_loop_and_the_sdk_loop_emit_the_same_messages(api: SampleApi) -> None:
    """With a stream map forcing the SDK loop, records and STATE are the same."""
    fast = run_in_process(config(api))
    slow = run_in_process(config(api, stream_maps={"gql_items": {"__alias__": "gql_items"}}))
    assert slow.error is None and fast.error is None
    strip = [
        {k: v for k, v in m.items() if k != "time_extracted"}
        for m in fast.messages
        if m["type"] in ("RECORD", "STATE")
    ]
    assert strip == [
        {k: v for k, v in m.items() if k != "time_extracted"}
        for m in slow.messages
        if m["type"] in ("RECORD", "STATE")
    ]


def test_offset_pagination_and_a_nodes_list_read_every_record(api: SampleApi) -> None:
    """offset/limit variables advance by the records received; totalCount stops it."""
    stream = items_stream(
        query=OFFSET,
        records_path="$.data.items.nodes",
        variables={},
        paginator={"type": "offset", "total_path": "$.data.items.totalCount"},
        replication_key=None,
        is_sorted=False,
    )
    run = run_in_process(config(api, stream))
    assert run.error is None, run.error
    assert run.records("gql_items") == expected(api)
    # totalCount announces the pages: after the first, they are read at once (max_concurrency).
    assert sorted(c.variables["offset"] for c in api.graphql.calls) == [0, 20, 40, 60, 80]
    assert {c.variables["limit"] for c in api.graphql.calls} == {20}


def test_a_second_run_reads_only_added_and_modified_records_and_the_bookmark_moves(
    api: SampleApi,
) -> None:
    """updatedSince gets the bookmark; the next run reads changes plus the inclusive record."""
    first = run_in_process(config(api))
    assert first.error is None, first.error
    bookmark = first.bookmark("gql_items")
    modified = api.modify_records("items", ids=[5, 50])
    added = api.add_records("items", 3)
    api.graphql.calls.clear()
    second = run_in_process(config(api), state=first.state)
    assert second.error is None, second.error
    assert second.ids("gql_items") == [95, *modified, *added]
    sent = datetime.fromisoformat(api.graphql.calls[0].variables["since"])
    assert sent == datetime.fromisoformat(bookmark)
    assert second.bookmark("gql_items") == api.record("items", added[-1])["updated_at"]
    assert second.bookmark("gql_items") > bookmark


def _fails(run: Run) -> GraphqlResponseError:
    assert isinstance(run.error, GraphqlResponseError), run.error
    return run.error


def test_an_errors_only_answer_fails_with_the_message_path_and_stream(api: SampleApi) -> None:
    """data null with errors ends the run naming the stream, the message and the path."""
    api.set_faults(graphql_errors_next=1)
    error = _fails(run_in_process(config(api)))
    message = str(error)
    assert message.startswith("stream 'gql_items': GraphQL errors and no data:")
    assert "Internal error while resolving 'items'" in message
    assert "(at items; code INTERNAL_SERVER_ERROR)" in message
    assert "/graphql" in message


def test_an_errors_only_answer_fails_the_cli_with_secrets_redacted(
    api: SampleApi, tmp_path: Path
) -> None:
    """The tap exits non-zero; an error echoing a secret (here a variable) shows it masked."""
    stream = items_stream(variables={"first": PASSWORD})  # an Int! given the password
    run = run_subprocess(config(api, stream), tmp=tmp_path)
    assert run.returncode != 0
    assert "stream 'gql_items': GraphQL errors and no data" in run.stderr
    assert "Variable '$first'" in run.stderr and "non-integer value" in run.stderr
    assert PASSWORD not in run.stderr and PASSWORD not in run.stdout


def test_partial_data_fails_by_default(api: SampleApi) -> None:
    """on_partial_errors: fail (the default) ends the run with the error's record path."""
    api.set_faults(graphql_partial_next=1)
    error = _fails(run_in_process(config(api)))
    assert "GraphQL errors in partial data (on_partial_errors: fail)" in str(error)
    assert "at items.edges[10].node.description" in str(error)
    assert error.problems[0].path == ("items", "edges", 10, "node", "description")


def test_partial_data_under_warn_is_logged_counted_and_kept(api: SampleApi) -> None:
    """warn keeps every record (the failed field null) and logs and counts the errors."""
    api.set_faults(graphql_partial_next=2)
    with capture_logs() as logs:
        run = run_in_process(config(api, items_stream(on_partial_errors="warn")), keep_tap=True)
    assert run.error is None, run.error
    records = run.records("gql_items")
    assert [r["id"] for r in records] == list(range(1, 96))
    assert records[10]["description"] is None and records[30]["description"] is None
    assert records[11] == api.record("items", 12)
    warnings = [e for e in logs if e["event"] == "tap.graphql_partial_errors"]
    assert [w["errors_total"] for w in warnings] == [1, 2]
    assert "items.edges[10].node.description" in warnings[0]["detail"]
    assert run.tap is not None and run.tap.streams["gql_items"].partial_errors == 2


def test_partial_data_under_reject_sends_the_hit_records_to_the_reject_store(
    api: SampleApi, tmp_path: Path
) -> None:
    """reject writes the hit record (key, field, error) to the store; the others flow on."""
    api.set_faults(graphql_partial_next=1)
    stream = items_stream(on_partial_errors="reject")
    run = run_in_process(config(api, stream, reject_path=str(tmp_path / "rej")), keep_tap=True)
    assert run.error is None, run.error
    assert run.ids("gql_items") == [i for i in range(1, 96) if i != 11]
    assert run.tap is not None
    (reject,) = run.tap.rejects.read()
    assert reject["stream"] == "gql_items" and reject["key"] == {"id": 11}
    assert reject["field"] == "description" and reject["rule"] == "graphql_error"
    assert "could not load 'description' of items 11" in reject["reason"]
    assert reject["record"]["id"] == 11 and reject["record"]["description"] is None
    assert list((tmp_path / "rej").glob("*.tap-flext-api.jsonl"))
    assert run.bookmark("gql_items") == api.record("items", 95)["updated_at"]


def test_a_throttled_error_is_retried_with_the_cost_wait_and_then_succeeds(
    api: SampleApi,
) -> None:
    """THROTTLED in a 200 is retried like a 429, waiting what the cost extension says."""
    api.set_faults(graphql_throttle_next=2)
    stream = items_stream(retriable_error_codes=["THROTTLED"])
    with capture_logs() as logs:
        run = run_in_process(config(api, stream))
    assert run.error is None, run.error
    assert run.records("gql_items") == expected(api)
    assert [c.fault for c in api.graphql.calls[:3]] == ["graphql:throttled"] * 2 + [None]
    retries = [e for e in logs if e["event"] == "http.retry_scheduled"]
    # requestedQueryCost 23 (20 records + 3), nothing available, 50 restored per second.
    assert [(r["reason"], r["wait_s"]) for r in retries] == [("graphql THROTTLED", 0.46)] * 2


def test_a_throttle_that_outlasts_the_retries_is_a_retriable_error(api: SampleApi) -> None:
    """After max_retries the run fails with a retriable error quoting the THROTTLED error."""
    api.set_faults(graphql_throttle_next=50)
    stream = items_stream(retriable_error_codes=["THROTTLED"])
    run = run_in_process(config(api, stream, max_retries=2))
    assert isinstance(run.error, GraphqlThrottledError), run.error
    assert "GraphQL THROTTLED persisted through the retries" in str(run.error)
    assert "3 attempts" in str(run.error)


def test_a_cost_budget_paces_requests_so_the_server_never_throttles(
    api: SampleApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With cost_path the governor waits for the bucket to refill; without it, throttles."""
    monkeypatch.setenv("FLEXT_API_ZERO_WAITS", "false")  # the server's bucket refills in real time
    budget = Faults(graphql_cost=(60.0, 200.0))  # 2 pages of 20 (23 each), then ~0.1 s a page
    api.set_faults(budget)
    paced = run_in_process(config(api, items_stream(cost_path="$.extensions.cost")))
    assert paced.error is None, paced.error
    assert len(paced.records("gql_items")) == 95
    assert api.graphql.throttled == 0
    api.set_faults(budget)
    unpaced = run_in_process(config(api, items_stream(retriable_error_codes=["THROTTLED"])))
    assert unpaced.error is None, unpaced.error
    assert len(unpaced.records("gql_items")) == 95
    assert api.graphql.throttled > 0


def test_a_fault_storm_delivers_every_record_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20% 503/429, drops, truncations and THROTTLED answers: every record once, in order."""
    # The counted faults (429s, drops, truncations) all hit the first requests,
    # on top of the random ones: allow enough attempts, and judge the breaker
    # over 40 calls so that burst alone does not open it.
    monkeypatch.setenv("FLEXT_API_BREAKER_MIN_CALLS", "40")
    storm = Faults(
        error_ratio=0.2,
        error_statuses=(503, 429),
        retry_after=2,
        rate_limit_next=2,
        drop_next=2,
        truncate_next=2,
        graphql_throttle_ratio=0.1,
        seed=7,
    )
    with SampleApi(records=400, username=USER, password=PASSWORD, faults=storm) as api:
        stream = items_stream(retriable_error_codes=["THROTTLED"])
        run = run_subprocess(config(api, stream, max_retries=12), tmp=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.ids("gql_items") == list(range(1, 401))
        faults = [r.fault for r in api.requests if r.fault]
    assert faults.count("status:503") >= 3 and faults.count("status:429") >= 3
    assert faults.count("drop") == 2 and faults.count("truncate") == 2
    assert faults.count("graphql:throttled") >= 1


ORDER_HDR = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "order_nbr": {"type": "string"}},
}
ORDER_DTL = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "seq_nbr": {"type": "integer"},
        "order_id": {"type": "object"},
    },
}


def test_a_rest_parent_feeds_a_graphql_child(tmp_path: Path) -> None:
    """Each REST order header's id becomes the GraphQL child's $order variable."""
    parent = {
        "name": "orders",
        "path": "/wms/lgfapi/v10/entity/order_hdr/",
        "records_path": "$.results",
        "params": {"page_size": "{page_size}"},
        "paginator": {"type": "next_url", "next_url_path": "$.next_page"},
        "primary_keys": ["id"],
        "schema": ORDER_HDR,
    }
    child = {
        "name": "order_lines",
        "protocol": "graphql",
        "query": "query Lines($order: Int!, $first: Int!, $after: String) {"
        " order_dtl(order_id: $order, first: $first, after: $after) {"
        " nodes { id seq_nbr order_id { id key url } } pageInfo { hasNextPage endCursor } } }",
        "records_path": "$.data.order_dtl.nodes",
        "variables": {"order": "{hdr_id}", "first": 2},
        "paginator": {"type": "relay"},
        "primary_keys": ["id"],
        "parent_stream": "orders",
        "parent_context": {"hdr_id": "id"},
        "schema": ORDER_DTL,
    }
    counts = {"order_hdr": 4, "order_dtl": 11}
    with SampleApi(counts=counts, username=USER, password=PASSWORD) as api:
        run = run_in_process(config(api, parent, child))
        assert run.error is None, run.error
        lines = run.records("order_lines")
        assert sorted(r["id"] for r in lines) == list(range(1, 12))
        assert all(line["hdr_id"] == line["order_id"]["id"] for line in lines)
        by_id = {r["id"]: r["order_id"] for r in lines}
        assert by_id == {i: api.record("order_dtl", i)["order_id"] for i in range(1, 12)}
        assert sorted({c.variables["order"] for c in api.graphql.calls}) == [1, 2, 3, 4]
        # 3 lines for orders 1-3 (2 + 1 pages), 2 for order 4 (1 page).
        assert len(api.graphql.calls) == 3 * 2 + 1


def test_a_graphql_parent_feeds_a_rest_child() -> None:
    """Each GraphQL order header's id fills the REST child's path."""
    parent = {
        "name": "orders",
        "protocol": "graphql",
        "query": "query($first: Int!, $after: String) { order_hdr(first: $first, after: $after) {"
        " edges { node { id order_nbr } } pageInfo { hasNextPage endCursor } } }",
        "records_path": "$.data.order_hdr.edges[*].node",
        "variables": {"first": 3},
        "paginator": {"type": "relay"},
        "primary_keys": ["id"],
        "schema": ORDER_HDR,
    }
    child = {
        "name": "order_detail",
        "path": "/wms/lgfapi/v10/entity/order_hdr/{hdr_id}/",
        "records_path": "$",
        "primary_keys": ["id"],
        "parent_stream": "orders",
        "parent_context": {"hdr_id": "id"},
        "schema": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "cust_name": {"type": ["string", "null"]}},
        },
    }
    with SampleApi(counts={"order_hdr": 7}, username=USER, password=PASSWORD) as api:
        run = run_in_process(config(api, parent, child))
        assert run.error is None, run.error
        assert run.ids("orders") == list(range(1, 8))
        details = run.records("order_detail")
        assert [d["id"] for d in details] == list(range(1, 8))
        assert all(d["hdr_id"] == d["id"] for d in details)
        assert [d["cust_name"] for d in details] == [
            api.record("order_hdr", i)["cust_name"] for i in range(1, 8)
        ]
        paths = [r.path for r in api.requests.matching("/wms/lgfapi/v10/entity/order_hdr/")]
        # Children's first pages are asked for while the parent page is written
        # (max_concurrency), so in any order; each once.
        assert sorted(paths) == [f"/wms/lgfapi/v10/entity/order_hdr/{i}/" for i in range(1, 8)]


@pytest.mark.parametrize("policy", ["warn", "reject"])
def test_a_record_graphql_nulled_is_dropped_and_counted_or_rejected(
    api: SampleApi, tmp_path: Path, policy: str
) -> None:
    """An error on a non-null field nulls the node: warn drops and counts it, reject stores it."""
    api.set_faults(graphql_partial_next=1, graphql_partial_field="name")
    stream = items_stream(on_partial_errors=policy)
    run = run_in_process(config(api, stream, reject_path=str(tmp_path)), keep_tap=True)
    assert run.error is None, run.error
    assert run.ids("gql_items") == [i for i in range(1, 96) if i != 11]
    assert run.tap is not None
    gql = run.tap.streams["gql_items"]
    rejects = run.tap.rejects.read()
    if policy == "warn":
        assert gql.nulled == 1 and rejects == []
    else:
        assert gql.nulled == 0
        (reject,) = rejects
        assert (
            reject["field"] == "name" and reject["record"] == {} and reject["key"] == {"id": None}
        )
        assert "could not load 'name' of items 11" in reject["reason"]


def test_a_graphql_stream_writes_batch_files_too(api: SampleApi, tmp_path: Path) -> None:
    """With batch_config the GraphQL records arrive in BATCH files, each record once."""
    batch = {"encoding": {"format": "jsonl", "compression": "gzip"},
             "storage": {"root": f"file://{tmp_path}"}, "batch_size": 40}  # fmt: skip
    run = run_in_process(config(api, batch_config=batch))
    assert run.error is None, run.error
    files = [f for m in run.messages if m["type"] == "BATCH" for f in m["manifest"]]
    records = []
    for url in files:
        with gzip.open(url.removeprefix("file://"), "rt") as fh:
            records += [json.loads(line) for line in fh]
    assert sorted(r["id"] for r in records) == list(range(1, 96))
    assert {r["id"]: r for r in records}[42] == api.record("items", 42)
