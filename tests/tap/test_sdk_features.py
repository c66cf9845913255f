"""SDK machinery kept on our transport: selection, stream maps, flattening, POST bodies."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import FatalAPIError

from flext_infra.testing import SampleApi
from tap_flext_api import ConfiguredStream, TapFlextApi

from .conftest import PASSWORD, USER, run_in_process, wms_config


def test_deselected_properties_are_dropped(api: SampleApi) -> None:
    """A property deselected in the catalog is absent from every record (fast path bypassed)."""
    config = wms_config(api, entities=["order_hdr"])
    tap = TapFlextApi(config=config)
    catalog = tap.catalog_dict
    tap.close()
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == ["properties", "cust_name"]:
                item["metadata"]["selected"] = False
    run = run_in_process(config, catalog=catalog)
    assert run.error is None, run.error
    records = run.records("order_hdr")
    assert len(records) == 120
    assert all("cust_name" not in r and "cust_city" in r for r in records)


def test_stream_maps_and_flattening_apply(api: SampleApi) -> None:
    """stream_maps (drop, add, alias) and flattening reshape records as the SDK defines."""
    config = wms_config(
        api,
        entities=["order_hdr"],
        stream_maps={
            "order_hdr": {"__alias__": "orders", "cust_zip": None, "nbr_upper": "order_nbr.upper()"}
        },
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    run = run_in_process(config)
    assert run.error is None, run.error
    records = run.records("orders")
    assert len(records) == 120
    first = records[0]
    assert "cust_zip" not in first
    assert first["nbr_upper"] == "ORD000000001"
    assert first["order_type_id__key"] == "RUSH" and "order_type_id" not in first


class _SearchHandler(BaseHTTPRequestHandler):
    """POST /search: pages of a JSON body search, echoing what it was sent."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[dict[str, Any], str | None]] = []

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the stdlib access log off stderr."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((body, self.headers.get("X-Tenant")))
        page = int(body.get("page", 1))
        records = (
            [{"id": page * 10 + i, "region": body["region"]} for i in range(3)] if page <= 2 else []
        )
        data = json.dumps({"items": records}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def search_api() -> Iterator[str]:
    """A loopback search API that only answers POST."""
    _SearchHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SearchHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_post_streams_send_a_body_template_with_paging_in_the_body(search_api: str) -> None:
    """method POST renders the body template and carries page numbers in the body."""
    config = {
        "base_url": search_api,
        "headers": {"X-Tenant": "acme"},
        "streams": [{
            "name": "search", "path": "/search", "method": "POST", "records_path": "$.items",
            "body": {"region": "eu-west", "filters": {"active": True}},
            "paginator": {"type": "page_number"},
            "schema": {"type": "object", "properties": {"id": {"type": "integer"},
                                                          "region": {"type": "string"}}},
        }],
    }  # fmt: skip
    run = run_in_process(config)
    assert run.error is None, run.error
    assert run.ids("search") == [10, 11, 12, 20, 21, 22]
    bodies = [b for b, _ in _SearchHandler.seen]
    assert bodies[0] == {"region": "eu-west", "filters": {"active": True}, "page": 1}
    assert [b["page"] for b in bodies] == [1, 2, 3]
    assert {tenant for _, tenant in _SearchHandler.seen} == {"acme"}


def test_an_injected_container_client_carries_every_request(
    api: SampleApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the container's http_client, the tap sends through it and leaves it open."""
    from flext_infra import Environment, configure_for_testing
    from flext_infra.settings import load_settings

    # An injected client brings its own auth, from FLEXT_API_* (the container's settings).
    monkeypatch.setenv("FLEXT_API_USERNAME", USER)
    monkeypatch.setenv("FLEXT_API_PASSWORD", PASSWORD)
    with configure_for_testing(load_settings(environment=Environment.TEST)) as container:
        client = container.resolve("http_client")
        tap = TapFlextApi(config=wms_config(api, entities=["order_dtl"]), http_client=client)
        buffer_run = run_with_tap(tap)
        tap.close()
        host = api.base_url.split("//", 1)[1]
        assert client.metrics()[host]["requests"] == 4  # describe + 3 pages of 50
        assert len(buffer_run) == 120
        assert client.get(api.base_url + "/health").status_code == 200  # still open


def run_with_tap(tap: TapFlextApi) -> list[dict[str, Any]]:
    """Sync ``tap`` with stdout captured; return its RECORD messages."""
    import io
    from contextlib import redirect_stdout

    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        tap.sync_all()
    buffer.seek(0)
    records = [json.loads(x) for x in buffer.read().splitlines() if '"RECORD"' in x]
    buffer.close()
    return records


class _ErrorBodyStream(ConfiguredStream):
    """An API that reports failures inside 200 bodies, and a post_process hook."""

    def validate_response(self, response: Any) -> None:
        """Raise on an error field in the body, as the SDK hook allows."""
        if b'"error"' in response.content:
            raise FatalAPIError(f"API error in body for {self.name}")

    def post_process(self, row: dict[str, Any], context: Any = None) -> dict[str, Any] | None:
        """Keep odd ids only."""
        return row if row["id"] % 2 else None


class _HookedTap(TapFlextApi):
    generic_stream_class = _ErrorBodyStream


def test_sdk_hooks_on_custom_stream_classes(api: SampleApi, search_api: str) -> None:
    """post_process filters records and validate_response sees every final response."""
    stream = {"name": "items", "path": "/generic/offset/items", "records_path": "$.data",
              "paginator": {"type": "offset", "page_size": 50, "total_path": "$.total"},
              "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}  # fmt: skip
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    tap = _HookedTap(config={"base_url": api.base_url, "username": USER, "password": PASSWORD,
                             "streams": [stream], "trust_schema": True})  # fmt: skip
    try:
        with redirect_stdout(buffer):
            tap.sync_all()
        assert not tap.streams["items"].used_fast_path  # type: ignore[attr-defined]
    finally:
        tap.close()
    buffer.seek(0)
    ids = [json.loads(x)["record"]["id"] for x in buffer.read().splitlines() if '"RECORD"' in x]
    buffer.close()
    assert ids == list(range(1, 121, 2))

    # The search API answers {"items": [...]} bodies; make one carry an error field.
    failing = _HookedTap(config={"base_url": search_api, "streams": [{
        "name": "search", "path": "/search", "method": "POST", "records_path": "$.items",
        "body": {"region": "error"},
        "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}]})  # fmt: skip
    try:
        with pytest.raises(FatalAPIError, match="API error in body for search"):
            failing.sync_all()
    finally:
        failing.close()


def test_cache_enabled_revalidates_unchanged_pages(api: SampleApi) -> None:
    """With cache_enabled, a second read of unchanged pages is revalidated (ETag), same records."""
    config = {**wms_config(api, entities=["order_dtl"]), "cache_enabled": True}
    tap = TapFlextApi(config=config)
    try:
        first = run_with_tap(tap)
        # A second sync through the same client (its cache lives in memory).
        again = TapFlextApi(config=config, http_client=tap.http_client)
        second = run_with_tap(again)
        again.close()
    finally:
        tap.close()
    assert [m["record"] for m in first] == [m["record"] for m in second]
    pages = api.requests.matching("/wms/lgfapi/v10/entity/order_dtl/")
    revalidated = [r for r in pages if r.if_none_match]
    assert revalidated and all(r.status == 304 for r in revalidated)


def test_the_tap_client_follows_the_test_environment_policy(
    api: SampleApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In FLEXT_ENVIRONMENT=test the tap's own client waits for nothing and keeps to loopback."""
    monkeypatch.delenv("FLEXT_API_ZERO_WAITS")
    monkeypatch.delenv("FLEXT_API_LOOPBACK_ONLY")
    monkeypatch.setenv("FLEXT_ENVIRONMENT", "test")
    tap = TapFlextApi(config=wms_config(api, entities=["order_hdr"]))
    try:
        config = tap.http_client.config
        assert (config.zero_waits, config.loopback_only) == (True, True)
    finally:
        tap.close()


def test_unknown_settings_and_variables_are_named_once_with_the_closest_known(
    api: SampleApi, tmp_path: Path
) -> None:
    """A typo in a config key or a FLEXT_* variable is warned about once, with the fix."""
    from .conftest import run_subprocess

    config = wms_config(api, entities=["order_hdr"], max_concurency=4, unheard_of=True)
    run = run_subprocess(config, env={"FLEXT_API_TIMOUT": "5"}, tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    typo = [line for line in lines if "tap.unknown_setting" in line and "max_concurency" in line]
    assert len(typo) == 1 and "did_you_mean=max_concurrency" in typo[0]
    odd = [line for line in lines if "tap.unknown_setting" in line and "unheard_of" in line]
    assert len(odd) == 1 and "did_you_mean=None" in odd[0]
    variable = [line for line in lines if "settings.unknown_variable" in line]
    assert len(variable) == 1 and "FLEXT_API_TIMOUT" in variable[0]
    assert "did_you_mean=FLEXT_API_TIMEOUT" in variable[0]
    assert not [line for line in lines if "unknown" in line and "max_concurrency=" in line]
