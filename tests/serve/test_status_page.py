"""The status page, rendered by headless Chromium."""

from __future__ import annotations

import re

from flext_infra.testing import SampleApi
from tests.serve._browser import dump_dom, screenshot
from tests.serve.conftest import StartServe

TOKEN = "status-page-token-8e2a"


def test_the_status_page_renders_in_chromium_with_jobs_and_readiness(serve: StartServe) -> None:
    """Chromium, answering the Basic prompt with the token, renders every job with its
    schedule and the readiness checks; a screenshot is kept as a test artefact."""
    with SampleApi(records=3) as api:
        server = serve({"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_API_BASE_URL": api.base_url})
        url = server.url.replace("http://", f"http://ops:{TOKEN}@") + "/"
        dom = dump_dom(url)
        shot = screenshot(url, "status-page-jobs.png")
    assert "<title>flext · test · ready</title>" in dom
    jobs = re.findall(r'<tr class="[^"]*" data-job="([^"]+)"', dom)
    assert {"full-sync-job", "incremental-sync-job"} <= set(jobs)
    assert "incremental-sync-every-2-hours (0 */2 * * *)" in dom
    checks = re.search(r'<table id="checks">.*?</table>', dom, re.S)
    assert checks is not None
    for name in ("database", "api", "breakers"):
        assert f"<td>{name}</td>" in checks.group(0)
    assert shot.stat().st_size > 5_000
    assert "<script" not in dom
