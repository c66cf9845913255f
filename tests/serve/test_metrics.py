"""``/metrics``: Prometheus text that prometheus-client's parser reads."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.serve._prometheus import run_prometheus
from tests.serve._seed import FAILING_JOB, PASSING_JOB, LedgerDb, seed
from tests.serve.conftest import StartServe


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def test_metrics_parse_and_count_requests_by_route(serve: StartServe) -> None:
    """The exposition parses; requests are counted by route template, method and status."""
    server = serve()
    for _ in range(3):
        assert server.get("/health").status_code == 200
    server.get("/no-such-page")
    response = server.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    counted = {
        (labels["route"], labels["status"]): value
        for labels, value in samples["flext_serve_requests_total"]
    }
    assert counted[("/health", "200")] == 3
    assert counted[("unmatched", "404")] == 1
    assert samples["process_resident_memory_bytes"][0][1] > 0
    assert any(labels["route"] == "/health" for labels, _ in
               samples["flext_serve_request_duration_seconds_count"])  # fmt: skip


def test_a_real_prometheus_scrapes_the_metrics_with_the_token(
    serve: StartServe, tmp_path: Path
) -> None:
    """Prometheus scrapes a token-protected /metrics and its query API reads the counters back."""
    token = "scrape-token-0d9e"
    server = serve({"FLEXT_SERVE_TOKEN": token, "FLEXT_SERVE_METRICS_REQUIRE_TOKEN": "true"})
    server.get("/health")
    with run_prometheus(tmp_path, server.url.removeprefix("http://"), token=token) as prom:
        found = prom.wait_for('flext_serve_requests_total{route="/health",status="200"}')
        up = prom.query('up{job="flext-serve"}')
    assert float(found[0]["value"][1]) >= 1
    assert up and up[0]["value"][1] == "1"


def test_the_ledger_run_metrics_are_served_and_read_back_through_prometheus(
    serve: StartServe, tmp_path: Path
) -> None:
    """/metrics carries the ledger's run metrics (records, rejects, status, last success),
    and a real Prometheus scraping it answers a run's flext_run_records_total."""
    db = LedgerDb(f"sqlite:///{tmp_path / 'ledger.db'}", None)
    seed(db.ledger())
    server = serve(db.env())
    samples = _samples(server.get("/metrics").text)
    records = {
        (labels["job"], labels["stream"]): value
        for labels, value in samples["flext_run_records_total"]
    }
    # The seeded allocation stream loaded 100, 200, ... 600 records over six runs.
    assert records[(FAILING_JOB, "allocation")] == sum(100 * n for n in range(1, 7))
    assert records[(PASSING_JOB, "allocation")] == 5000
    status = {
        (labels["job"], labels["flext_run_status"]): value
        for labels, value in samples["flext_run_status"]
    }
    assert status[(FAILING_JOB, "failed")] == 1 and status[(PASSING_JOB, "succeeded")] == 1
    assert samples["flext_serve_ledger_up"][0][1] == 1
    with run_prometheus(tmp_path, server.url.removeprefix("http://"), honor_labels=True) as prom:
        found = prom.wait_for(f'flext_run_records_total{{job="{FAILING_JOB}",stream="allocation"}}')
    assert float(found[0]["value"][1]) == 2100


def test_an_unreadable_ledger_costs_its_metrics_not_the_scrape(serve: StartServe) -> None:
    """With the ledger's database down, /metrics still answers 200 with ledger_up 0, the
    ledger routes answer 503, and the status page shows the jobs and says why no runs."""
    server = serve({"FLEXT_RUNS_URL": "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"})
    response = server.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.text)
    assert samples["flext_serve_ledger_up"][0][1] == 0
    assert "flext_run_records_total" not in samples
    assert samples["process_resident_memory_bytes"][0][1] > 0
    runs = server.get("/runs")
    assert runs.status_code == 503 and runs.json()["error"]["code"] == "ledger_unavailable"
    page = server.get("/")
    assert page.status_code == 200 and "the run ledger cannot be read" in page.text
