"""The Singer SDK's standard tap tests, against the sample API on loopback.

The SDK's factory discovers streams when the module is imported, so the sample
API starts at import and stops when the module's tests are done.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from flext_infra.testing import GENERIC_ENTITY, SampleApi
from tap_flext_api import TapFlextApi, describe_to_schema

from .conftest import PASSWORD, USER

_API = SampleApi(counts={"allocation": 45, "order_hdr": 30, "order_dtl": 35, "items": 40},
                 username=USER, password=PASSWORD).start()  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _sample_api() -> Iterator[SampleApi]:
    """Stop the module's sample API after its tests."""
    yield _API
    _API.stop()


TestWmsProfile = get_tap_test_class(
    TapFlextApi,
    config={
        "base_url": _API.base_url,
        "username": USER,
        "password": PASSWORD,
        "page_size": 20,
        "start_date": "2023-01-01T00:00:00Z",
    },
)

TestGenericProfile = get_tap_test_class(
    TapFlextApi,
    config={
        "base_url": _API.base_url,
        "username": USER,
        "password": PASSWORD,
        "streams": [
            {
                "name": "items",
                "path": "/generic/page/items",
                "records_path": "$.data",
                "primary_keys": ["id"],
                "replication_key": "updated_at",
                "params": {"ordering": "updated_at"},
                "replication_filter_param": "updated_at__gte",
                "is_sorted": True,
                "schema": describe_to_schema(GENERIC_ENTITY.describe()),
                "paginator": {"type": "page_number", "page_size_param": "per_page",
                              "page_size": 15, "total_pages_path": "$.total_pages"},
            },
            {
                "name": "items_inferred",
                "path": "/generic/cursor/items",
                "records_path": "$.data",
                "primary_keys": ["id"],
                "params": {"limit": 15},
                "paginator": {"type": "cursor", "cursor_path": "$.next_cursor"},
            },
        ],
    },
)  # fmt: skip
