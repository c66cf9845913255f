"""Rate limiting, the metrics snapshot, secret-free logs, the container service, config."""

from __future__ import annotations

import gc
import io
import time
import weakref
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from flext_infra import ConfigurationError, configure_for_testing
from flext_infra.http import (
    ApiKeyAuth,
    BearerAuth,
    FatalHTTPError,
    FlextHttpClient,
    HttpClientConfig,
    OAuth2ClientCredentials,
    RateLimiter,
    RetriableHTTPError,
    create_http_client,
    mask_url,
    parse_retry_after,
)
from flext_infra.http._httpx import Response
from flext_infra.http._observe import HttpMetrics, Waits
from flext_infra.observability import configure_logging
from flext_infra.settings import load_settings
from flext_infra.testing import SampleApi
from tests.http.conftest import ALLOCATION, PASSWORD, MakeClient, host


def test_rate_limiter_holds_the_configured_rate(api: SampleApi, make_client: MakeClient) -> None:
    """At 20 requests/s with burst 1, 11 requests take about 0.5 s, spaced about 50 ms."""
    client = make_client(zero_waits=False, rate_limit_per_second=20.0, rate_limit_burst=1)
    started = time.perf_counter()
    for _ in range(11):
        client.get("/health")
    elapsed = time.perf_counter() - started
    # The client spaces its sends exactly; the upper bound is loose for loaded CI machines.
    assert 0.45 <= elapsed <= 1.5
    stamps = [r.at for r in api.requests]
    assert stamps[-1] - stamps[0] >= 0.4
    metrics = client.metrics()[host(api)]
    # A request slower than the 50 ms interval (a loaded machine) needs no wait after it.
    assert 1 <= metrics["rate_limit_waits"] <= 10
    assert 0 < metrics["rate_limit_wait_s"] <= 0.6


def test_burst_passes_at_once_then_paces() -> None:
    """A burst of 3 is let through without waiting; the 4th waits one interval."""
    limiter = RateLimiter(10.0, 3, Waits(zero_waits=True), HttpMetrics())
    waits = [limiter.reserve("h:1") for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1, abs=0.01) and waits[4] == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(
    ("headers", "blocked"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}, 7.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "EPOCH+5"}, 5.0),
        ({"RateLimit": '"default";r=0;t=9'}, 9.0),
        ({"RateLimit": "limit=10, remaining=0, reset=6"}, 6.0),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "4"}, 4.0),
        ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "7"}, 0.0),
    ],
)
def test_server_hints_block_the_host(headers: dict[str, str], blocked: float) -> None:
    """X-RateLimit-* and IETF RateLimit headers at zero remaining hold the host until reset."""
    limiter = RateLimiter(None, 1, Waits(zero_waits=True), HttpMetrics())
    if headers.get("X-RateLimit-Reset") == "EPOCH+5":  # an epoch time, GitHub style
        headers = {**headers, "X-RateLimit-Reset": str(int(time.time()) + 5)}
    limiter.observe("h:1", Response(200, headers=headers))
    assert limiter.reserve("h:1") == pytest.approx(blocked, abs=1.1)


def test_rate_limit_policy_lowers_the_rate() -> None:
    """RateLimit-Policy q/w sets the pace when no local rate is configured."""
    limiter = RateLimiter(None, 1, Waits(zero_waits=True), HttpMetrics())
    limiter.observe("h:1", Response(200, headers={"RateLimit-Policy": '"p";q=4;w=2'}))
    assert [round(limiter.reserve("h:1"), 2) for _ in range(3)] == [0.0, 0.5, 1.0]


def test_client_paces_itself_from_server_rate_limit_headers(
    api: SampleApi, make_client: MakeClient
) -> None:
    """Against a server limit of 4 per second the client learns the quota and avoids 429s."""
    api.set_faults(server_rate_limit=(4, 1.0))
    client = make_client(zero_waits=False)
    started = time.perf_counter()
    for _ in range(8):
        assert client.get(ALLOCATION, params={"page_size": 1}).status_code == 200
    assert time.perf_counter() - started >= 1.0
    assert client.metrics()[host(api)]["status_429"] <= 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None), ("-4", 0.0)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    """Retry-After as delta-seconds, and unreadable or missing values."""
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    """Retry-After as an HTTP date gives the seconds until then (0 when past)."""
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_metrics_snapshot_counts_the_events(api: SampleApi, make_client: MakeClient) -> None:
    """Requests, retries, 429s, breaker opens, cache hits, bytes and latency all show up."""
    client = make_client(
        cache_enabled=True, breaker_min_calls=3, breaker_failure_ratio=0.5, max_retries=2
    )
    api.set_faults(rate_limit_next=1, retry_after=1)
    client.get(ALLOCATION, params={"page_size": 3})
    client.get(ALLOCATION, params={"page_size": 3})  # a revalidated cache hit
    api.set_faults(outage=True)
    with pytest.raises(RetriableHTTPError):
        client.get("/health")
    m = client.metrics()[host(api)]
    assert m["requests"] == 3
    assert m["retries"] == 1 + 2 and m["status_429"] == 1
    assert m["breaker_opens"] == 1 and m["breaker_state"] == "open"
    assert m["cache_hits"] == 1 and m["cache_revalidations"] == 1
    assert m["bytes_received"] > 1000
    assert m["latency_ms"]["count"] == 3
    assert 0 < m["latency_ms"]["p50"] <= m["latency_ms"]["p95"] <= m["latency_ms"]["max"]
    assert m["retry_wait_s"] >= 1.0


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Route every log line (ours and the libraries') through the real pipeline into a buffer."""
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    try:
        yield stream
    finally:
        configure_logging(level="INFO")


def test_logs_and_errors_never_hold_credentials(
    make_client: MakeClient, log_stream: io.StringIO
) -> None:
    """Basic, bearer, API-key and OAuth2 secrets appear in no log line and no error message."""
    secrets = {
        "password": PASSWORD,
        "token": "bearer-token-abcdef",
        "api_key": "apikey-zyx-987",
        "client_secret": "oauth-secret-xyz",
    }
    errors: list[str] = []
    with SampleApi(
        records=3,
        username="u",
        password=secrets["password"],
        oauth_clients={"cid": secrets["client_secret"]},
        api_key=("api_key", secrets["api_key"]),
        bearer_token=secrets["token"],
    ) as api:
        clients = [
            make_client(
                base_url=api.base_url,
                auth=OAuth2ClientCredentials(
                    f"{api.base_url}/oauth/token", "cid", secrets["client_secret"]
                ),
            ),
            make_client(
                base_url=api.base_url, auth=ApiKeyAuth("api_key", secrets["api_key"], in_="query")
            ),
            make_client(base_url=f"http://u:{secrets['password']}@127.0.0.1:{api.port}", auth=None),
            make_client(base_url=api.base_url, auth=BearerAuth(secrets["token"])),
        ]
        for client in clients:
            api.set_faults(fail_next=1)
            client.get(ALLOCATION, params={"page_size": 1}, raise_for_status=False)
            api.set_faults(fail_next=6)
            try:
                client.get(ALLOCATION, params={"page_size": 1})
            except RetriableHTTPError as exc:
                errors.append(str(exc))
        api.revoke_tokens()
        clients[0].get(ALLOCATION)
    text = log_stream.getvalue()
    assert "http.retry_scheduled" in text and "http.oauth.token_fetched" in text
    assert "api_key=**********" in text
    for secret in secrets.values():
        assert secret not in text
        assert all(secret not in e for e in errors)
    assert len(errors) == 4


def test_urls_in_errors_have_no_user_info(make_client: MakeClient, api: SampleApi) -> None:
    """mask_url drops user:password@ and masks secret query values."""
    assert mask_url("http://u:pw@h:8/p?token=abc&x=1") == "http://h:8/p?token=**********&x=1"
    client = make_client(base_url=f"http://u:hunter22@127.0.0.1:{api.port}")
    with pytest.raises(FatalHTTPError) as caught:
        client.get("/nothing-here")
    assert caught.value.url == f"http://127.0.0.1:{api.port}/nothing-here"
    assert caught.value.status == 404 and "hunter22" not in str(caught.value)


def test_loopback_only_refuses_other_hosts(make_client: MakeClient) -> None:
    """A loopback-only client refuses a non-loopback host before sending anything."""
    client = make_client(base_url="http://192.0.2.10:8080")
    with pytest.raises(FatalHTTPError) as caught:
        client.get("/x")
    assert caught.value.reason == "host_not_allowed" and caught.value.attempts == 0


def test_test_profile_registers_a_zero_wait_loopback_client(
    monkeypatch: pytest.MonkeyPatch, api: SampleApi
) -> None:
    """The test profile's http_client skips waits, is loopback-only, and closes on dispose."""
    monkeypatch.setenv("FLEXT_API_BASE_URL", api.base_url)
    monkeypatch.setenv("FLEXT_API_USERNAME", "http-user")
    monkeypatch.setenv("FLEXT_API_PASSWORD", PASSWORD)
    monkeypatch.setenv("FLEXT_API_BACKOFF_INITIAL", "30")
    container = configure_for_testing(load_settings(environment="test"))
    client = container.resolve("http_client")
    assert container.resolve(FlextHttpClient) is client
    assert client.config.zero_waits and client.config.loopback_only
    api.set_faults(fail_next=2)
    started = time.perf_counter()
    assert client.get(ALLOCATION).status_code == 200
    assert time.perf_counter() - started < 5  # two 30 s backoffs skipped
    assert container.health()["http_client"].is_success
    container.dispose()
    with pytest.raises(RuntimeError, match="closed"):
        client.get(ALLOCATION)


def test_settings_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """FLEXT_API_* variables become HttpClientConfig fields, overrides win."""
    monkeypatch.setenv("FLEXT_API_MAX_RETRIES", "7")
    monkeypatch.setenv("FLEXT_API_RETRY_METHODS", "get, post")
    monkeypatch.setenv("FLEXT_API_RATE_LIMIT_PER_SECOND", "2.5")
    monkeypatch.setenv("FLEXT_API_TOKEN", "tok-1234")
    settings = load_settings(environment="development")
    config = HttpClientConfig.from_settings(settings.api, total_timeout=9.0)
    assert config.max_retries == 7 and config.total_timeout == 9.0
    assert config.retry_methods == frozenset({"GET", "POST"})
    assert config.rate_limit_per_second == 2.5
    assert isinstance(config.auth, BearerAuth)
    with create_http_client(config) as client:
        assert client.health().is_success


@pytest.mark.parametrize(
    "bad",
    [{"max_retries": -1}, {"breaker_failure_ratio": 0}, {"timeout": 0}, {"rate_limit_burst": 0}],
)
def test_invalid_config_is_refused(bad: dict[str, object]) -> None:
    """Nonsense values raise ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match=next(iter(bad))):
        HttpClientConfig(**bad)  # type: ignore[arg-type]


def test_validation_flags_a_non_loopback_base_url_in_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate_environment reports a non-loopback FLEXT_API_BASE_URL for the test profile."""
    from flext_infra import validate_environment

    monkeypatch.setenv("FLEXT_API_BASE_URL", "https://wms.example.com")
    report = validate_environment("test")
    assert any("loopback" in p for p in report.problems())


def test_rate_limit_is_shared_by_concurrent_requests(
    api: SampleApi, make_client: MakeClient
) -> None:
    """Four threads share one host bucket: 16 requests at 20/s take about 0.75 s in total."""
    from concurrent.futures import ThreadPoolExecutor

    client = make_client(zero_waits=False, rate_limit_per_second=20.0, rate_limit_burst=1)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: client.get("/health").status_code, range(16)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 16
    assert 0.7 <= elapsed <= 2.0
    stamps = sorted(r.at for r in api.requests)
    assert stamps[-1] - stamps[0] >= 0.65


@pytest.mark.parametrize("cache_enabled", [False, True])
def test_a_returned_response_is_freed_without_the_cycle_collector(
    make_client: MakeClient, cache_enabled: bool
) -> None:
    """No reference cycle keeps a read response (and its page body) alive until a GC pass."""
    client = make_client(cache_enabled=cache_enabled)
    response = client.request("GET", ALLOCATION, params={"page_size": 5})
    assert response.status_code == 200 and len(response.json()["results"]) == 5
    assert list(response.iter_bytes()) == [response.content]  # still readable
    gone = weakref.ref(response)
    gc.disable()
    try:
        del response
        assert gone() is None
    finally:
        gc.enable()
