"""Circuit breaker, HTTP cache and OAuth2, against the real sample API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from flext_infra.http import (
    CircuitOpenError,
    FatalHTTPError,
    OAuth2ClientCredentials,
    RetriableHTTPError,
)
from flext_infra.testing import SampleApi
from tests.http.conftest import ALLOCATION, MakeClient, host


def test_breaker_opens_fails_fast_probes_and_closes(
    api: SampleApi, make_client: MakeClient
) -> None:
    """Failures open the breaker; it then fails fast offline, lets one probe through, and closes."""
    client = make_client(
        max_retries=0, breaker_min_calls=4, breaker_failure_ratio=0.5, breaker_break_s=0.3
    )
    api.set_faults(outage=True)
    with capture_logs() as logs:
        for _ in range(4):
            with pytest.raises(RetriableHTTPError):
                client.get(ALLOCATION)
        sent = len(api.requests)
        with pytest.raises(CircuitOpenError) as caught:
            client.get(ALLOCATION)
        assert len(api.requests) == sent, "an open breaker must not touch the network"
        assert 0 < caught.value.retry_in_s <= 0.3
        assert caught.value.retry_at > datetime.now(UTC)
        assert client.breaker_states() == {host(api): "open"}
        assert client.health().reason == "circuit_open"
        time.sleep(0.35)
        api.set_faults()
        assert client.get(ALLOCATION).status_code == 200  # the half-open probe
        assert client.breaker_states() == {host(api): "closed"}
        assert client.get(ALLOCATION).status_code == 200
    events = [e["event"] for e in logs if e["event"].startswith("http.breaker.")]
    assert events == [
        "http.breaker.opened",
        "http.breaker.rejected",
        "http.breaker.half_open",
        "http.breaker.probe",
        "http.breaker.closed",
    ]
    metrics = client.metrics()[host(api)]
    assert (metrics["breaker_opens"], metrics["breaker_rejections"]) == (1, 1)


def test_failed_probe_reopens_the_breaker(api: SampleApi, make_client: MakeClient) -> None:
    """A probe that fails opens the breaker again for another break."""
    client = make_client(
        max_retries=0, breaker_min_calls=2, breaker_failure_ratio=1.0, breaker_break_s=0.2
    )
    api.set_faults(outage=True)
    for _ in range(2):
        with pytest.raises(RetriableHTTPError):
            client.get(ALLOCATION)
    time.sleep(0.25)
    with pytest.raises(RetriableHTTPError):
        client.get(ALLOCATION)  # the probe reaches the server and fails
    with pytest.raises(CircuitOpenError):
        client.get(ALLOCATION)
    assert client.metrics()[host(api)]["breaker_opens"] == 2


def test_breaker_needs_min_calls_and_ignores_429(api: SampleApi, make_client: MakeClient) -> None:
    """Below min_calls the breaker stays closed, and 429s are not failures."""
    client = make_client(max_retries=0, breaker_min_calls=5, breaker_failure_ratio=0.5)
    api.set_faults(fail_next=4)
    for _ in range(4):
        with pytest.raises(RetriableHTTPError):
            client.get(ALLOCATION)
    assert client.breaker_states()[host(api)] == "closed"
    api.set_faults(rate_limit_next=10, retry_after=0)
    for _ in range(3):
        with pytest.raises(RetriableHTTPError):
            client.get(ALLOCATION)
    assert client.breaker_states()[host(api)] == "closed"


def test_breaker_open_stops_retries_at_once(api: SampleApi, make_client: MakeClient) -> None:
    """When the breaker opens during retries, the request ends with CircuitOpenError."""
    client = make_client(
        max_retries=10, breaker_min_calls=3, breaker_failure_ratio=0.5, breaker_break_s=60
    )
    api.set_faults(outage=True)
    with pytest.raises(CircuitOpenError) as caught:
        client.get(ALLOCATION)
    assert len(api.requests) == 3 and caught.value.attempts == 4


def test_second_get_revalidates_with_etag_and_serves_the_cached_body(
    api: SampleApi, make_client: MakeClient
) -> None:
    """The second GET sends If-None-Match, gets a 304, and returns the cached body."""
    client = make_client(cache_enabled=True)
    first = client.get(ALLOCATION, params={"page_size": 10})
    second = client.get(ALLOCATION, params={"page_size": 10})
    assert second.content == first.content and second.status_code == 200
    sent = list(api.requests)
    assert sent[0].if_none_match is None and sent[0].status == 200
    assert sent[1].if_none_match == first.headers["ETag"] and sent[1].status == 304
    metrics = client.metrics()[host(api)]
    assert (metrics["cache_hits"], metrics["cache_revalidations"], metrics["cache_stores"]) == (
        1,
        1,
        1,
    )
    api.modify_records("allocation", ids=[1])
    third = client.get(ALLOCATION, params={"page_size": 10})
    assert third.content != first.content and api.requests[-1].status == 200


def test_persistent_cache_works_across_client_instances(
    api: SampleApi, make_client: MakeClient, tmp_path: Path
) -> None:
    """A second client on the same cache file revalidates instead of downloading again."""
    cache = tmp_path / "cache" / "http.sqlite"
    first = make_client(cache_enabled=True, cache_path=cache)
    body = first.get(ALLOCATION).content
    first.close()
    second = make_client(cache_enabled=True, cache_path=cache)
    again = second.get(ALLOCATION)
    assert again.content == body
    assert api.requests[-1].status == 304 and api.requests[-1].if_none_match
    assert second.metrics()[host(api)]["cache_hits"] == 1
    assert not (cache.parent / ".gitignore").exists()


def test_oauth2_token_is_fetched_once_and_refreshed_after_401(make_client: MakeClient) -> None:
    """50 requests share one token; a 401 after revocation fetches a new one and succeeds."""
    with SampleApi(records=5, oauth_clients={"flext-client": "client-secret-123"}) as api:
        auth = OAuth2ClientCredentials(
            f"{api.base_url}/oauth/token", "flext-client", "client-secret-123", scope="read"
        )
        client = make_client(base_url=api.base_url, auth=auth)
        for _ in range(50):
            assert client.get(ALLOCATION).status_code == 200
        assert api.tokens_issued == 1 and auth.fetches == 1
        assert len(api.requests.matching("/oauth/token")) == 1
        api.revoke_tokens()
        assert client.get(ALLOCATION).status_code == 200
        assert api.tokens_issued == 2
        statuses = [r.status for r in api.requests.matching(ALLOCATION)]
        assert statuses[-2:] == [401, 200]
        assert all(r.auth_scheme == "Bearer" for r in api.requests.matching(ALLOCATION))


def test_oauth2_bad_client_secret_is_fatal(make_client: MakeClient) -> None:
    """A refused token request raises FatalHTTPError without the secret in it."""
    with SampleApi(records=1, oauth_clients={"c": "right-secret"}) as api:
        auth = OAuth2ClientCredentials(f"{api.base_url}/oauth/token", "c", "wrong-secret")
        client = make_client(base_url=api.base_url, auth=auth)
        with pytest.raises(FatalHTTPError) as caught:
            client.get(ALLOCATION)
        assert caught.value.status == 401 and "wrong-secret" not in str(caught.value)


def test_cache_can_be_bypassed_per_request(api: SampleApi, make_client: MakeClient) -> None:
    """cache=False neither stores nor revalidates; the next cached GET downloads in full."""
    client = make_client(cache_enabled=True)
    client.get(ALLOCATION, cache=False)
    client.get(ALLOCATION, cache=False)
    assert [r.if_none_match for r in api.requests] == [None, None]
    assert client.metrics()[host(api)]["cache_stores"] == 0


def test_per_request_budget_overrides_the_configured_one(
    api: SampleApi, make_client: MakeClient
) -> None:
    """total_timeout on one request bounds that request only."""
    api.set_faults(slow_s=3.0)
    client = make_client(zero_waits=False, total_timeout=60.0)
    started = time.perf_counter()
    with pytest.raises(RetriableHTTPError):
        client.get(ALLOCATION, total_timeout=0.3)
    assert time.perf_counter() - started < 1.5


def test_health_reports_reachability(api: SampleApi, make_client: MakeClient) -> None:
    """health() is ok while the base URL answers below 500 and fails during an outage."""
    client = make_client(max_retries=0)
    assert client.health().is_success
    api.set_faults(outage=True)
    result = client.health()
    assert result.is_failure and result.reason == "unhealthy"


def test_cache_size_bound_reaches_the_storage(make_client: MakeClient, tmp_path: Path) -> None:
    """cache_max_bytes becomes hishel's storage bound."""
    client = make_client(cache_enabled=True, cache_path=tmp_path / "c.db", cache_max_bytes=4096)
    assert client._cache is not None and client._cache.storage.max_size == 4096
