"""Scenarios whose serial output is pinned: the tap at ``max_concurrency: 1`` must repeat it.

``tests/tap/data/serial_golden.jsonl`` holds the output these scenarios gave
before the tap learned concurrency (records, SCHEMA and STATE messages in
order; ``time_extracted`` and the server's port taken out; RECORD and SCHEMA
messages as a SHA-256 of their canonical JSON, STATE messages whole). Regenerate it only
when a change of output is intended:
``python -m tests.tap._serial_golden --write``.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from flext_infra.testing import GENERIC_ENTITY, SampleApi
from tap_flext_api import TapFlextApi, describe_to_schema

GOLDEN = Path(__file__).with_name("data") / "serial_golden.jsonl"
USER, PASSWORD = "wms_user", "pw-Secret-4711"
_SCHEMA = describe_to_schema(GENERIC_ENTITY.describe())
_WMS = "/wms/lgfapi/v10/entity"


def _generic(name: str, path: str, paginator: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "primary_keys": ["id"],
        "replication_key": "updated_at",
        "is_sorted": True,
        "schema": _SCHEMA,
        "paginator": paginator,
        **extra,
    }


def _generic_streams() -> list[dict[str, Any]]:
    ordering = {"ordering": "updated_at"}
    return [
        _generic("page", "/generic/page/items", {"type": "page_number", "page_size_param":
                 "per_page", "page_size": 7, "total_pages_path": "$.total_pages"},
                 records_path="$.data", params=ordering),
        _generic("offset", "/generic/offset/items", {"type": "offset", "page_size": 7,
                 "total_path": "$.total"}, records_path="$.data", params=ordering),
        _generic("cursor", "/generic/cursor/items", {"type": "cursor", "cursor_path":
                 "$.next_cursor"}, records_path="$.data", params={"limit": 7, **ordering}),
        _generic("next_url", "/generic/next_url/items", {"type": "next_url", "next_url_path":
                 "$.next"}, records_path="$.data", params={"limit": 7, **ordering}),
        _generic("link", "/generic/link/items", {"type": "link_header"},
                 params={"per_page": 7, **ordering}),
        _generic("has_more", "/generic/has_more/items", {"type": "page_number",
                 "page_size_param": "per_page", "page_size": 7, "has_more_path": "$.has_more"},
                 records_path="$.data", params=ordering),
    ]  # fmt: skip


def _base(api: SampleApi) -> dict[str, Any]:
    return {"base_url": api.base_url, "username": USER, "password": PASSWORD}


#: name -> (config builder, input state builder); each runs against a fresh sample API.
SCENARIOS: dict[str, tuple[Callable[[SampleApi], dict[str, Any]], dict[str, Any] | None]] = {
    "wms_first_run": (
        lambda api: {**_base(api), "profile": "oracle_wms", "page_size": 15,
                     "start_date": "2020-01-01T00:00:00Z"},
        None,
    ),
    "wms_from_bookmarks": (
        lambda api: {**_base(api), "profile": "oracle_wms", "page_size": 15},
        {"bookmarks": {
            "allocation": {"replication_key": "mod_ts",
                           "replication_key_value": "2024-01-01T00:00:20.000000+00:00"},
            "order_hdr": {"replication_key": "mod_ts",
                          "replication_key_value": "2024-01-01T00:00:33.000000+00:00"},
        }},
    ),
    "generic_paginators_untrusted": (
        lambda api: {**_base(api), "streams": _generic_streams()},
        None,
    ),
    "generic_paginators_trusted_from_state": (
        lambda api: {**_base(api), "streams": _generic_streams(), "trust_schema": True},
        {"bookmarks": {"cursor": {"replication_key": "updated_at",
                                  "replication_key_value": "2024-01-01T00:00:10+00:00"}}},
    ),
    "generic_sdk_loop_stream_maps": (
        lambda api: {**_base(api), "streams": _generic_streams()[:2],
                     "stream_maps": {"page": {"name_upper": "name.upper()"}}},
        None,
    ),
    "parent_child": (
        lambda api: {**_base(api), "streams": [
            {"name": "allocations", "path": f"{_WMS}/allocation/", "records_path": "$.results",
             "primary_keys": ["id"], "params": {"page_mode": "sequenced", "page_size": 5},
             "paginator": {"type": "next_url", "next_url_path": "$.next_page"}},
            {"name": "dtl_by_path", "path": _WMS + "/order_dtl/{dtl_id}/", "records_path": "$",
             "primary_keys": ["id"], "parent_stream": "allocations",
             "parent_context": {"dtl_id": "order_dtl_id.id"}},
            {"name": "dtl_by_params", "path": f"{_WMS}/order_dtl/", "records_path": "$.results",
             "primary_keys": ["id"], "parent_stream": "allocations",
             "parent_context": {"dtl_id": "order_dtl_id.id"},
             "params": {"id__gte": "{dtl_id}", "id__lte": "{dtl_id}"}},
        ]},
        None,
    ),
}  # fmt: skip


def _normalize(line: str, base_url: str) -> dict[str, Any]:
    """The message without its timestamp; RECORD and SCHEMA bodies as a digest, STATE whole."""
    message: dict[str, Any] = json.loads(line.replace(base_url, "http://sample-api"))
    message.pop("time_extracted", None)
    if message["type"] == "STATE":
        return message
    canonical = json.dumps(message, sort_keys=True).encode()
    kept = {k: message[k] for k in ("type", "stream") if k in message}
    if message["type"] == "RECORD" and "id" in message["record"]:
        kept["id"] = message["record"]["id"]
    return {**kept, "sha256": hashlib.sha256(canonical).hexdigest()}


def run_scenario(name: str, **extra: Any) -> list[dict[str, Any]]:
    """The normalised messages of scenario ``name`` (``extra`` is added to its config)."""
    build, state = SCENARIOS[name]
    with SampleApi(records=25, username=USER, password=PASSWORD) as api:
        config = {**build(api), **extra}
        buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        tap = TapFlextApi(config=config, state=json.loads(json.dumps(state)) if state else None)
        try:
            with redirect_stdout(buffer):
                tap.sync_all()
        finally:
            tap.close()
        buffer.seek(0)
        return [_normalize(line, api.base_url) for line in buffer.read().splitlines() if line]


def load_golden() -> dict[str, list[dict[str, Any]]]:
    """The stored output, per scenario."""
    outputs: dict[str, list[dict[str, Any]]] = {name: [] for name in SCENARIOS}
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        outputs[item["scenario"]].append(item["message"])
    return outputs


def main(argv: list[str]) -> int:
    """Print (or with ``--write``, store) every scenario's output."""
    lines = [
        json.dumps({"scenario": name, "message": message}, sort_keys=True)
        for name in SCENARIOS
        for message in run_scenario(name)
    ]
    text = "\n".join(lines) + "\n"
    if "--write" in argv:
        GOLDEN.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
