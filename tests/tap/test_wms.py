"""The oracle_wms profile against the sample LGF v10 API: discovery, full sync, upstream config."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import ENTITIES, SampleApi
from tap_flext_api import describe_to_schema

from .conftest import PASSWORD, USER, run_in_process, run_subprocess, wms_config

COUNTS = {"allocation": 130, "order_hdr": 70, "order_dtl": 95}


@pytest.fixture
def wms_api() -> Any:
    """A WMS-shaped API with a different size per entity, basic auth."""
    with SampleApi(counts=COUNTS, username=USER, password=PASSWORD) as server:
        yield server


def test_discovery_catalog_comes_from_describe(wms_api: SampleApi, tmp_path: Path) -> None:
    """--discover lists the three default entities with schemas built from describe."""
    run = run_subprocess(wms_config(wms_api), "--discover", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    catalog = json.loads(run.stdout)  # type: ignore[attr-defined]
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {"allocation", "order_hdr", "order_dtl"}
    for name, entry in streams.items():
        expected = describe_to_schema(ENTITIES[name].describe())["properties"]
        assert entry["schema"]["properties"] == expected
        assert entry["key_properties"] == ["id"]
        assert entry["replication_key"] == "mod_ts"
    fk = streams["allocation"]["schema"]["properties"]["order_dtl_id"]
    assert fk["type"][0] == "object" and set(fk["properties"]) == {"id", "key", "url"}
    assert len(wms_api.requests.matching("/wms/lgfapi/v10/entity/", "GET")) == 3  # describes


def test_discover_all_entities_reads_the_entity_list(wms_api: SampleApi, tmp_path: Path) -> None:
    """entities=["*"] takes every entity the /entity/ endpoint lists."""
    run = run_subprocess(wms_config(wms_api, entities=["*"]), "--discover", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    names = {s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]}  # type: ignore[attr-defined]
    assert names == set(ENTITIES)


def test_full_sync_of_three_entities_gives_exact_counts(wms_api: SampleApi, tmp_path: Path) -> None:
    """A full sync emits every record of every entity exactly once, with a mod_ts bookmark."""
    run = run_subprocess(wms_config(wms_api), tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    for entity, count in COUNTS.items():
        ids = run.ids(entity)
        assert sorted(ids) == list(range(1, count + 1)), entity
        assert run.bookmark(entity) == wms_api.record(entity, count)["mod_ts"]
    # sequenced paging: ceil(count / 50) pages per entity, following next_page
    pages = Counter(p.path for p in wms_api.requests if not p.path.endswith("describe/"))
    assert pages == {f"/wms/lgfapi/v10/entity/{e}/": -(-c // 50) for e, c in COUNTS.items()}
    first = wms_api.requests.matching("/wms/lgfapi/v10/entity/order_hdr/")[1].query
    assert "page_mode=sequenced" in first and "ordering=mod_ts" in first


def test_upstream_config_works_unchanged(wms_api: SampleApi, tmp_path: Path) -> None:
    """The upstream key set, with no profile key, syncs; the API applies the company and
    facility filters it sends (LGF related-field filters), so only that scope arrives."""
    config = {
        "base_url": wms_api.base_url,
        "username": USER,
        "password": PASSWORD,
        "entities": ["allocation", "order_hdr", "order_dtl"],
        "page_size": 40,
        "timeout": 30,
        "max_retries": 3,
        "enable_incremental": True,
        "replication_key": "mod_ts",
        "start_date": "2023-06-01T00:00:00Z",
        "company_code": "ACME",
        "facility_code": "FAC01",
    }
    run = run_subprocess(config, tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    # The sample data puts record i in company COMPANIES[i % 2] and facility
    # FACILITIES[i % 3]: ACME and FAC01 are the ids with i % 6 == 3.
    scoped = {e: [i for i in range(1, n + 1) if i % 6 == 3] for e, n in COUNTS.items()}
    scoped["order_dtl"] = list(range(1, COUNTS["order_dtl"] + 1))  # no company/facility fields
    assert {e: sorted(run.ids(e)) for e in COUNTS} == scoped
    for record in run.records("allocation") + run.records("order_hdr"):
        assert (record["company_id"]["key"], record["facility_id"]["key"]) == ("ACME", "FAC01")
    for entity, scope in (("allocation", True), ("order_hdr", True), ("order_dtl", False)):
        data = [r.query for r in wms_api.requests.matching(f"/wms/lgfapi/v10/entity/{entity}/")]
        data = [q for q in data if "page_size=" in q]  # the data requests, not describe
        assert data and all(
            ("company_id__code=ACME" in q and "facility_id__code=FAC01" in q) is scope for q in data
        ), data
    data = wms_api.requests.matching("/wms/lgfapi/v10/entity/allocation/")[1].query
    assert "mod_ts__gte=2023-06-01T00%3A00%3A00%2B00%3A00" in data and "page_size=40" in data


def test_full_table_when_incremental_is_disabled(wms_api: SampleApi) -> None:
    """enable_incremental=false reads every record without a mod_ts filter or bookmark."""
    run = run_in_process(wms_config(wms_api, entities=["order_hdr"], enable_incremental=False))
    assert run.error is None, run.error
    assert sorted(run.ids("order_hdr")) == list(range(1, COUNTS["order_hdr"] + 1))
    assert all("mod_ts__gte" not in r.query for r in wms_api.requests)
    assert "replication_key_value" not in run.state.get("bookmarks", {}).get("order_hdr", {})


def test_start_date_after_every_record_gives_an_empty_stream(wms_api: SampleApi) -> None:
    """start_date is the bookmark fallback: nothing newer means no records and one request."""
    config = wms_config(wms_api, entities=["order_hdr"], start_date="2999-01-01T00:00:00Z")
    run = run_in_process(config)
    assert run.error is None, run.error
    assert run.ids("order_hdr") == []
    assert len(wms_api.requests.matching("/wms/lgfapi/v10/entity/order_hdr/")) == 2  # +describe
