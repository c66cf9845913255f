"""The sample API as a remote, rate-limited API: latency, a token bucket per client, a quota,
LGF paged mode and multi-field ordering, and the counters tests read."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from flext_infra.testing import WMS_PREFIX, Faults, SampleApi

from .conftest import PASSWORD, USER


def _get(api: SampleApi, path: str, **params: Any) -> httpx.Response:
    return httpx.get(api.base_url + path, params=params or None, auth=(USER, PASSWORD), timeout=10)


def test_latency_holds_every_answer_back_and_overlaps_concurrent_requests() -> None:
    """With latency_ms every answer waits that long, and 8 parallel requests wait together."""
    with SampleApi(records=20, username=USER, password=PASSWORD, latency_ms=200) as api:
        started = time.monotonic()
        assert _get(api, "/health").status_code == 200
        assert time.monotonic() - started >= 0.2
        url = api.base_url + WMS_PREFIX + "order_hdr/"
        limits = httpx.Limits(max_connections=8)
        with httpx.Client(auth=(USER, PASSWORD), timeout=10, limits=limits) as client:
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: client.get(url), range(8)))
            elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 8
        # Served one after another they would take 8 x 0.2 s.
        assert elapsed < 1.0, elapsed
        first = api.requests.matching(WMS_PREFIX)[0]
        assert first.at - first.received >= 0.2


def test_a_token_bucket_per_client_answers_429_with_its_headers() -> None:
    """Past its burst a client gets 429 with Retry-After and X-RateLimit-*; others do not."""
    with SampleApi(records=5, api_key=("X-Key", "k1")) as api:
        api.set_faults(client_rate_limit=(2.0, 3))
        url = api.base_url + WMS_PREFIX + "order_hdr/"
        with httpx.Client(headers={"X-Key": "k1"}, timeout=10) as client:
            answers = [client.get(url) for _ in range(5)]
        statuses = [a.status_code for a in answers]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        ok, limited = answers[0], next(a for a in answers if a.status_code == 429)
        assert ok.headers["X-RateLimit-Limit"] == "2"
        assert ok.headers["X-RateLimit-Remaining"] == "2"
        assert "q=2;w=1" in ok.headers["RateLimit-Policy"]
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.headers["Retry-After"] == "1"
        assert 0 < float(limited.headers["X-RateLimit-Reset"]) <= 0.5
        # Another credential has its own bucket (a wrong key is a 401, but not limited).
        other = httpx.get(url, headers={"X-Key": "other"}, timeout=10)
        assert other.status_code == 401
        assert api.requests.rate_limited == statuses.count(429)
        assert api.requests.statuses()[200] == statuses.count(200)
        clients = {r.client for r in api.requests}
        assert len(clients) == 2 and "k1" not in "".join(clients)


def test_the_bucket_refills_at_its_rate() -> None:
    """A client that spent its burst is served again once a token has come back."""
    with SampleApi(records=5) as api:
        api.set_faults(client_rate_limit=(10.0, 1))
        url = api.base_url + WMS_PREFIX + "order_hdr/"
        with httpx.Client(timeout=10) as client:
            assert client.get(url).status_code == 200
            assert client.get(url).status_code == 429
            time.sleep(0.15)
            assert client.get(url).status_code == 200


def test_a_spent_quota_answers_a_long_retry_after() -> None:
    """After `quota` answers every request gets 429 with the quota's long Retry-After."""
    with SampleApi(records=5) as api:
        api.set_faults(quota=3, quota_retry_after=3600)
        url = api.base_url + WMS_PREFIX + "order_hdr/"
        answers = [httpx.get(url, timeout=10) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[3].headers["Retry-After"] == "3600"
        assert answers[3].headers["X-RateLimit-Remaining"] == "0"
        assert httpx.get(api.base_url + "/health", timeout=10).status_code == 200
        api.set_faults()  # the quota is restored
        assert httpx.get(url, timeout=10).status_code == 200


def test_busiest_window_counts_arrivals_as_the_server_saw_them() -> None:
    """The request log's arrival times give the busiest one-second window."""
    with SampleApi(records=5) as api:
        url = api.base_url + WMS_PREFIX + "order_hdr/"
        with httpx.Client(timeout=10) as client:
            for _ in range(4):
                client.get(url)
            time.sleep(1.1)
            client.get(url)
        assert api.requests.busiest_window(1.0, path_prefix=WMS_PREFIX) == 4


def test_lgf_paged_mode_tells_page_count_and_serves_any_page(api: SampleApi) -> None:
    """page_mode=paged answers page_nbr and page_count, and every page can be asked for directly."""
    path = WMS_PREFIX + "allocation/"
    first = _get(api, path, page_mode="paged", page_size=7, ordering="mod_ts,id").json()
    assert (first["page_nbr"], first["page_count"], first["result_count"]) == (1, 4, 25)
    pages = [first]
    pages += [
        _get(api, path, page_mode="paged", page_size=7, ordering="mod_ts,id", page=n).json()
        for n in (4, 2, 3)
    ]
    ids = sorted(r["id"] for p in pages for r in p["results"])
    assert ids == list(range(1, 26))
    assert _get(api, path, page_mode="paged", page_size=7, page=5).status_code == 404


def test_multi_field_ordering_breaks_ties_by_the_next_field(api: SampleApi) -> None:
    """ordering=mod_ts,-id orders records sharing a mod_ts by descending id."""
    moment = "2024-01-01T00:00:05+00:00"
    api.set_mod_ts("order_hdr", [2, 9, 4], moment)
    path = WMS_PREFIX + "order_hdr/"
    for ordering, expected in (("mod_ts,id", [2, 4, 5, 9]), ("mod_ts,-id", [9, 5, 4, 2])):
        body = _get(api, path, ordering=ordering, page_size=25, mod_ts__gte=moment,
                    mod_ts__lte=moment).json()  # fmt: skip
        assert [r["id"] for r in body["results"]] == expected
        assert {r["mod_ts"] for r in body["results"]} == {"2024-01-01T00:00:05.000000+00:00"}
    assert _get(api, path, ordering="mod_ts,nope").status_code == 400


def test_concurrent_clients_are_served_at_once_under_latency() -> None:
    """16 threads with their own connections overlap their latency on the server."""
    with SampleApi(records=20, latency_ms=150) as api:
        url = api.base_url + WMS_PREFIX + "order_dtl/"
        clients = [httpx.Client(timeout=10) for _ in range(16)]
        barrier = threading.Barrier(16)

        def one(client: httpx.Client) -> int:
            barrier.wait()
            return client.get(url).status_code

        try:
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(one, clients))
            elapsed = time.monotonic() - started
        finally:
            for client in clients:
                client.close()
        assert statuses == [200] * 16
        # One after another: 16 x 0.15 s.
        assert elapsed < 1.2, elapsed
        assert api.faults == Faults()
