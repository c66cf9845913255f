"""The pagination safety net on APIs that loop, and the max_pages cap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from flext_infra.testing import SampleApi
from tap_flext_api import MaxPagesExceededError, PaginationLoopError

from .conftest import PASSWORD, USER, generic_stream, run_in_process, run_subprocess


class _LoopingHandler(BaseHTTPRequestHandler):
    """A broken API: the cursor never moves, and ``page`` is ignored."""

    protocol_version = "HTTP/1.1"
    hits = 0

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the stdlib access log off stderr."""

    def do_GET(self) -> None:
        type(self).hits += 1
        url = urlsplit(self.path)
        if url.path == "/stuck-cursor":
            # Fresh records every time, so only the repeated token can reveal the loop.
            body = {"data": [{"id": type(self).hits}], "next_cursor": "always-the-same"}
        else:  # /ignores-page: same body whatever page is asked
            body = {"data": [{"id": 1}, {"id": 2}]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def looping_api() -> Iterator[str]:
    """A tiny loopback server whose pagination never ends by itself."""
    _LoopingHandler.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (
            {"name": "stuck", "path": "/stuck-cursor", "records_path": "$.data",
             "paginator": {"type": "cursor", "cursor_path": "$.next_cursor"}},
            "pagination token repeated",
        ),
        (
            {"name": "same_page", "path": "/ignores-page", "records_path": "$.data",
             "paginator": {"type": "page_number"}},
            "page body identical to the previous page",
        ),
    ],
)  # fmt: skip
def test_looping_api_is_an_error_naming_stream_and_url(
    looping_api: str, stream: dict[str, Any], message: str
) -> None:
    """A repeated token or an identical page stops the run with the stream and URL, quickly."""
    run = run_in_process({"base_url": looping_api, "streams": [{"schema": SCHEMA, **stream}]})
    assert isinstance(run.error, PaginationLoopError)
    text = str(run.error)
    assert message in text
    assert f"stream '{stream['name']}'" in text
    assert f"{looping_api}{stream['path']}" in text
    assert _LoopingHandler.hits <= 3


def test_looping_api_fails_the_subprocess_with_a_clear_message(looping_api: str) -> None:
    """Run as Meltano does, the loop ends the tap with a non-zero exit and the reason on stderr."""
    stream = {
        "name": "stuck",
        "path": "/stuck-cursor",
        "records_path": "$.data",
        "schema": SCHEMA,
        "paginator": {"type": "cursor", "cursor_path": "$.next_cursor"},
    }
    run = run_subprocess({"base_url": looping_api, "streams": [stream]}, timeout=60)
    assert run.returncode != 0
    assert "pagination token repeated" in run.stderr
    assert "stream 'stuck'" in run.stderr


@pytest.mark.parametrize(("on_max", "fails"), [("fail", True), ("stop", False)])
def test_max_pages_caps_a_stream(api: SampleApi, on_max: str, fails: bool) -> None:
    """max_pages stops reading at the cap: an error by default, a clean stop when asked."""
    stream = generic_stream(
        "cursor",
        records_path="$.data",
        params={"limit": 10},
        max_pages=3,
        schema={"type": "object", "properties": {"id": {"type": "integer"}}},
        paginator={"type": "cursor", "cursor_path": "$.next_cursor"},
    )
    config = {"base_url": api.base_url, "username": USER, "password": PASSWORD,
              "streams": [stream], "on_max_pages": on_max}  # fmt: skip
    run = run_in_process(config)
    assert len(api.requests.matching("/generic/cursor/items")) == 3
    if fails:
        assert isinstance(run.error, MaxPagesExceededError)
        assert "max_pages=3" in str(run.error) and "items_cursor" in str(run.error)
    else:
        assert run.error is None
        assert run.ids("items_cursor") == list(range(1, 31))
