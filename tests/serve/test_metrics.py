"""``/metrics``: Prometheus text that prometheus-client's parser reads."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.serve._prometheus import run_prometheus
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
