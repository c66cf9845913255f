"""The rate governor shared by many threads: pauses for all, spent quotas, cancellation."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flext_infra.http import QuotaExhaustedError, RequestCancelledError
from flext_infra.testing import SampleApi
from tests.http.conftest import ALLOCATION, MakeClient, host


def test_a_429_retry_after_pauses_every_thread_for_the_host(
    api: SampleApi, make_client: MakeClient
) -> None:
    """One 429 with Retry-After: 1 holds back all eight workers, as the server's log shows."""
    client = make_client(zero_waits=False, max_retries=3)
    api.set_faults(rate_limit_next=1, retry_after=1.0, paths=(ALLOCATION,))
    barrier = threading.Barrier(8)

    def one(_: int) -> int:
        barrier.wait()
        return client.get(ALLOCATION).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(8))) == [200] * 8
    log = api.requests.matching(ALLOCATION)
    limited = next(r for r in log if r.status == 429)
    # Requests that had already left when the 429 went out may still arrive; none
    # is sent after the client read it, until its second is over.
    late = [r for r in log if limited.at + 0.05 < r.received < limited.at + 0.95]
    assert late == []
    assert client.metrics()[host(api)]["server_hints"] >= 1


def test_a_retry_after_beyond_max_quota_wait_ends_the_request_and_later_ones(
    api: SampleApi, make_client: MakeClient
) -> None:
    """A 3600 s Retry-After is a spent quota: no wait, and nothing more is sent to the host."""
    client = make_client(zero_waits=False, max_quota_wait_s=300.0, max_retries=5)
    api.set_faults(quota=1, quota_retry_after=3600)
    assert client.get(ALLOCATION).status_code == 200
    started = time.monotonic()
    with pytest.raises(QuotaExhaustedError) as caught:
        client.get(ALLOCATION)
    assert time.monotonic() - started < 1.0
    error = caught.value
    assert error.retry_in_s == pytest.approx(3600, abs=5)
    assert error.source == "retry-after" and error.status == 429
    assert "resume after" in str(error) and error.url.startswith(api.base_url)
    sent = len(api.requests)
    with pytest.raises(QuotaExhaustedError):
        client.get("/health")
    assert len(api.requests) == sent  # refused before sending
    assert client.metrics()[host(api)]["quota_exhausted"] == 1


def test_a_far_reset_with_nothing_remaining_spends_the_quota_after_a_good_answer(
    api: SampleApi, make_client: MakeClient
) -> None:
    """X-RateLimit-Remaining: 0 with a reset an hour away: this answer is used, the next refused."""
    client = make_client(zero_waits=False, max_quota_wait_s=300.0)
    api.set_faults(server_rate_limit=(1, 3600.0))
    assert client.get(ALLOCATION).status_code == 200
    with pytest.raises(QuotaExhaustedError) as caught:
        client.get(ALLOCATION)
    assert caught.value.source == "x-ratelimit"


def test_without_max_quota_wait_long_hints_are_capped_waits(
    api: SampleApi, make_client: MakeClient
) -> None:
    """Unset, a long Retry-After is waited (capped), as before: the request succeeds."""
    client = make_client(zero_waits=True, retry_after_cap=5.0)
    api.set_faults(rate_limit_next=1, retry_after=3600)
    assert client.get(ALLOCATION).status_code == 200


def test_cancel_stops_a_request_waiting_for_its_slot(
    api: SampleApi, make_client: MakeClient
) -> None:
    """A request held back by a paused host ends at once when its cancel event is set."""
    client = make_client(zero_waits=False, retry_after_cap=30.0)
    client.rate_limiter.hold(host(api), 20.0, source="test")
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RequestCancelledError) as caught:
        client.get(ALLOCATION, cancel=cancel)
    assert time.monotonic() - started < 1.0
    assert caught.value.reason == "cancelled"
    assert len(api.requests) == 0


def test_cancel_stops_the_backoff_between_retries(api: SampleApi, make_client: MakeClient) -> None:
    """A request sleeping before its next attempt sends nothing more once cancelled."""
    client = make_client(zero_waits=False, backoff_initial=10.0, backoff_max=10.0, max_retries=3)
    api.set_faults(fail_next=5)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RequestCancelledError):
        client.get(ALLOCATION, cancel=cancel)
    assert time.monotonic() - started < 1.5
    assert len(api.requests) == 1
