"""The sample API's generic paginator modes, its fault injection and its foreground runner."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from flext_infra.testing import GENERIC_MODES, Faults, SampleApi


@pytest.fixture
def open_api() -> Any:
    """A server without auth and 23 generic records."""
    with SampleApi(records=23) as server:
        yield server


def _walk_generic(client: httpx.Client, base: str, mode: str) -> tuple[list[int], int]:
    """Follow one paginator style to the end; return ids seen and requests made."""
    url = f"{base}/generic/{mode}/items"
    params: dict[str, Any] = (
        {"per_page": 5} if mode in ("page", "link", "has_more") else {"limit": 5}
    )
    ids: list[int] = []
    for calls in range(1, 50):
        response = client.get(url, params=params or None)
        response.raise_for_status()
        body = response.json()
        rows = body if mode == "link" else body["data"]
        ids.extend(r["id"] for r in rows)
        if mode == "page":
            assert body["total_pages"] == 5 and body["total"] == 23
            if body["page"] >= body["total_pages"]:
                return ids, calls
            params["page"] = body["page"] + 1
        elif mode == "offset":
            assert body["total"] == 23
            if body["offset"] + body["limit"] >= body["total"]:
                return ids, calls
            params["offset"] = body["offset"] + body["limit"]
        elif mode == "cursor":
            if body["next_cursor"] is None:
                return ids, calls
            params["cursor"] = body["next_cursor"]
        elif mode == "next_url":
            if body["next"] is None:
                return ids, calls
            url, params = body["next"], {}
        elif mode == "link":
            nxt = response.links.get("next")
            if nxt is None:
                assert "last" in response.links and "first" in response.links
                return ids, calls
            url, params = nxt["url"], {}
        else:
            assert "total" not in body
            if not body["has_more"]:
                return ids, calls
            params["page"] = body["page"] + 1
    raise AssertionError("no end")


@pytest.mark.parametrize("mode", GENERIC_MODES)
def test_each_generic_paginator_walks_every_record_once(open_api: SampleApi, mode: str) -> None:
    """page, offset, cursor, next URL, Link header and has_more each yield all records once."""
    with httpx.Client() as client:
        ids, calls = _walk_generic(client, open_api.base_url, mode)
    assert ids == list(range(1, 24))
    assert calls == 5


def test_generic_records_are_the_15_field_mixed_workload(open_api: SampleApi) -> None:
    """Generic items have 15 mixed fields, a nested object and an array among them."""
    with httpx.Client() as client:
        rows = client.get(
            f"{open_api.base_url}/generic/page/items", params={"per_page": 10}
        ).json()["data"]
        body = client.get(
            f"{open_api.base_url}/generic/cursor/items", params={"limit": 23, "has_more": "true"}
        ).json()
    assert all(len(r) == 15 for r in rows)
    assert isinstance(rows[0]["dimensions"], dict) and isinstance(rows[0]["tags"], list)
    assert body["has_more"] is False and body["next_cursor"] is None


def test_generic_filters_follow_updated_at(open_api: SampleApi) -> None:
    """updated_at__gte filters generic items, and modified items move past the bookmark."""
    bookmark = open_api.record("items", 23)["updated_at"]
    open_api.modify_records("items", ids=[4])
    with httpx.Client() as client:
        body = client.get(
            f"{open_api.base_url}/generic/offset/items",
            params={"updated_at__gt": bookmark, "ordering": "updated_at"},
        ).json()
    assert [r["id"] for r in body["data"]] == [4]


def test_fail_next_and_outage(open_api: SampleApi) -> None:
    """fail_next answers N errors then recovers; an outage fails everything, even /health."""
    url = f"{open_api.base_url}/generic/page/items"
    with httpx.Client() as client:
        open_api.set_faults(fail_next=2, fail_status=500)
        assert [client.get(url).status_code for _ in range(3)] == [500, 500, 200]
        open_api.set_faults(outage=True)
        assert client.get(open_api.base_url + "/health").status_code == 503
        assert client.get(url).status_code == 503
        open_api.set_faults()
        assert client.get(url).status_code == 200
    assert [r.fault for r in open_api.requests][:2] == ["status:500", "status:500"]


def test_error_ratio_is_seeded_and_proportional(open_api: SampleApi) -> None:
    """error_ratio=0.5 fails about half the requests, the same ones for the same seed."""
    url = f"{open_api.base_url}/health"
    runs = []
    with httpx.Client() as client:
        for _ in range(2):
            open_api.set_faults(error_ratio=0.5, seed=7, paths=("/health",))
            runs.append([client.get(url).status_code for _ in range(40)])
    assert runs[0] == runs[1]
    failures = sum(s >= 500 for s in runs[0])
    assert 10 <= failures <= 30
    assert {s for s in runs[0] if s >= 500} <= {500, 503}


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_rate_limit_fault_sends_retry_after(open_api: SampleApi, form: str) -> None:
    """429 carries Retry-After as delta-seconds or as an HTTP date in the future."""
    open_api.set_faults(rate_limit_next=1, retry_after=3, retry_after_form=form)
    with httpx.Client() as client:
        response = client.get(f"{open_api.base_url}/generic/page/items")
    assert response.status_code == 429
    value = response.headers["Retry-After"]
    if form == "seconds":
        assert value == "3"
    else:
        delta = parsedate_to_datetime(value).timestamp() - time.time()
        assert 1.5 <= delta <= 3.5


def test_server_rate_limit_sends_hint_headers(open_api: SampleApi) -> None:
    """A fixed-window server limit sends X-RateLimit-* and RateLimit headers, then 429."""
    open_api.set_faults(server_rate_limit=(2, 30.0))
    with httpx.Client() as client:
        responses = [client.get(f"{open_api.base_url}/generic/page/items") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[1].headers["X-RateLimit-Remaining"] == "0"
    assert responses[0].headers["RateLimit-Policy"] == '"default";q=2;w=30'
    assert "r=1" in responses[0].headers["RateLimit"]
    assert int(responses[2].headers["Retry-After"]) > 0


def test_slow_responses_are_delayed(open_api: SampleApi) -> None:
    """slow_s delays each affected response by that long."""
    open_api.set_faults(slow_s=0.3)
    with httpx.Client() as client:
        started = time.perf_counter()
        client.get(f"{open_api.base_url}/generic/page/items").raise_for_status()
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize("fault", ["drop_next", "truncate_next"])
def test_broken_bodies_fail_the_read(open_api: SampleApi, fault: str) -> None:
    """drop cuts a Content-Length body short; truncate stops a chunked JSON body mid-way."""
    open_api.set_faults(**{fault: 1})
    with httpx.Client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{open_api.base_url}/generic/page/items")
        assert client.get(f"{open_api.base_url}/generic/page/items").status_code == 200


def test_etag_and_last_modified_answer_304(open_api: SampleApi) -> None:
    """A matching If-None-Match or a recent If-Modified-Since gets 304; a change gets 200."""
    url = f"{open_api.base_url}/generic/page/items"
    with httpx.Client() as client:
        first = client.get(url)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "no-cache"
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        open_api.modify_records("items", 1)
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 200 and again.headers["ETag"] != etag


def test_oauth_token_endpoint_issues_bearer_tokens() -> None:
    """POST /oauth/token with client credentials gives a token the data endpoints accept."""
    with SampleApi(records=3, oauth_clients={"cid": "csecret-value"}) as api, httpx.Client() as c:
        bad = c.post(
            api.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("cid", "no"),
        )
        assert bad.status_code == 401
        token = c.post(
            api.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("cid", "csecret-value"),
        ).json()
        assert token["token_type"] == "Bearer" and token["expires_in"] > 0
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert c.get(api.wms_url, headers=headers).status_code == 200
        api.revoke_tokens()
        assert c.get(api.wms_url, headers=headers).status_code == 401


def test_set_faults_rejects_unknown_names(open_api: SampleApi) -> None:
    """A typo in a fault name is an error, not a silently healthy server."""
    with pytest.raises(TypeError, match="unknown fault"):
        open_api.set_faults(fail_nxt=1)
    assert open_api.set_faults(Faults(outage=True)).outage is True


def test_only_loopback_addresses_are_accepted() -> None:
    """The sample API refuses to bind anything but loopback."""
    with pytest.raises(ValueError, match="loopback"):
        SampleApi(host="192.0.2.1")


def test_runs_in_the_foreground_as_a_module() -> None:
    """python -m ...sample_api pre-renders, prints its URL, serves, and stops on SIGINT."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "flext_infra.testing.sample_api", "--port", "0"),
            *("--records", "5", "--prerender", "--page-size", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client() as client:
            body = client.get(base_url + "/wms/lgfapi/v10/entity/allocation/").json()
        assert body["result_count"] == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        logged = proc.stderr.read()
        assert logged.count("sample_api.prerendered") == 3 and "pages=3" in logged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
