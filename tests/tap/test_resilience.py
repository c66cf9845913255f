"""Fault storms and outages through flext_infra.http, with the SDK's error meaning kept."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from flext_infra.testing import Faults, SampleApi
from tap_flext_api import StreamFatalError, StreamRetriableError

from .conftest import PASSWORD, USER, run_in_process, run_subprocess, wms_config

COUNTS = {"allocation": 300, "order_hdr": 200, "order_dtl": 250}


def test_fault_storm_yields_every_record_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20% 503/429, 429s with Retry-After, dropped and truncated bodies: no loss, no dupes."""
    # The sample API fires its counted faults (429s, drops, truncations) on the
    # first requests; judge the breaker over 40 calls so that burst alone does
    # not open it. The storm as a whole stays far below its 50% threshold.
    monkeypatch.setenv("FLEXT_API_BREAKER_MIN_CALLS", "40")
    storm = Faults(
        error_ratio=0.2,
        error_statuses=(503, 429),
        rate_limit_next=3,
        retry_after=2,
        drop_next=3,
        truncate_next=2,
        seed=11,
    )
    with SampleApi(counts=COUNTS, username=USER, password=PASSWORD, faults=storm) as api:
        run = run_subprocess(wms_config(api, page_size=20, max_retries=8), tmp=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        for entity, count in COUNTS.items():
            assert sorted(run.ids(entity)) == list(range(1, count + 1)), entity
        faults = [r.fault for r in api.requests if r.fault]
    assert faults.count("status:429") >= 3 and faults.count("status:503") >= 3
    assert faults.count("drop") == 3 and faults.count("truncate") == 2


def test_outage_fails_clearly_within_bounds_with_the_breaker_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Everything answering 503 ends the run fast, naming stream, URL, status, attempts."""
    monkeypatch.setenv("FLEXT_API_BREAKER_MIN_CALLS", "3")
    with SampleApi(records=50, username=USER, password=PASSWORD) as api:
        config = wms_config(api, entities=["order_hdr"], max_retries=2)
        run = run_in_process(config, keep_tap=True)  # discovery works: the outage starts after
        assert run.tap is not None
        run.tap.close()
        api.set_faults(outage=True)
        api.requests.clear()
        catalog = run.tap.catalog_dict
        started = time.monotonic()
        failed = run_in_process(config, catalog=catalog, keep_tap=True)
        elapsed = time.monotonic() - started
        assert failed.tap is not None
        try:
            error = failed.error
            assert isinstance(error, StreamRetriableError)
            assert error.stream == "order_hdr"
            assert error.url.startswith(f"{api.base_url}/wms/lgfapi/v10/entity/order_hdr/")
            assert PASSWORD not in str(error)
            assert error.status in (503, None)
            assert error.attempts <= 3
            assert "order_hdr" in str(error) and "attempt" in str(error)
            assert set(failed.tap.http_client.breaker_states().values()) == {"open"}
        finally:
            failed.tap.close()
        assert len(api.requests) <= 3  # max_retries=2: three attempts, then nothing
        assert elapsed < 15

        sub = run_subprocess(config, catalog=catalog, tmp=tmp_path)
        assert sub.returncode != 0
        assert "stream 'order_hdr'" in sub.stderr
        assert f"{api.base_url}/wms/lgfapi/v10/entity/order_hdr/" in sub.stderr
        assert PASSWORD not in sub.stderr
        assert "(HTTP 503, 3 attempts)" in sub.stderr
        assert "circuit breaker now open" in sub.stderr


def test_untrusted_certificate_fails_at_once_and_https_reads_with_verification_off(
    tls_cert: tuple[Path, Path],
) -> None:
    """An HTTPS API whose certificate fails verification stops the run on the first attempt,
    saying why; with ``verify_tls: false`` the same API is read in full."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    with SampleApi(records=20, username=USER, password=PASSWORD, tls=context) as api:
        assert api.base_url.startswith("https://")
        failed = run_in_process(wms_config(api, entities=["order_hdr"], max_retries=3))
        error = failed.error
        assert isinstance(error, StreamFatalError)
        assert error.attempts == 1 and error.status is None
        assert "TLS certificate verification failed: self-signed certificate" in str(error)
        assert PASSWORD not in str(error)
        run = run_in_process(wms_config(api, entities=["order_hdr"], verify_tls=False))
        assert run.error is None, run.error
        assert sorted(run.ids("order_hdr")) == list(range(1, 21))
