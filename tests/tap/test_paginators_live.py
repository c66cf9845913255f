"""Every paginator against the sample API's generic mode, on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import GENERIC_ENTITY, SampleApi
from tap_flext_api import describe_to_schema

from .conftest import PASSWORD, USER, generic_stream, run_in_process

SCHEMA = describe_to_schema(GENERIC_ENTITY.describe())
N = 120  # records in the api fixture; 25 per page -> 5 pages, the last one short

CASES: dict[str, tuple[dict[str, Any], int]] = {
    # name: (stream settings, requests expected)
    "page_number_total_pages": (
        generic_stream(
            "page",
            records_path="$.data",
            paginator={"type": "page_number", "page_size_param": "per_page",
                       "page_size": 25, "total_pages_path": "$.total_pages"},
        ),
        5,
    ),
    "page_number_stop_on_404": (
        generic_stream(
            "page",
            records_path="$.data",
            skip_statuses=[404],
            paginator={"type": "page_number", "page_size_param": "per_page", "page_size": 25},
        ),
        6,
    ),
    "page_number_stop_on_short_page": (
        generic_stream(
            "page",
            records_path="$.data",
            paginator={"type": "page_number", "page_size_param": "per_page", "page_size": 25,
                       "stop_on_short_page": True},
        ),
        5,
    ),
    "offset_stop_on_empty": (
        generic_stream(
            "offset", records_path="$.data", paginator={"type": "offset", "page_size": 25}
        ),
        6,
    ),
    "offset_total": (
        generic_stream(
            "offset",
            records_path="$.data",
            paginator={"type": "offset", "page_size": 25, "total_path": "$.total"},
        ),
        5,
    ),
    "cursor": (
        generic_stream(
            "cursor",
            records_path="$.data",
            params={"limit": 25},
            paginator={"type": "cursor", "cursor_path": "$.next_cursor", "cursor_param": "cursor"},
        ),
        5,
    ),
    "next_url": (
        generic_stream(
            "next_url",
            records_path="$.data",
            params={"limit": 25},
            paginator={"type": "next_url", "next_url_path": "$.next"},
        ),
        5,
    ),
    "link_header": (
        generic_stream(
            "link", records_path="$[*]", params={"per_page": 25}, paginator={"type": "link_header"}
        ),
        5,
    ),
    "has_more": (
        generic_stream(
            "has_more",
            records_path="$.data",
            paginator={"type": "page_number", "page_size_param": "per_page", "page_size": 25,
                       "has_more_path": "$.has_more"},
        ),
        5,
    ),
}  # fmt: skip


def _config(api: SampleApi, stream: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "streams": [{"schema": SCHEMA, **stream}],
        **extra,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_paginator_reads_every_record_once(api: SampleApi, case: str) -> None:
    """Each paginator walks the generic endpoint to its end: every record once, no extra pages."""
    stream, expected_requests = CASES[case]
    run = run_in_process(_config(api, stream))
    assert run.error is None, run.error
    assert run.ids(stream["name"]) == list(range(1, N + 1))
    assert len(api.requests.matching(stream["path"])) == expected_requests


@pytest.mark.parametrize("trusted", [True, False])
def test_fast_path_and_sdk_loop_emit_identical_records(api: SampleApi, trusted: bool) -> None:
    """The raw fast path (trusted schema) and the SDK's record loop give the same records."""
    stream, _ = CASES["cursor"]
    run = run_in_process(_config(api, stream, trust_schema=trusted), keep_tap=True)
    assert run.error is None, run.error
    assert run.tap is not None
    run.tap.close()
    assert run.tap.streams["items_cursor"].used_fast_path is trusted  # type: ignore[attr-defined]
    expected = [api.record("items", i) for i in range(1, N + 1)]
    records = run.records(stream["name"])
    # Decimal/float spellings differ only in type, not value.
    assert [{k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
             for k, v in r.items()} for r in records] == [
        {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
         for k, v in r.items()} for r in expected
    ]  # fmt: skip


def test_empty_first_page_ends_the_stream(api: SampleApi) -> None:
    """A filter that matches nothing gives one request and no records, not an error."""
    stream = generic_stream(
        "page",
        records_path="$.data",
        params={"updated_at__gte": "2999-01-01T00:00:00Z"},
        paginator={"type": "page_number", "page_size_param": "per_page", "page_size": 25},
    )
    run = run_in_process(_config(api, stream))
    assert run.error is None, run.error
    assert run.ids("items_page") == []
    assert len(api.requests.matching("/generic/page/items")) == 1


def test_schema_is_inferred_by_sampling_through_the_client(api: SampleApi) -> None:
    """With no schema given, one sampled page gives a schema that types timestamps and numbers."""
    stream = generic_stream(
        "cursor",
        records_path="$.data",
        params={"limit": 25},
        paginator={"type": "cursor", "cursor_path": "$.next_cursor"},
    )
    config = {"base_url": api.base_url, "username": USER, "password": PASSWORD, "streams": [stream]}
    from tap_flext_api import TapFlextApi

    tap = TapFlextApi(config=config)
    try:
        schema = tap.streams["items_cursor"].schema["properties"]
    finally:
        tap.close()
    assert schema["updated_at"]["format"] == "date-time"
    assert "number" in schema["price"]["type"]
    assert schema["dimensions"]["type"][0] == "object"


def test_schema_from_a_file_or_a_describe_endpoint(api: SampleApi, tmp_path: Path) -> None:
    """schema_file reads a JSON Schema file; schema_url reads a describe endpoint."""
    import json

    from tap_flext_api import TapFlextApi

    schema_file = tmp_path / "items.json"
    schema_file.write_text(json.dumps(SCHEMA))
    wms = "/wms/lgfapi/v10/entity/order_hdr"
    config = {
        "base_url": api.base_url, "username": USER, "password": PASSWORD,
        "streams": [
            {"name": "from_file", "path": "/generic/page/items", "records_path": "$.data",
             "schema_file": str(schema_file)},
            {"name": "from_describe", "path": f"{wms}/", "records_path": "$.results",
             "schema_url": f"{wms}/describe/"},
        ],
    }  # fmt: skip
    tap = TapFlextApi(config=config)
    try:
        assert tap.streams["from_file"].schema == SCHEMA
        described = tap.streams["from_describe"].schema["properties"]
        assert described["order_type_id"]["properties"].keys() == {"id", "key", "url"}
    finally:
        tap.close()
