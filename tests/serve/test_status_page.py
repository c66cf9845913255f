"""The status page, rendered by headless Chromium from real ledger rows."""

from __future__ import annotations

import re
from pathlib import Path

from flext_infra.testing import SampleApi
from tests.serve._browser import dump_dom, screenshot
from tests.serve._seed import FAILING_JOB, FAILURE, PASSING_JOB, LedgerDb, seed
from tests.serve.conftest import StartServe

TOKEN = "status-page-token-8e2a"


def _row(dom: str, job: str) -> str:
    found = re.search(rf'<tr class="[^"]*" data-job="{re.escape(job)}">.*?</tr>', dom, re.S)
    assert found is not None, f"no row for {job}"
    return found.group(0)


def test_the_status_page_shows_the_seeded_failed_and_succeeded_runs_in_chromium(
    serve: StartServe, tmp_path: Path
) -> None:
    """Chromium, answering the Basic prompt with the token, renders the failed run (red, with
    its error and time) and the succeeded one, the stream charts and the readiness checks;
    the screenshot is kept under .artifacts/."""
    db = LedgerDb(f"sqlite:///{tmp_path / 'ledger.db'}", None)
    seeded = seed(db.ledger())
    with SampleApi(records=3) as api:
        server = serve({"FLEXT_SERVE_TOKEN": TOKEN, "FLEXT_API_BASE_URL": api.base_url, **db.env()})
        url = server.url.replace("http://", f"http://ops:{TOKEN}@") + "/"
        dom = dump_dom(url)
        shot = screenshot(url, "status-page.png", size="1280,1100")
    assert "<title>flext · test · ready</title>" in dom
    failed = _row(dom, FAILING_JOB)
    assert 'class="bad"' in failed and "s-failed" in failed and FAILURE in failed
    assert f'href="/runs/{seeded.failed}"' in failed
    assert "incremental-sync-every-2-hours (0 */2 * * *)" in failed
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", failed), "the start time is shown"
    succeeded = _row(dom, PASSING_JOB)
    assert 'class="bad"' not in succeeded and "s-succeeded" in succeeded
    assert f'href="/runs/{seeded.succeeded}"' in succeeded and "5000" in succeeded
    assert "never run" in _row(dom, "order-dtl-incremental-sync")
    streams = re.search(r'<table id="streams">.*?</table>', dom, re.S)
    assert streams is not None
    charts = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td><svg.*?</svg>", streams.group(0))
    assert (FAILING_JOB, "allocation") in charts and (FAILING_JOB, "order_hdr") in charts
    allocation = re.search(
        rf"<td>{FAILING_JOB}</td><td>allocation</td><td>(<svg.*?</svg>)", streams.group(0)
    )
    assert allocation is not None
    statuses = re.findall(r'data-status="(\w+)"', allocation.group(1))
    assert statuses == ["succeeded"] * 5 + ["failed"], "oldest left, the failure last"
    checks = re.search(r'<table id="checks">.*?</table>', dom, re.S)
    assert checks is not None
    for name in ("database", "api", "breakers"):
        assert f"<td>{name}</td>" in checks.group(0)
    assert "<script" not in dom
    assert shot.stat().st_size > 10_000
