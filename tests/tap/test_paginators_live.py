"""Every paginator against the sample API's generic mode, on loopback."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import GENERIC_ENTITY, SampleApi
from tap_flext_api import ConfiguredStream, TapFlextApi, describe_to_schema

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


class _SdkLoopStream(ConfiguredStream):
    """The same stream with the fast loop switched off: the SDK's own record loop."""

    fast_path_enabled = False


class _SdkLoopTap(TapFlextApi):
    generic_stream_class = _SdkLoopStream


def _numbers_as_float(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
         for k, v in r.items()}
        for r in records
    ]  # fmt: skip


# A schema the records do not match as they are: "notes" is missing (conformance
# drops it) and "quantity" is declared boolean (conformance turns ints into bools).
_MISMATCHED = {
    "type": "object",
    "properties": {
        **{k: v for k, v in SCHEMA["properties"].items() if k != "notes"},
        "quantity": {"type": ["boolean", "null"]},
    },
}
# A schema that allows unknown properties: a one-pass struct would drop them.
_OPEN = {**SCHEMA, "additionalProperties": True}
# How the fast loop reads pages, by (trusted, schema): the one-pass reader's form,
# or None for the split-then-check path; and whether pages go out raw.
_VARIANTS: dict[str, tuple[bool, dict[str, Any], str | None, bool]] = {
    "trusted-raw": (True, SCHEMA, "raw", True),
    "untrusted-shaped": (False, SCHEMA, "shaped", True),
    "untrusted-conformed": (False, _MISMATCHED, "shaped", False),
    "open-schema-split": (False, _OPEN, None, True),
}
_RECURSIVE_HAS_MORE = {**CASES["has_more"][0]}
_RECURSIVE_HAS_MORE["paginator"] = {
    **_RECURSIVE_HAS_MORE["paginator"],
    "has_more_path": "$..has_more",
}


@pytest.mark.parametrize(
    ("stream", "variant"),
    [(CASES["cursor"][0], variant) for variant in _VARIANTS]
    + [(CASES[case][0], "untrusted-shaped") for case in sorted(CASES) if case != "cursor"]
    + [(CASES[case][0], "trusted-raw") for case in ("link_header", "next_url")]
    + [(_RECURSIVE_HAS_MORE, "untrusted-shaped")],
    ids=[f"cursor-{variant}" for variant in _VARIANTS]
    + [f"{case}-untrusted-shaped" for case in sorted(CASES) if case != "cursor"]
    + ["link_header-trusted-raw", "next_url-trusted-raw", "recursive-has-more-path-split"],
)
def test_fast_loop_and_sdk_loop_emit_identical_records(
    api: SampleApi, stream: dict[str, Any], variant: str
) -> None:
    """The fast loop (one pass or split; raw, shaped, conformed) matches the SDK's loop exactly."""
    trusted, schema, form, raw = _VARIANTS[variant]
    if stream is _RECURSIVE_HAS_MORE:
        form = None  # not a plain key path: the body is split, then checked
    name = f"items_{stream['path'].split('/')[2]}"
    stream = {**stream, "replication_key": "updated_at", "is_sorted": True, "schema": schema,
              "params": {**stream.get("params", {}), "ordering": "updated_at"}}  # fmt: skip
    config = _config(api, stream, trust_schema=trusted)
    config["streams"][0]["schema"] = schema
    outputs = []
    for tap_class in (TapFlextApi, _SdkLoopTap):
        buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        tap = tap_class(config=config)
        try:
            with redirect_stdout(buffer):
                tap.sync_all()
            read: Any = tap.streams[name]
            reader = read.page_decoder.one_pass if read.used_fast_path else None
            used = (read.used_fast_path, read.raw_pages, reader and reader.form)
        finally:
            tap.close()
        buffer.seek(0)
        messages = [json.loads(x) for x in buffer.read().splitlines()]
        buffer.close()
        outputs.append((used, messages))
    (fast_used, fast), (sdk_used, sdk) = outputs
    # The 5 non-empty pages go raw unless conformance would change them (the mismatched schema).
    assert (fast_used, sdk_used) == ((True, 5 if raw else 0, form), (False, 0, None))

    def records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m["record"] for m in messages if m["type"] == "RECORD"]

    assert _numbers_as_float(records(fast)) == _numbers_as_float(records(sdk))
    assert len(records(fast)) == N
    states = [[m["value"] for m in out if m["type"] == "STATE"][-1] for out in (fast, sdk)]
    assert states[0] == states[1]
    if schema is _MISMATCHED:
        assert all("notes" not in r and isinstance(r["quantity"], bool) for r in records(fast))
    else:
        expected = [api.record("items", i) for i in range(1, N + 1)]
        assert _numbers_as_float(records(fast)) == _numbers_as_float(expected)


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
