"""Property-based checks of pagination and filtering (hypothesis), on the server's renderer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from flext_infra.testing import GENERIC_MODES, SampleApi
from flext_infra.testing._data import ENTITIES, Table

PATHS = {
    "wms": "/wms/lgfapi/v10/entity/order_dtl/",
    "wms_sequenced": "/wms/lgfapi/v10/entity/order_dtl/",
    **{mode: f"/generic/{mode}/items" for mode in GENERIC_MODES},
}


def _walk(api: SampleApi, style: str, size: int, ordering: str) -> list[int]:
    path = PATHS[style]
    size_key = {"wms": "page_size", "wms_sequenced": "page_size", "offset": "limit"}.get(
        style, "limit" if style in ("cursor", "next_url") else "per_page"
    )
    params: dict[str, str] | None = {size_key: str(size), "ordering": ordering}
    if style == "wms_sequenced":
        params["page_mode"] = "sequenced"
    ids: list[int] = []
    for _ in range(500):
        if params is None:
            return ids
        rendered = api.render(path, params)
        body: Any = msgspec.json.decode(rendered.body)
        rows = body if style == "link" else body.get("results", body.get("data"))
        ids.extend(r["id"] for r in rows)
        nxt = None
        if style == "link":
            for part in rendered.headers["Link"].split(","):
                if 'rel="next"' in part:
                    nxt = part.split(";")[0].strip()[1:-1]
        elif style in ("wms", "wms_sequenced"):
            nxt = body["next_page"]
        elif style == "next_url":
            nxt = body["next"]
        elif style == "cursor":
            params = {**params, "cursor": body["next_cursor"]} if body["next_cursor"] else None
            continue
        elif style == "offset":
            done = body["offset"] + body["limit"] >= body["total"]
            params = None if done else {**params, "offset": str(body["offset"] + body["limit"])}
            continue
        elif style in ("page", "has_more"):
            more = body["has_more"] if style == "has_more" else body["page"] < body["total_pages"]
            params = {**params, "page": str(body["page"] + 1)} if more else None
            continue
        params = dict(parse_qsl(urlsplit(nxt).query)) if nxt else None
    raise AssertionError("pagination did not end")


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 30),
    size=st.integers(1, 12),
    style=st.sampled_from(sorted(PATHS)),
    descending=st.booleans(),
)
def test_every_paginator_returns_each_record_once_in_order(
    n: int, size: int, style: str, descending: bool
) -> None:
    """For any size and page size, each paginator walks all records once, in the asked order."""
    ordering = "-id" if descending else "id"
    with SampleApi(records=n) as api:
        ids = _walk(api, style, size, ordering)
    expected = list(range(1, n + 1))
    assert ids == (expected[::-1] if descending else expected)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    modified=st.lists(st.integers(1, 40), max_size=10),
    added=st.integers(0, 5),
    op=st.sampled_from(["gte", "gt", "lte", "lt", "eq"]),
    pivot=st.integers(0, 60),
    field=st.sampled_from(["id", "mod_ts", "create_ts"]),
    ordering=st.sampled_from(["id", "-id", "mod_ts", "-mod_ts"]),
)
def test_filtered_views_match_a_brute_force_scan(
    n: int, modified: list[int], added: int, op: str, pivot: int, field: str, ordering: str
) -> None:
    """Bisected views equal filtering and sorting every record by hand, after any changes."""
    table = Table(ENTITIES["allocation"], n)
    table.modify(ids=[i for i in modified if i <= n])
    table.add(added)
    values = {
        "id": {i: i for i in range(1, table.count + 1)},
        "mod_ts": {i: table.mod_us[i] for i in range(1, table.count + 1)},
        "create_ts": {i: table.create_us[i] for i in range(1, table.count + 1)},
    }[field]
    ranked = sorted(values.values())
    value = ranked[min(pivot, len(ranked) - 1)] if field != "id" else pivot
    test = {
        "gte": lambda v: v >= value,
        "gt": lambda v: v > value,
        "lte": lambda v: v <= value,
        "lt": lambda v: v < value,
        "eq": lambda v: v == value,
    }[op]
    key = table.sort_key(ordering)
    expected = sorted((i for i, v in values.items() if test(v)), key=key)
    assert list(table.view(((field, op, value),), ordering)) == expected
