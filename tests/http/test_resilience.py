"""Retries, Retry-After, the time budget and broken bodies, against the real sample API."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from flext_infra.http import (
    HttpError,
    Response,
    RetriableHTTPError,
    RetryAdvice,
    TotalTimeoutError,
)
from flext_infra.testing import SampleApi
from tests.http.conftest import ALLOCATION, MakeClient, host


def test_503_is_retried_then_succeeds(api: SampleApi, make_client: MakeClient) -> None:
    """Two 503s are retried and the third attempt's 200 is returned."""
    api.set_faults(fail_next=2, fail_status=503)
    client = make_client()
    with capture_logs() as logs:
        response = client.get(ALLOCATION, params={"page_size": 5})
    assert response.status_code == 200 and len(response.json()["results"]) == 5
    assert [r.status for r in api.requests] == [503, 503, 200]
    assert response.extensions["flext.attempts"] == 3
    retries = [e for e in logs if e["event"] == "http.retry_scheduled"]
    assert [e["attempt"] for e in retries] == [1, 2]
    assert all(e["reason"] == "status 503" for e in retries)
    assert client.metrics()[host(api)]["retries"] == 2


@pytest.mark.parametrize(
    ("form", "asked", "low", "high"), [("seconds", 1, 0.95, 2.5), ("date", 2, 1.0, 3.5)]
)
def test_429_wait_follows_retry_after(
    api: SampleApi, make_client: MakeClient, form: str, asked: int, low: float, high: float
) -> None:
    """A 429's Retry-After (delta-seconds or HTTP date) sets the real wait before the retry."""
    api.set_faults(rate_limit_next=1, retry_after=asked, retry_after_form=form)
    client = make_client(zero_waits=False)
    with capture_logs() as logs:
        started = time.perf_counter()
        response = client.get(ALLOCATION)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    scheduled = next(e for e in logs if e["event"] == "http.retry_scheduled")
    assert scheduled["wait_source"] == "retry-after"
    # An HTTP date has one-second resolution, so "now + 2 s" may read as 1.x s.
    assert asked - 1 < scheduled["wait_s"] <= asked
    assert low <= elapsed <= high
    gap = api.requests[1].at - api.requests[0].at
    assert gap >= scheduled["wait_s"] - 0.05
    assert client.metrics()[host(api)]["status_429"] == 1


def test_retry_after_is_capped(api: SampleApi, make_client: MakeClient) -> None:
    """A Retry-After longer than retry_after_cap waits only the cap."""
    api.set_faults(rate_limit_next=1, retry_after=3600)
    client = make_client(retry_after_cap=2.5)
    with capture_logs() as logs:
        client.get(ALLOCATION)
    assert next(e for e in logs if e["event"] == "http.retry_scheduled")["wait_s"] == 2.5


def test_post_is_not_retried_by_default(api: SampleApi, make_client: MakeClient) -> None:
    """A POST that gets a 503 fails after one attempt; listing POST makes it retried."""
    api.set_faults(fail_next=1)
    with pytest.raises(RetriableHTTPError) as caught:
        make_client().post("/echo", json={"a": 1})
    assert caught.value.attempts == 1 and caught.value.status == 503
    assert len(api.requests.matching("/echo", "POST")) == 1
    api.set_faults(fail_next=1)
    retried = make_client(retry_methods=frozenset({"GET", "POST"})).post("/echo", json={"a": 1})
    assert retried.status_code == 201
    assert len(api.requests.matching("/echo", "POST")) == 3


def test_total_time_bound_holds_under_an_outage(api: SampleApi, make_client: MakeClient) -> None:
    """With every answer a 503 and many retries allowed, the request ends within its budget."""
    api.set_faults(outage=True)
    client = make_client(
        zero_waits=False, max_retries=1000, backoff_initial=0.05, backoff_max=0.1, total_timeout=0.8
    )
    started = time.perf_counter()
    with pytest.raises(RetriableHTTPError) as caught:
        client.get(ALLOCATION)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.8 + 0.7  # unbounded, 1000 retries would take minutes
    assert caught.value.reason == "budget_exhausted" and caught.value.status == 503
    assert 3 <= caught.value.attempts < 1000
    assert client.metrics()[host(api)]["budget_exhausted"] == 1


def test_total_time_bound_cuts_a_slow_answer(api: SampleApi, make_client: MakeClient) -> None:
    """A server slower than the whole budget ends the request at the budget, not the timeout."""
    api.set_faults(slow_s=3.0)
    client = make_client(zero_waits=False, timeout=10.0, total_timeout=0.4)
    started = time.perf_counter()
    with pytest.raises(TotalTimeoutError):
        client.get(ALLOCATION)
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize("fault", ["drop_next", "truncate_next"])
def test_broken_bodies_are_retried(api: SampleApi, make_client: MakeClient, fault: str) -> None:
    """A connection dropped mid-body and a truncated chunked body are both retried."""
    api.set_faults(**{fault: 1})
    client = make_client()
    response = client.get(ALLOCATION, params={"page_size": 20})
    assert len(response.json()["results"]) == 20
    assert len(api.requests) == 2
    metrics = client.metrics()[host(api)]
    assert metrics["network_errors"] == 1 and metrics["retries"] == 1


def test_network_failures_raise_retriable_after_the_retries(make_client: MakeClient) -> None:
    """A closed port is retried (even for POST: nothing was sent) and then raises."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(RetriableHTTPError) as caught:
        client.post("/echo")
    assert caught.value.attempts == 3 and caught.value.status is None
    assert caught.value.reason == "network"


def test_retries_exhausted_raise_with_status_and_attempts(
    api: SampleApi, make_client: MakeClient
) -> None:
    """After max_retries the last retriable status raises RetriableHTTPError."""
    api.set_faults(fail_next=10, fail_status=502)
    with pytest.raises(RetriableHTTPError) as caught:
        make_client(max_retries=2).get(ALLOCATION)
    assert (caught.value.status, caught.value.attempts) == (502, 3)
    assert isinstance(caught.value, HttpError)


def test_a_request_can_ask_for_fewer_retries_than_the_client(
    api: SampleApi, make_client: MakeClient
) -> None:
    """max_retries=0 on one request sends it once; the next request keeps the client's retries."""
    api.set_faults(fail_next=10, fail_status=503)
    client = make_client(max_retries=3)
    response = client.get(ALLOCATION, raise_for_status=False, max_retries=0)
    assert response.status_code == 503 and response.extensions["flext.attempts"] == 1
    assert len(api.requests) == 1
    assert client.get(ALLOCATION, raise_for_status=False).extensions["flext.attempts"] == 4


def test_raise_for_status_false_returns_the_final_response(
    api: SampleApi, make_client: MakeClient
) -> None:
    """raise_for_status=False returns the last answer, retried or not."""
    api.set_faults(fail_next=10)
    client = make_client(max_retries=1)
    response = client.get(ALLOCATION, raise_for_status=False)
    assert response.status_code == 503 and response.extensions["flext.attempts"] == 2
    api.set_faults()
    assert client.get("/nope", raise_for_status=False).status_code == 404


def test_an_idempotent_post_is_retried_and_other_posts_are_not(
    api: SampleApi, make_client: MakeClient
) -> None:
    """idempotent=True retries that one POST like a GET; the next plain POST is still not."""
    client = make_client()
    api.set_faults(fail_next=2)
    response = client.post("/graphql", json={"query": "{ items(first: 1) { totalCount } }"},
                           idempotent=True)  # fmt: skip
    assert response.status_code == 200 and response.extensions["flext.attempts"] == 3
    api.set_faults(fail_next=1)
    with pytest.raises(RetriableHTTPError) as caught:
        client.post("/echo", json={"a": 1})
    assert caught.value.attempts == 1


def _throttled(response: Response) -> RetryAdvice | None:
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    if "THROTTLED" not in codes:
        return None
    return RetryAdvice("graphql THROTTLED", wait_s=1.5)


def test_a_retry_check_retries_a_200_that_says_throttled_and_holds_the_host(
    api: SampleApi, make_client: MakeClient
) -> None:
    """A body the check flags is retried with its advised wait, which holds the whole host."""
    api.set_faults(graphql_throttle_next=2)
    client = make_client()
    query = {"query": "{ items(first: 2) { nodes { id } } }"}
    with capture_logs() as logs:
        response = client.post("/graphql", json=query, idempotent=True, retry_check=_throttled)
    assert response.json()["data"]["items"]["nodes"] == [{"id": 1}, {"id": 2}]
    assert [c.fault for c in api.graphql.calls] == ["graphql:throttled"] * 2 + [None]
    scheduled = [e for e in logs if e["event"] == "http.retry_scheduled"]
    assert [(e["reason"], e["wait_s"], e["wait_source"]) for e in scheduled] == [
        ("graphql THROTTLED", 1.5, "response")
    ] * 2
    hints = [e for e in logs if e["event"] == "http.rate_limit.server_hint"]
    assert [h["source"] for h in hints] == ["graphql THROTTLED"] * 2
    metrics = client.metrics()[host(api)]
    assert metrics["retriable_bodies"] == 2 and metrics["retries"] == 2


def test_a_retry_check_gives_back_the_last_body_when_attempts_run_out(
    api: SampleApi, make_client: MakeClient
) -> None:
    """After max_retries the flagged response itself is returned, with its attempt count."""
    api.set_faults(graphql_throttle_next=10)
    client = make_client(max_retries=2)
    response = client.post("/graphql", json={"query": "{ items { totalCount } }"},
                           idempotent=True, retry_check=_throttled)  # fmt: skip
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert response.extensions["flext.attempts"] == 3
    assert len(api.graphql.calls) == 3


def test_a_retry_check_is_ignored_for_requests_that_may_not_be_retried(
    api: SampleApi, make_client: MakeClient
) -> None:
    """Without idempotent=True a POST is sent once, whatever its body says."""
    api.set_faults(graphql_throttle_next=1)
    response = make_client().post("/graphql", json={"query": "{ items { totalCount } }"},
                                  retry_check=_throttled)  # fmt: skip
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert len(api.graphql.calls) == 1
