"""The sample API's GraphQL endpoint: Relay and offset pages, updatedSince, errors and faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flext_infra.testing import ENTITIES, GRAPHQL_PATH, SampleApi

ITEMS = """
query Items($first: Int!, $after: String, $since: DateTime) {
  items(first: $first, after: $after, updatedSince: $since, orderBy: "updated_at") {
    edges { cursor node { id name description updated_at dimensions tags } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


@pytest.fixture
def gql(api: SampleApi, client: httpx.Client) -> Any:
    """POST a query to the sample API's /graphql and return the decoded answer."""

    def post(query: str, variables: dict[str, Any] | None = None, **extra: Any) -> Any:
        response = client.post(
            api.base_url + GRAPHQL_PATH, json={"query": query, "variables": variables, **extra}
        )
        assert response.status_code == 200, response.text
        return response.json()

    return post


def _relay_walk(gql: Any, first: int, since: str | None = None) -> Iterator[dict[str, Any]]:
    after = None
    for _ in range(100):
        body = gql(ITEMS, {"first": first, "after": after, "since": since})
        assert "errors" not in body, body
        connection = body["data"]["items"]
        yield connection
        if not connection["pageInfo"]["hasNextPage"]:
            return
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


def test_relay_pages_return_every_record_once_in_update_order(gql: Any, api: SampleApi) -> None:
    """first/after walks the whole dataset once, ordered by updated_at, ending on hasNextPage."""
    pages = list(_relay_walk(gql, 10))
    ids = [e["node"]["id"] for page in pages for e in page["edges"]]
    assert ids == list(range(1, 26))
    assert len(pages) == 3
    assert {page["totalCount"] for page in pages} == {25}
    assert pages[-1]["pageInfo"]["endCursor"] == pages[-1]["edges"][-1]["cursor"]
    assert pages[0]["edges"][0]["node"] == {
        k: v
        for k, v in api.record("items", 1).items()
        if k in ("id", "name", "description", "updated_at", "dimensions", "tags")
    }


def test_updated_since_is_inclusive_and_sees_added_and_modified_records(
    gql: Any, api: SampleApi
) -> None:
    """updatedSince=<newest> returns that record, then records added or modified after it."""
    newest = api.record("items", 25)["updated_at"]
    modified = api.modify_records("items", ids=[3, 9])
    added = api.add_records("items", 2)
    ids = [e["node"]["id"] for page in _relay_walk(gql, 2, since=newest) for e in page["edges"]]
    assert ids == [25, *modified, *added]


def test_offset_and_limit_page_through_nodes(gql: Any) -> None:
    """offset/limit with nodes and totalCount is the offset paginator's shape."""
    query = "query($o: Int, $l: Int) { items(offset: $o, limit: $l) { nodes { id } totalCount } }"
    seen: list[int] = []
    offset = 0
    while True:
        connection = gql(query, {"o": offset, "l": 7})["data"]["items"]
        seen += [n["id"] for n in connection["nodes"]]
        offset += len(connection["nodes"])
        if offset >= connection["totalCount"]:
            break
    assert seen == list(range(1, 26))


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_wms_entity_is_a_root_field(gql: Any, api: SampleApi, entity: str) -> None:
    """The WMS entities are served with their LGF fields, foreign keys as {id key url}."""
    body = gql(f'{{ {entity}(first: 2, orderBy: "mod_ts") {{ nodes {{ id mod_ts }} }} }}')
    assert body["data"][entity]["nodes"] == [
        {"id": i, "mod_ts": api.record(entity, i)["mod_ts"]} for i in (1, 2)
    ]


def test_a_foreign_key_argument_filters_children_of_one_parent(gql: Any, api: SampleApi) -> None:
    """order_dtl(order_id: N) lists exactly the details whose order_id.id is N."""
    body = gql("{ order_dtl(order_id: 4, first: 50) { nodes { id order_id { id key } } } }")
    nodes = body["data"]["order_dtl"]["nodes"]
    expected = [
        i for i in range(1, api.count("order_dtl") + 1)
        if api.record("order_dtl", i)["order_id"]["id"] == 4
    ]  # fmt: skip
    assert [n["id"] for n in nodes] == expected
    assert nodes and all(n["order_id"]["id"] == 4 for n in nodes)


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ("{ items(first: 2) { nodes { id nope } } }", None, "Cannot query field 'nope'"),
        ("{ items(first: 2) { nodes { id }", None, "Syntax Error"),
        ("mutation { items { nodes { id } } }", None, "mutation"),
        ("query($n: Int!) { items(first: $n) { nodes { id } } }", {"n": "ten"}, "$n"),
        ('{ items(first: 2, after: "bogus") { nodes { id } } }', None, "after: invalid cursor"),
        ('{ items(first: 2, orderBy: "price") { nodes { id } } }', None, "unsupported orderBy"),
        ('{ items(first: 2, updatedSince: "soon") { nodes { id } } }', None, "cannot parse"),
    ],
)
def test_bad_queries_are_answered_with_graphql_errors_in_a_200(
    gql: Any, query: str, variables: dict[str, Any] | None, message: str
) -> None:
    """Syntax, validation, variable and argument errors come back as errors with a message."""
    body = gql(query, variables)
    assert body.get("data") is None
    assert any(message in e["message"] for e in body["errors"]), body


def test_request_level_problems_are_http_errors(api: SampleApi, client: httpx.Client) -> None:
    """A body that is not a GraphQL request is a 400; GET is a 405; auth is still required."""
    url = api.base_url + GRAPHQL_PATH
    assert client.post(url, content=b"{not json").status_code == 400
    assert client.post(url, json={"variables": {}}).status_code == 400
    assert client.get(url).status_code == 405
    anonymous = httpx.post(url, json={"query": "{ items { totalCount } }"})
    assert anonymous.status_code == 401


def test_errors_only_fault_answers_data_null_with_message_and_path(
    gql: Any, api: SampleApi
) -> None:
    """graphql_errors_next answers errors (message, path, code) and data null, then recovers."""
    api.set_faults(graphql_errors_next=1)
    body = gql(ITEMS, {"first": 5})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["items"]
    assert "upstream store timed out" in error["message"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "errors" not in gql(ITEMS, {"first": 5})
    assert [c.fault for c in api.graphql.calls] == ["graphql:errors", None]
    assert [r.fault for r in api.requests.matching(GRAPHQL_PATH)] == ["graphql:errors", None]


def test_partial_fault_nulls_one_field_of_one_record_and_names_its_path(
    gql: Any, api: SampleApi
) -> None:
    """graphql_partial_next: the page is intact except one field, reported by its path."""
    api.set_faults(graphql_partial_next=1)
    body = gql(ITEMS, {"first": 6})
    (error,) = body["errors"]
    assert error["path"] == ["items", "edges", 3, "node", "description"]
    edges = body["data"]["items"]["edges"]
    assert [e["node"]["id"] for e in edges] == [1, 2, 3, 4, 5, 6]
    assert edges[3]["node"]["description"] is None
    assert edges[2]["node"]["description"] == api.record("items", 3)["description"]


def test_throttle_fault_sends_a_shopify_style_cost_extension(gql: Any, api: SampleApi) -> None:
    """graphql_throttle_next answers THROTTLED with requestedQueryCost and throttleStatus."""
    api.set_faults(graphql_throttle_next=1)
    body = gql(ITEMS, {"first": 10})
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 13
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    assert api.graphql.throttled == 1


def test_the_cost_bucket_throttles_when_spent_and_reports_on_every_answer(
    gql: Any, api: SampleApi
) -> None:
    """graphql_cost: each answer reports what is left; a query costing more is throttled."""
    api.set_faults(graphql_cost=(30.0, 0.001))
    first = gql(ITEMS, {"first": 10})
    assert first["extensions"]["cost"]["actualQueryCost"] == 13
    assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == pytest.approx(
        17, abs=0.01
    )
    assert "errors" not in gql(ITEMS, {"first": 10})
    throttled = gql(ITEMS, {"first": 10})
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 13


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ({"fail_next": 1}, lambda r: r.status_code == 503),
        ({"rate_limit_next": 1}, lambda r: r.status_code == 429 and "retry-after" in r.headers),
    ],
)
def test_http_faults_hit_graphql_too(
    api: SampleApi, client: httpx.Client, fault: dict[str, Any], check: Any
) -> None:
    """5xx and 429 faults answer POST /graphql as they answer the REST paths."""
    api.set_faults(**fault)
    response = client.post(
        api.base_url + GRAPHQL_PATH, json={"query": ITEMS, "variables": {"first": 2}}
    )
    assert check(response)


@pytest.mark.parametrize("fault", ["drop_next", "truncate_next"])
def test_dropped_and_truncated_graphql_bodies_break_mid_json(
    api: SampleApi, client: httpx.Client, fault: str
) -> None:
    """A dropped or truncated answer cuts the JSON body short."""
    api.set_faults(**{fault: 1})
    with pytest.raises(httpx.HTTPError):
        client.post(api.base_url + GRAPHQL_PATH, json={"query": ITEMS, "variables": {"first": 5}})
