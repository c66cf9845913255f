"""Must hold 3: a response cached by one tap process is revalidated with a 304 by another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flext_infra.testing import SampleApi
from tests.conftest import REDIS_URL
from tests.tap.conftest import PASSWORD, USER, run_subprocess, wms_config


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample WMS API (ETag and Last-Modified on every page)."""
    with SampleApi(records=120, username=USER, password=PASSWORD) as server:
        yield server


def test_a_page_cached_by_one_tap_process_is_revalidated_by_another(
    api: SampleApi, redis_prefix: str, tmp_path: Path
) -> None:
    """Two tap processes on one Redis cache: the second gets only 304s and the same records."""
    env = {"FLEXT_ENVIRONMENT": "test", "FLEXT_API_CACHE_URL": REDIS_URL,
           "FLEXT_API_REDIS_KEY_PREFIX": redis_prefix}  # fmt: skip
    config = wms_config(api, entities=["allocation"], cache_enabled=True)
    first = run_subprocess(config, env=env, tmp=tmp_path)
    assert first.returncode == 0, first.stderr
    pages = len(api.requests)
    assert pages > 1 and all(r.status == 200 for r in api.requests)
    second = run_subprocess(config, env=env, tmp=tmp_path)
    assert second.returncode == 0, second.stderr
    again = list(api.requests)[pages:]
    assert len(again) == pages
    assert all(r.status == 304 and r.if_none_match for r in again), [r.status for r in again]
    assert second.records("allocation") == first.records("allocation")
