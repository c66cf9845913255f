"""The sample API's WMS LGF v10 mode: entities, describe, pages, cursors, filters, changes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from flext_infra.testing import SampleApi
from tests.sample_api.conftest import PASSWORD, USER, walk


def test_entity_list_names_the_three_entities(api: SampleApi, client: httpx.Client) -> None:
    """GET /entity/ lists allocation, order_hdr and order_dtl with their URLs."""
    body = client.get(api.wms_url).json()
    names = [e["name"] for e in body["results"]]
    assert names == ["allocation", "order_hdr", "order_dtl"]
    assert body["results"][0]["url"] == f"{api.wms_url}allocation/"
    assert body["results"][0]["describe_url"] == f"{api.wms_url}allocation/describe/"


def test_describe_reports_types_lengths_nullability_and_fks(
    api: SampleApi, client: httpx.Client
) -> None:
    """The describe endpoint gives each field's type, length, nullability and fk flag."""
    body = client.get(f"{api.wms_url}order_hdr/describe/").json()
    fields = {f["name"]: f for f in body["fields"]}
    assert body["primary_key"] == ["id"] and body["replication_key"] == "mod_ts"
    assert fields["id"]["type"] == "integer" and fields["id"]["nullable"] is False
    assert fields["order_nbr"]["type"] == "string" and fields["order_nbr"]["length"] == 50
    assert (
        fields["facility_id"]["is_fk"] is True and fields["facility_id"]["fk_entity"] == "facility"
    )
    assert fields["total_orig_ord_qty"]["type"] == "decimal"
    assert fields["total_orig_ord_qty"]["scale"] == 2
    assert fields["req_ship_date"] == {**fields["req_ship_date"], "type": "date", "nullable": True}
    assert fields["mod_ts"]["type"] == "datetime"
    assert fields["cust_name"]["is_fk"] is False


def test_records_match_describe_and_hold_edge_values(api: SampleApi, client: httpx.Client) -> None:
    """Records carry every described field, fk objects, decimals, nulls, 0, false and ""."""
    for entity in ("allocation", "order_hdr", "order_dtl"):
        described = [
            f["name"] for f in client.get(f"{api.wms_url}{entity}/describe/").json()["fields"]
        ]
        records = client.get(f"{api.wms_url}{entity}/", params={"page_size": 25}).json()["results"]
        assert all(list(r) == described for r in records)
        values = [v for r in records for v in r.values()]
        assert None in values
        assert any(v == 0 and v is not False for v in values)
        assert False in values and "" in values
    allocation = client.get(f"{api.wms_url}allocation/", params={"page_size": 1}).json()["results"][
        0
    ]
    fk = allocation["facility_id"]
    assert set(fk) == {"id", "key", "url"} and fk["url"].startswith(api.wms_url + "facility/")
    assert isinstance(allocation["alloc_qty"], float)
    assert allocation["mod_ts"].endswith("+00:00")


def test_data_is_deterministic_across_instances() -> None:
    """Two servers with the same size serve the same records."""
    with SampleApi(records=10) as one, SampleApi(records=10) as two:
        a = [one.record("order_dtl", i) for i in range(1, 11)]
        b = [two.record("order_dtl", i) for i in range(1, 11)]
    strip = str.maketrans("", "", "0123456789")
    assert [str(r).translate(strip) for r in a] == [str(r).translate(strip) for r in b]
    assert [r["ord_qty"] for r in a] == [r["ord_qty"] for r in b]


def test_page_mode_reports_totals_and_links(api: SampleApi, client: httpx.Client) -> None:
    """Page mode sends result_count, page_count, page_nbr, next_page and previous_page."""
    url = f"{api.wms_url}allocation/"
    first = client.get(url, params={"page_size": 10}).json()
    assert (first["result_count"], first["page_count"], first["page_nbr"]) == (25, 3, 1)
    assert first["previous_page"] is None
    assert parse_qs(urlsplit(first["next_page"]).query)["page"] == ["2"]
    last = client.get(url, params={"page_size": 10, "page": 3}).json()
    assert last["next_page"] is None and len(last["results"]) == 5
    assert parse_qs(urlsplit(last["previous_page"]).query)["page"] == ["2"]
    ids = [r["id"] for r in walk(client, url, page_size=10)]
    assert ids == list(range(1, 26))
    assert client.get(url, params={"page_size": 10, "page": 4}).status_code == 404


def test_sequenced_mode_sends_opaque_cursor_and_no_totals(
    api: SampleApi, client: httpx.Client
) -> None:
    """page_mode=sequenced answers next_page as a cursor URL and leaves out the totals."""
    url = f"{api.wms_url}order_dtl/"
    body = client.get(url, params={"page_size": 10, "page_mode": "sequenced"}).json()
    assert set(body) == {"results", "next_page", "previous_page"}
    query = parse_qs(urlsplit(body["next_page"]).query)
    assert "cursor" in query and query["page_mode"] == ["sequenced"] and "page" not in query
    records = walk(client, url, page_size=10, page_mode="sequenced", ordering="-id")
    assert [r["id"] for r in records] == list(range(25, 0, -1))


def test_filters_and_ordering_on_id_and_mod_ts(api: SampleApi, client: httpx.Client) -> None:
    """id__gt/__gte and mod_ts__gt/__gte filter, and ordering sorts either way."""
    url = f"{api.wms_url}order_hdr/"

    def ids(**params: str | int) -> list[int]:
        return [
            r["id"] for r in client.get(url, params={"page_size": 100, **params}).json()["results"]
        ]

    assert ids(id__gt=20) == [21, 22, 23, 24, 25]
    assert ids(id__gte=24) == [24, 25]
    mod_10 = api.record("order_hdr", 10)["mod_ts"]
    assert ids(mod_ts__gte=mod_10, ordering="mod_ts") == list(range(10, 26))
    assert ids(mod_ts__gt=mod_10, ordering="mod_ts") == list(range(11, 26))
    assert ids(ordering="-mod_ts")[:3] == [25, 24, 23]
    assert ids(ordering="-id", id__gte=23) == [25, 24, 23]
    assert ids(id__gt=22, mod_ts__gte=mod_10, ordering="-mod_ts") == [25, 24, 23]
    only = client.get(url, params={"page_size": 2, "fields": "mod_ts,id"}).json()["results"]
    assert only == [
        {"id": 1, "mod_ts": api.record("order_hdr", 1)["mod_ts"]},
        {"id": 2, "mod_ts": api.record("order_hdr", 2)["mod_ts"]},
    ]


def test_related_code_filters_scope_company_and_facility(
    api: SampleApi, client: httpx.Client
) -> None:
    """company_id__code / facility_id__code keep the records whose fk has that code, as in LGF,
    combined with the other filters and orderings."""
    url = f"{api.wms_url}allocation/"

    def records(**params: str | int) -> list[dict[str, object]]:
        body = client.get(url, params={"page_size": 100, **params}).json()
        return list(body["results"])

    everything = records()
    for params in (
        {"company_id__code": "ACME"},
        {"facility_id__code": "FAC02"},
        {"company_id__code": "ACME", "facility_id__code": "FAC01", "ordering": "-mod_ts"},
        {"company_id__code": "ACME", "id__gt": 10},
        {"company_id__code": "NOBODY"},
    ):
        wanted = [
            r for r in everything
            if all(r[k.removesuffix("__code")]["key"] == v  # type: ignore[index]
                   for k, v in params.items() if k.endswith("__code"))
            and r["id"] > params.get("id__gt", 0)  # type: ignore[operator]
        ]  # fmt: skip
        got = records(**params)
        if params.get("ordering") == "-mod_ts":
            assert [r["mod_ts"] for r in got] == sorted((r["mod_ts"] for r in got), reverse=True)
            got.sort(key=lambda r: r["id"])  # type: ignore[arg-type, return-value]
        assert got == wanted, params
    assert records(company_id__code="NOBODY") == []


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "cust_name"},
        {"cust_name__gte": "a"},
        {"item_id__code": "ITEM000001"},
        {"fields": "id,nope"},
        {"page_size": "0"},
        {"cursor": "!!!", "page_mode": "sequenced"},
        {"mod_ts__gte": "yesterday"},
    ],
)
def test_bad_queries_answer_400(
    api: SampleApi, client: httpx.Client, params: dict[str, str]
) -> None:
    """Unsupported ordering, filters, fields, sizes and cursors answer 400 with a detail."""
    response = client.get(f"{api.wms_url}allocation/", params=params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_incremental_sync_sees_added_and_modified_records(
    api: SampleApi, client: httpx.Client
) -> None:
    """After add/modify, mod_ts__gte the old bookmark returns exactly the changed records, newer."""
    url = f"{api.wms_url}allocation/"
    before = walk(client, url, page_size=10, ordering="mod_ts", page_mode="sequenced")
    bookmark = before[-1]["mod_ts"]
    modified = api.modify_records("allocation", 3)
    added = api.add_records("allocation", 2)
    after = walk(
        client, url, page_size=10, ordering="mod_ts", page_mode="sequenced", mod_ts__gt=bookmark
    )
    assert [r["id"] for r in after] == modified + added
    assert all(r["mod_ts"] > bookmark for r in after)
    assert added == [26, 27]
    old = {r["id"]: r for r in before}
    assert all(old[r["id"]] != r for r in after if r["id"] in old)
    assert client.get(url, params={"page_size": 1}).json()["result_count"] == 27


def test_sequenced_walk_sees_records_modified_mid_walk_again(
    api: SampleApi, client: httpx.Client
) -> None:
    """A record changed during a mod_ts-ordered walk shows up again at its new place."""
    url = f"{api.wms_url}order_dtl/"
    params = {"page_size": 10, "page_mode": "sequenced", "ordering": "mod_ts"}
    page = client.get(url, params=params).json()
    api.modify_records("order_dtl", ids=[2])
    rest = walk(client, page["next_page"])
    assert [r["id"] for r in rest] == [*range(11, 26), 2]


def test_basic_auth_is_required(api: SampleApi) -> None:
    """Requests without the right credentials get 401; /health stays open."""
    with httpx.Client() as anonymous:
        assert anonymous.get(api.wms_url).status_code == 401
        assert anonymous.get(api.wms_url, auth=(USER, "wrong")).status_code == 401
        assert anonymous.get(api.wms_url, auth=(USER, PASSWORD)).status_code == 200
        assert anonymous.get(api.base_url + "/health").json() == {"status": "ok"}


def test_empty_dataset_serves_empty_pages() -> None:
    """A zero-record server answers an empty first page without next_page."""
    with SampleApi(records=0) as api, httpx.Client() as client:
        body = client.get(f"{api.wms_url}allocation/").json()
        assert (body["results"], body["result_count"], body["next_page"]) == ([], 0, None)
        seq = client.get(f"{api.wms_url}allocation/", params={"page_mode": "sequenced"}).json()
        assert seq == {"results": [], "next_page": None, "previous_page": None}


def test_prerendered_pages_are_served_from_the_page_cache(
    api: SampleApi, client: httpx.Client
) -> None:
    """prerender() renders a whole walk; the same queries then get the same bytes."""
    params = {"page_size": "10", "page_mode": "sequenced", "ordering": "mod_ts"}
    path = "/wms/lgfapi/v10/entity/allocation/"
    assert api.prerender(path, params) == 3
    first = client.get(api.base_url + path, params=params)
    assert first.content == api.render(path, params).body
    api.modify_records("allocation", 1)
    assert client.get(api.base_url + path, params=params).content != first.content


@pytest.mark.parametrize("read_ahead", [True, False])
def test_next_page_is_rendered_ahead_while_the_client_reads(read_ahead: bool) -> None:
    """With read-ahead the page after the one served is rendered in the background."""
    import time

    with SampleApi(records=30, read_ahead=read_ahead) as api, httpx.Client() as client:
        first = client.get(
            f"{api.wms_url}order_hdr/", params={"page_size": 10, "page_mode": "sequenced"}
        ).json()
        deadline = time.monotonic() + 5
        while read_ahead and api.cached_pages < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert api.cached_pages == (2 if read_ahead else 1)
        second = client.get(first["next_page"]).json()
        assert [r["id"] for r in second["results"]] == list(range(11, 21))


def test_a_million_records_are_served_without_materialising_them() -> None:
    """A 1M-record entity starts quickly and answers totals, last pages and filters."""
    with SampleApi(records=0, counts={"allocation": 1_000_000}) as api, httpx.Client() as client:
        url = f"{api.wms_url}allocation/"
        first = client.get(url, params={"page_size": 1000}).json()
        assert (first["result_count"], first["page_count"]) == (1_000_000, 1000)
        last = client.get(url, params={"page_size": 1000, "page": 1000}).json()
        assert last["results"][-1]["id"] == 1_000_000 and last["next_page"] is None
        bookmark = api.record("allocation", 999_990)["mod_ts"]
        tail = client.get(
            url, params={"mod_ts__gt": bookmark, "ordering": "mod_ts", "page_size": 100}
        ).json()
        assert [r["id"] for r in tail["results"]] == list(range(999_991, 1_000_001))


def test_patched_records_serve_the_seeded_values_on_every_path(
    api: SampleApi, client: httpx.Client
) -> None:
    """patch_records seeds bad values that pages and single records serve, mod_ts unchanged."""
    before = api.record("allocation", 7)
    cached = client.get(f"{api.wms_url}allocation/", params={"page_size": 25}).json()
    assert cached["results"][6]["status_id"] == before["status_id"]
    assert api.patch_records("allocation", [7, 3], status_id=7, wave_nbr="not a wave") == [3, 7]
    page = client.get(f"{api.wms_url}allocation/", params={"page_size": 25}).json()["results"]
    patched = {r["id"]: r for r in page if r["status_id"] == 7}
    assert set(patched) == {3, 7}
    assert patched[7] == {**before, "status_id": 7, "wave_nbr": "not a wave"}
    assert client.get(f"{api.wms_url}allocation/7/").json()["status_id"] == 7
    with pytest.raises(KeyError, match="no record with id 26"):
        api.patch_records("allocation", [26], status_id=1)
