"""The HTTP cache in Redis (hishel's RedisStorage): expiry, namespaces, credentials, outages."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from flext_infra.http import (
    BasicAuth,
    HttpClientConfig,
    MockTransport,
    Request,
    Response,
    _httpx,
    create_http_client,
)
from flext_infra.http._cache import ExpiringStorage
from flext_infra.settings import ApiSettings
from flext_infra.testing import SampleApi
from tests._seaweedfs import free_ports
from tests.conftest import REDIS_URL
from tests.http.conftest import ALLOCATION, PASSWORD, USER, MakeClient, host

WINDOW = 3600.0


def _keys(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()


def _pttl(key: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.pttl(key))
    finally:
        client.close()


def shared(redis_prefix: str, **extra: Any) -> dict[str, Any]:
    """Client overrides for the Redis cache under this test's prefix."""
    return {"cache_enabled": True, "cache_url": REDIS_URL, "redis_key_prefix": redis_prefix,
            "cache_revalidation_window": WINDOW, **extra}  # fmt: skip


def test_a_second_client_revalidates_what_the_first_stored(
    api: SampleApi, make_client: MakeClient, redis_prefix: str
) -> None:
    """Two clients on one Redis: the second sends If-None-Match, gets a 304, serves the body."""
    first = make_client(**shared(redis_prefix))
    body = first.get(ALLOCATION).content
    second = make_client(**shared(redis_prefix))
    again = second.get(ALLOCATION)
    assert again.content == body and again.status_code == 200
    assert [(r.status, bool(r.if_none_match)) for r in api.requests] == [(200, False), (304, True)]
    metrics = second.metrics()[host(api)]
    assert (metrics["cache_hits"], metrics["cache_revalidations"]) == (1, 1)


def test_an_entry_lives_its_freshness_plus_the_revalidation_window(redis_prefix: str) -> None:
    """max-age=600 is kept 600 s + window; no-cache (always revalidated) only the window."""

    def answer(request: Request) -> Response:
        control = "max-age=600" if request.url.path == "/fresh" else "no-cache"
        return Response(200, headers={"Cache-Control": control, "ETag": '"v1"'}, content=b"{}")

    config = HttpClientConfig(base_url="http://api.test", **shared(redis_prefix))
    with create_http_client(config, transport=MockTransport(answer)) as client:
        client.get("/fresh")
        client.get("/revalidated")
    entries = [k for k in _keys(redis_prefix) if ":entry:" in k]
    ttls = sorted(_pttl(k) / 1000 for k in entries)
    soft_delete = 180  # hishel keeps data keys this much longer for readers in flight
    assert len(ttls) == 2
    assert WINDOW + soft_delete - 5 <= ttls[0] <= WINDOW + soft_delete
    assert WINDOW + 600 + soft_delete - 5 <= ttls[1] <= WINDOW + 600 + soft_delete


def test_environments_do_not_share_entries(
    api: SampleApi, make_client: MakeClient, redis_prefix: str
) -> None:
    """Staging's client misses what production's stored: its keys live under another namespace."""
    production = make_client(**shared(redis_prefix, environment="production"))
    production.get(ALLOCATION)
    staging = make_client(**shared(redis_prefix, environment="staging"))
    staging.get(ALLOCATION)
    assert [r.status for r in api.requests] == [200, 200]
    assert api.requests[1].if_none_match is None
    namespaces = {k.split(":")[1] for k in _keys(redis_prefix)}
    assert namespaces == {"production", "staging"}


def test_another_api_user_does_not_read_this_users_entries(
    api: SampleApi, make_client: MakeClient, redis_prefix: str
) -> None:
    """The namespace carries a digest of the credentials, never the credentials."""
    make_client(**shared(redis_prefix)).get(ALLOCATION)
    other = make_client(**shared(redis_prefix, auth=BasicAuth(USER, PASSWORD + "-other")))
    other.get(ALLOCATION, raise_for_status=False)  # refused (401): what matters is what was asked
    assert api.requests[1].if_none_match is None
    assert not any(PASSWORD in k or USER in k for k in _keys(redis_prefix))


def test_an_unreachable_redis_serves_requests_uncached(
    api: SampleApi, make_client: MakeClient, redis_prefix: str
) -> None:
    """With the cache's Redis down every request still goes through, just without the cache."""
    [closed] = free_ports(1)
    client = make_client(**shared(redis_prefix, cache_url=f"redis://127.0.0.1:{closed}/0"))
    assert client.get(ALLOCATION).status_code == 200
    assert client.get(ALLOCATION).status_code == 200
    assert [(r.status, r.if_none_match) for r in api.requests] == [(200, None), (200, None)]


def test_cache_url_and_namespace_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """FLEXT_API_CACHE_URL is a secret setting; the environment names the cache's namespace."""
    monkeypatch.setenv("FLEXT_API_CACHE_URL", "redis://:pw-in-url-123@127.0.0.1:6379/2")
    monkeypatch.setenv("FLEXT_API_CACHE_REVALIDATION_WINDOW", "120")
    api = ApiSettings()
    assert "pw-in-url-123" not in repr(api)
    config = HttpClientConfig.from_settings(api, environment="staging")
    assert config.cache_url == "redis://:pw-in-url-123@127.0.0.1:6379/2"
    assert (config.cache_revalidation_window, config.environment) == (120.0, "staging")


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [({"Cache-Control": "max-age=60"}, 60), ({"Cache-Control": "s-maxage=5, max-age=7"}, 7),
     ({"Date": "Mon, 01 Jan 2024 00:00:00 GMT", "Expires": "Mon, 01 Jan 2024 00:10:00 GMT"}, 600),
     ({}, None)],
)  # fmt: skip
def test_hishels_freshness_lifetime_still_behaves_as_the_expiry_relies_on(
    headers: dict[str, str], lifetime: int | None
) -> None:
    """hishel's internal get_freshness_lifetime keeps its signature and RFC 9111 answers."""
    import hishel

    response = hishel.Response(status_code=200, headers=hishel.Headers(headers))
    assert _httpx.get_freshness_lifetime(response, is_cache_shared=False) == lifetime
    storage = ExpiringStorage(inner=None, window=10)  # type: ignore[arg-type]
    assert storage.ttl_for(response) == (lifetime or 0) + 10
