"""GraphQL streams' configuration: the operation is parsed and checked before anything runs."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from flext_infra.http import Request, Response
from tap_flext_api import Page, PageRequest, StreamDefinition, build_paginator
from tap_flext_api._errors import PaginationError
from tap_flext_api._template import render
from tap_flext_api.graphql import (
    CostGauge,
    GraphqlProblem,
    RecordLocator,
    problems_of,
    throttle_check,
)

from .conftest import run_subprocess

QUERY = """
query Orders($first: Int!, $after: String, $since: DateTime) {
  items(first: $first, after: $after, updatedSince: $since) {
    edges { node { id updated_at } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def stream(**extra: Any) -> dict[str, Any]:
    """A valid relay GraphQL stream entry, changed by ``extra``."""
    entry: dict[str, Any] = {
        "name": "orders",
        "protocol": "graphql",
        "query": QUERY,
        "records_path": "$.data.items.edges[*].node",
        "variables": {"first": "{page_size}", "since": "{bookmark}"},
        "paginator": {"type": "relay"},
    }
    entry.update(extra)
    return {k: v for k, v in entry.items() if v is not None}


def test_a_relay_stream_is_checked_and_its_page_info_path_derived() -> None:
    """The operation is parsed, the variables checked, pageInfo found beside the records."""
    definition = StreamDefinition.from_config(stream())
    spec = definition.graphql
    assert spec is not None
    assert spec.operation.declared == {"first", "after", "since"}
    assert definition.method == "POST" and definition.path == "/graphql"
    assert definition.paginator["page_info_path"] == "$.data.items.pageInfo"
    assert spec.on_partial_errors == "fail"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"query": "mutation Wipe { deleteAll { count } }"},
         "declares a mutation 'Wipe' (line 1); only queries are allowed"),
        ({"query": QUERY + "\nmutation { deleteAll { count } }", "operation_name": "Orders"},
         "declares a mutation (line 9)"),
        ({"query": "subscription { orderAdded { id } }"}, "declares a subscription"),
        ({"query": "query { items(first: 1) { nodes { id }"}, "does not parse at line 1"),
        ({"query": "fragment F on Item { id }"}, "has no query operation"),
        ({"query": QUERY + "\nquery Other { items { totalCount } }"}, "set operation_name"),
        ({"operation_name": "Nope"}, "operation_name 'Nope' is not in the GraphQL document"),
        ({"variables": {"frist": 10}}, "does not declare $frist"),
        ({"paginator": {"type": "relay", "cursor_variable": "cursor"}}, "does not declare $cursor"),
        ({"paginator": {"type": "offset"}}, "does not declare $limit, $offset"),
        ({"paginator": {"type": "cursor", "cursor_path": "$.x"}}, "does not apply to GraphQL"),
        ({"records_path": "$.items[*]"}, "records_path must point into the answer's data"),
        ({"records_path": None}, "needs records_path"),
        ({"records_path": "$.data.items.list[*].node", "paginator": {"type": "relay"}},
         "set paginator.page_info_path"),
        ({"records_path": "$.data..node", "paginator": {"type": "none"},
          "on_partial_errors": "reject"}, "'reject' needs a records_path of plain field names"),
        ({"query": None}, "needs one of query or query_file"),
        ({"query_file": "q.graphql"}, "needs one of query or query_file"),
        ({"method": "GET"}, "always POSTs"),
        ({"body": {"x": 1}}, "always POSTs"),
    ],
)  # fmt: skip
def test_bad_graphql_settings_are_refused_with_the_stream_and_the_reason(
    changes: dict[str, Any], message: str
) -> None:
    """Every misconfiguration is a ValueError naming the stream and what is wrong."""
    entry = stream()
    entry.update(changes)
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(ValueError, match="stream 'orders'") as caught:
        StreamDefinition.from_config(entry)
    assert message in str(caught.value)


def test_the_word_mutation_in_a_comment_or_string_is_not_a_mutation() -> None:
    """The document is parsed, not searched: comments and strings do not count."""
    query = '# no mutation here\n{ items(first: 2, orderBy: "mutation") { nodes { id } } }'
    entry = stream(query=query, variables={}, paginator={"type": "none"},
                   records_path="$.data.items.nodes")  # fmt: skip
    assert StreamDefinition.from_config(entry).graphql is not None


def test_graphql_settings_on_a_rest_stream_are_refused() -> None:
    """query and friends on a REST stream say they need protocol: graphql."""
    with pytest.raises(ValueError, match="query, variables only apply to protocol: graphql"):
        StreamDefinition.from_config({"name": "x", "path": "/x", "query": "{ a }",
                                      "variables": {}})  # fmt: skip


def test_query_file_is_read_relative_to_the_config_directory(tmp_path: Path) -> None:
    """A relative query_file is found under base_dir; a missing one names its full path."""
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "orders.graphql").write_text(QUERY, encoding="utf-8")
    entry = stream(query=None, query_file="queries/orders.graphql")
    definition = StreamDefinition.from_config(entry, tmp_path)
    assert definition.graphql is not None and definition.graphql.operation.query == QUERY
    with pytest.raises(ValueError, match="cannot read query_file") as caught:
        StreamDefinition.from_config(stream(query=None, query_file="nope.graphql"), tmp_path)
    assert str(tmp_path / "nope.graphql") in str(caught.value)


def test_the_tap_refuses_a_mutation_before_any_request(tmp_path: Path) -> None:
    """tap-flext-api exits non-zero at config validation with the mutation named."""
    (tmp_path / "q.graphql").write_text("mutation Wipe { deleteAll { count } }")
    config = {
        "base_url": "http://127.0.0.1:9",  # nothing listens: no request may be made
        "streams": [stream(query=None, query_file="q.graphql")],
    }
    run = run_subprocess(config, "--discover", tmp=tmp_path)
    assert run.returncode != 0
    assert "stream 'orders': the GraphQL document declares a mutation 'Wipe'" in run.stderr
    assert "Connect" not in run.stderr and "refused" not in run.stderr.lower()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ({"first": "{page_size}"}, {"first": 50}),
        ({"since": "{bookmark}"}, {"since": None}),
        ({"filter": {"q": "updated_at:>{bookmark_text}", "ids": ["{parent_id}"]}},
         {"filter": {"q": "updated_at:>2024-01-01", "ids": [7]}}),
    ],
)  # fmt: skip
def test_a_whole_placeholder_keeps_its_type_and_a_partial_one_is_formatted(
    template: dict[str, Any], expected: dict[str, Any]
) -> None:
    """'{page_size}' gives an int, '{bookmark}' None when unset, 'x {y}' a string."""
    values = {"page_size": 50, "bookmark": None, "bookmark_text": "2024-01-01", "parent_id": 7}
    assert render(template, values) == expected


def test_errors_are_read_with_message_path_and_code() -> None:
    """problems_of reads message, path and extensions.code (or GitHub's type)."""
    errors = [
        {"message": "boom", "path": ["items", "edges", 3, "node", "price"],
         "extensions": {"code": "UPSTREAM"}},
        {"message": "slow down", "type": "RATE_LIMITED"},
        "not an object",
    ]  # fmt: skip
    problems = problems_of(errors)
    assert problems[0] == GraphqlProblem("boom", ("items", "edges", 3, "node", "price"), "UPSTREAM")
    assert problems[0].describe() == "boom (at items.edges[3].node.price; code UPSTREAM)"
    assert problems[1].code == "RATE_LIMITED"
    assert problems[2].message == "not an object"


@pytest.mark.parametrize(
    ("records_path", "path", "index"),
    [
        ("$.data.items.edges[*].node", ["items", "edges", 3, "node", "price"], 3),
        ("$.data.items.edges[*].node", ["items", "edges", 3], None),
        ("$.data.items.edges[*].node", ["items", "pageInfo"], None),
        ("$.data.items.nodes", ["items", "nodes", 0, "id"], 0),
        ("$.data.items.nodes[*]", ["items", "nodes", 5], 5),
        ("$.data.items.nodes", ["other", "nodes", 5], None),
    ],
)
def test_an_error_path_is_followed_back_to_its_record(
    records_path: str, path: list[Any], index: int | None
) -> None:
    """The record an error's path falls in, or None when it is outside every record."""
    locator = RecordLocator.compile(records_path)
    assert locator is not None
    assert locator.index(tuple(path)) == index


def test_cost_budgets_say_how_long_to_wait() -> None:
    """Shopify's bucket and GitHub's window each give the wait before the next query."""
    shopify = {"extensions": {"cost": {"requestedQueryCost": 102, "throttleStatus": {
        "maximumAvailable": 1000.0, "currentlyAvailable": 2.0, "restoreRate": 50.0}}}}  # fmt: skip
    assert CostGauge("$.extensions.cost").wait_s(shopify) == pytest.approx(2.0)
    assert CostGauge("$.extensions.cost.throttleStatus").wait_s(shopify) == pytest.approx(2.0)
    assert CostGauge(None).wait_s(shopify) is None
    assert CostGauge(None).wait_s(shopify, default_path=True) == pytest.approx(2.0)
    reset = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    github = {"data": {"rateLimit": {"cost": 1, "remaining": 0, "resetAt": reset.isoformat()}}}
    assert 28 < (CostGauge("$.data.rateLimit").wait_s(github) or 0) <= 30
    github["data"]["rateLimit"]["remaining"] = 10
    assert CostGauge("$.data.rateLimit").wait_s(github) == 0.0


def _response(body: Any) -> Response:
    return Response(200, content=json.dumps(body).encode(),
                    request=Request("POST", "http://127.0.0.1/graphql"))  # fmt: skip


def test_the_throttle_check_flags_only_the_configured_codes() -> None:
    """A THROTTLED error asks for a retry with the cost wait; other errors do not."""
    check = throttle_check(frozenset({"THROTTLED"}), CostGauge(None))
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": {"cost": {"requestedQueryCost": 60, "throttleStatus": {
                     "currentlyAvailable": 10, "restoreRate": 25}}}}  # fmt: skip
    advice = check(_response(throttled))
    assert advice is not None and advice.reason == "graphql THROTTLED"
    assert advice.wait_s == pytest.approx(2.0)
    assert check(_response({"errors": [{"message": "no", "extensions": {"code": "BAD"}}]})) is None
    assert check(_response({"data": {"items": None}})) is None


def test_relay_pages_follow_end_cursor_and_refuse_a_missing_page_info() -> None:
    """endCursor goes back as the cursor variable; no pageInfo, or no cursor, is an error."""
    paginator = build_paginator(
        {"type": "relay", "page_info_path": "$.data.items.pageInfo"}, 10, stream="orders"
    )

    def page(info: Any) -> Page:
        body = {"data": {"items": {"pageInfo": info}}}
        return Page("http://127.0.0.1/graphql", 200, {}, body, b"", [1])

    following = paginator.next(page({"hasNextPage": True, "endCursor": "c1"}), PageRequest())
    assert following == PageRequest({"after": "c1"})
    assert paginator.next(page({"hasNextPage": False, "endCursor": "c2"}), following) is None
    with pytest.raises(PaginationError, match="stream 'orders': no pageInfo object"):
        paginator.next(page(None), PageRequest())
    with pytest.raises(PaginationError, match="hasNextPage but gives no endCursor"):
        paginator.next(page({"hasNextPage": True, "endCursor": None}), PageRequest())


def test_a_relative_query_file_is_read_beside_the_config_file(tmp_path: Path) -> None:
    """Run from elsewhere, the tap finds query_file next to the --config file it was given."""
    from flext_infra.testing import SampleApi

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "orders.graphql").write_text(QUERY)
    with SampleApi(records=5) as api:
        config = {"base_url": api.base_url, "streams": [stream(query=None,
                  query_file="orders.graphql")]}  # fmt: skip
        run = run_subprocess(config, "--discover", tmp=conf)  # the working directory is tmp_path
        assert run.returncode == 0, run.stderr[-2000:]
        assert json.loads(run.stdout)["streams"][0]["tap_stream_id"] == "orders"  # type: ignore[attr-defined]


@pytest.mark.parametrize("raw", [True, False], ids=["one-pass", "decoded"])
@pytest.mark.parametrize(
    ("records_path", "data"),
    [
        ("$.data.items.edges[*].node",
         {"items": {"edges": [{"node": {"id": 1}}, {"node": None}, {"node": {"id": 3}}],
                    "pageInfo": {"hasNextPage": False, "endCursor": "c"}}}),
        ("$.data.items.nodes",
         {"items": {"nodes": [{"id": 1}, None, {"id": 3}],
                    "pageInfo": {"hasNextPage": False, "endCursor": "c"}}}),
    ],
)  # fmt: skip
def test_a_graphql_page_keeps_nulled_records_in_place_and_the_paths_around_them(
    records_path: str, data: dict[str, Any], raw: bool
) -> None:
    """Records keep their index (a nulled node is None); pageInfo, errors and cost are kept."""
    from tap_flext_api.graphql._decode import GraphqlPageDecoder

    decoder = GraphqlPageDecoder(
        records_path, schema=None, replication_key=None,
        body_paths=("$.data.items.pageInfo",), kept_paths=("$.extensions.cost",),
    )  # fmt: skip
    body = {"data": data, "errors": [{"message": "x", "path": ["items"]}],
            "extensions": {"cost": {"requestedQueryCost": 5}}}  # fmt: skip
    page = decoder.decode("u", 200, {}, json.dumps(body).encode(), raw=raw)
    assert page.form == ("raw" if raw else "decoded")
    records = [None if r is None else json.loads(bytes(r)) if raw else r for r in page.records]
    assert records == [{"id": 1}, None, {"id": 3}]
    assert page.body["data"]["items"]["pageInfo"] == {"hasNextPage": False, "endCursor": "c"}
    assert page.body["errors"] == body["errors"]
    assert page.body["extensions"] == body["extensions"]
    assert decoder.container(page.body) is not None
