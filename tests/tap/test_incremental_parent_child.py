"""Incremental runs (server-side and client-side filtering) and parent-child streams."""

from __future__ import annotations

from pathlib import Path

from flext_infra.testing import SampleApi

from .conftest import PASSWORD, USER, generic_stream, run_in_process, run_subprocess, wms_config


def test_second_wms_run_emits_only_new_and_changed_records(api: SampleApi, tmp_path: Path) -> None:
    """After adds and edits, the second run sends only those (plus the bookmark's own record)."""
    config = wms_config(
        api, entities=["order_hdr", "allocation"], start_date="2020-01-01T00:00:00Z"
    )
    first = run_subprocess(config, tmp=tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(first.ids("order_hdr")) == list(range(1, 121))
    old = first.bookmark("order_hdr")

    new = api.add_records("order_hdr", 7)
    changed = api.modify_records("order_hdr", 4)
    second = run_subprocess(config, state=first.state, tmp=tmp_path)
    assert second.returncode == 0, second.stderr

    boundary = [i for i in range(1, 121) if api.record("order_hdr", i)["mod_ts"] == old]
    assert sorted(second.ids("order_hdr")) == sorted({*new, *changed, *boundary})
    assert second.bookmark("order_hdr") == api.record("order_hdr", changed[-1])["mod_ts"]
    assert second.bookmark("order_hdr") > old
    # Unchanged entity: only its bookmark record again (mod_ts__gte is inclusive).
    assert len(second.ids("allocation")) == 1
    sent = api.requests.matching("/wms/lgfapi/v10/entity/order_hdr/")[-1].query
    assert "mod_ts__gte=" in sent


def test_overlap_minutes_moves_the_filter_back(api: SampleApi) -> None:
    """overlap_minutes subtracts minutes from the bookmark sent in mod_ts__gte."""
    bookmark = {"replication_key": "mod_ts", "replication_key_value": "2024-01-01T00:30:00+00:00"}
    state = {"bookmarks": {"order_hdr": bookmark}}
    run = run_in_process(wms_config(api, entities=["order_hdr"], overlap_minutes=10), state=state)
    assert run.error is None, run.error
    query = api.requests.matching("/wms/lgfapi/v10/entity/order_hdr/")[-1].query
    assert "mod_ts__gte=2024-01-01T00%3A20%3A00%2B00%3A00" in query
    # mod_ts is the base time plus id seconds: 120 records all end before 00:20:00
    assert run.ids("order_hdr") == []


def test_client_side_filter_when_the_api_cannot_filter(api: SampleApi) -> None:
    """Without a filter parameter, records older than the bookmark are dropped by the tap."""
    stream = generic_stream(
        "cursor",
        records_path="$.data",
        replication_key="updated_at",
        is_sorted=True,
        params={"limit": 30, "ordering": "updated_at"},
        paginator={"type": "cursor", "cursor_path": "$.next_cursor"},
    )
    config = {"base_url": api.base_url, "username": USER, "password": PASSWORD, "streams": [stream]}
    for trusted in (False, True):
        first = run_in_process({**config, "trust_schema": trusted})
        assert first.error is None, first.error
        assert len(first.ids("items_cursor")) == 120
        old = first.bookmark("items_cursor")
        api.modify_records("items", ids=[5, 50])
        second = run_in_process({**config, "trust_schema": trusted}, state=first.state)
        assert second.error is None, second.error
        fresh = [i for i in range(1, 121) if api.record("items", i)["updated_at"] >= old]
        assert sorted(second.ids("items_cursor")) == sorted(fresh)
        assert {5, 50} <= set(second.ids("items_cursor"))
        assert second.bookmark("items_cursor") > old


def test_parent_child_streams_pass_parent_fields_to_path_and_params(tmp_path: Path) -> None:
    """Each allocation drives two child requests: its order_dtl by path and by params."""
    with SampleApi(counts={"allocation": 12, "order_dtl": 9, "order_hdr": 5}) as api:
        wms = "/wms/lgfapi/v10/entity"
        config = {
            "base_url": api.base_url,
            "streams": [
                {"name": "allocations", "path": f"{wms}/allocation/", "records_path": "$.results",
                 "primary_keys": ["id"], "params": {"page_mode": "sequenced", "page_size": 5},
                 "paginator": {"type": "next_url", "next_url_path": "$.next_page"}},
                {"name": "dtl_by_path", "path": wms + "/order_dtl/{dtl_id}/", "records_path": "$",
                 "primary_keys": ["id"], "parent_stream": "allocations",
                 "parent_context": {"dtl_id": "order_dtl_id.id"}},
                {"name": "dtl_by_params", "path": f"{wms}/order_dtl/", "records_path": "$.results",
                 "primary_keys": ["id"], "parent_stream": "allocations",
                 "parent_context": {"dtl_id": "order_dtl_id.id"},
                 "params": {"id__gte": "{dtl_id}", "id__lte": "{dtl_id}"}},
            ],
        }  # fmt: skip
        run = run_subprocess(config, tmp=tmp_path)
        assert run.returncode == 0, run.stderr
        allocations = run.records("allocations")
        assert len(allocations) == 12
        wanted = [a["order_dtl_id"]["id"] for a in allocations]
        assert [r["id"] for r in run.records("dtl_by_path")] == wanted
        assert [r["id"] for r in run.records("dtl_by_params")] == wanted
        assert all(r["dtl_id"] == r["id"] for r in run.records("dtl_by_path"))


def test_skipped_statuses_are_logged_and_counted(tmp_path: Path) -> None:
    """A child whose parent id has no match answers 404: skipped, logged, the run succeeds."""
    with SampleApi(counts={"order_hdr": 6, "order_dtl": 4, "allocation": 1}) as api:
        wms = "/wms/lgfapi/v10/entity"
        config = {
            "base_url": api.base_url,
            "streams": [
                {"name": "headers", "path": f"{wms}/order_hdr/", "records_path": "$.results",
                 "primary_keys": ["id"], "params": {"page_mode": "sequenced"},
                 "paginator": {"type": "next_url", "next_url_path": "$.next_page"}},
                {"name": "detail", "path": wms + "/order_dtl/{hdr}/", "records_path": "$",
                 "primary_keys": ["id"], "parent_stream": "headers",
                 "parent_context": {"hdr": "id"}, "skip_statuses": [404]},
            ],
        }  # fmt: skip
        run = run_subprocess(config, tmp=tmp_path)
        assert run.returncode == 0, run.stderr
        assert [r["id"] for r in run.records("detail")] == [1, 2, 3, 4]
        assert run.stderr.count("tap.status_skipped") == 2
        assert "skipped_total=2" in run.stderr


def test_catalog_forced_full_table_reads_everything(api: SampleApi) -> None:
    """A catalog forcing FULL_TABLE ignores start_date and bookmarks: every record is read."""
    from tap_flext_api import TapFlextApi

    config = wms_config(api, entities=["order_hdr"], start_date="2999-01-01T00:00:00Z")
    tap = TapFlextApi(config=config)
    catalog = tap.catalog_dict
    tap.close()
    for entry in catalog["streams"]:
        entry["replication_method"] = "FULL_TABLE"
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["forced-replication-method"] = "FULL_TABLE"
    run = run_in_process(config, catalog=catalog)
    assert run.error is None, run.error
    assert sorted(run.ids("order_hdr")) == list(range(1, 121))
    assert all("mod_ts__gte" not in r.query for r in api.requests)


def test_rest_params_take_the_bookmark_and_page_size_placeholders(api: SampleApi) -> None:
    """{bookmark} and {page_size} fill REST params; with no bookmark yet the param is left out."""
    stream = generic_stream(
        "cursor",
        records_path="$.data",
        replication_key="updated_at",
        is_sorted=True,
        params={"limit": "{page_size}", "ordering": "updated_at", "updated_at__gte": "{bookmark}"},
        paginator={"type": "cursor", "cursor_path": "$.next_cursor", "page_size": 40},
    )
    config = {"base_url": api.base_url, "username": USER, "password": PASSWORD, "streams": [stream]}
    first = run_in_process(config)
    assert first.error is None, first.error
    assert first.ids("items_cursor") == list(range(1, 121))
    queries = [r.query for r in api.requests.matching("/generic/cursor/items")]
    assert all("limit=40" in q and "updated_at__gte" not in q for q in queries)
    api.requests.clear()
    api.modify_records("items", ids=[3])
    second = run_in_process(config, state=first.state)
    assert second.error is None, second.error
    assert second.ids("items_cursor") == [120, 3]
    # The sync's request (after the page sampled at discovery for the schema).
    query = api.requests.matching("/generic/cursor/items")[-1].query
    assert "updated_at__gte=2024-01-01T00%3A02%3A00%2B00%3A00" in query and "limit=40" in query
