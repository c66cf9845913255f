"""Run metrics derived from the ledger, HTTP metrics from a client, and the textfile output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flext_infra.metrics import HttpCollector, LedgerCollector, push_metrics, textfile_name
from flext_infra.runs import RunLedger, RunStatus, StreamRun
from flext_infra.settings import MetricsSettings
from tests.runs.conftest import Clock


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def ledger(tmp_path: Path) -> RunLedger:
    """A ledger with two runs of ``nightly`` (a failure, then a success) and one of ``other``."""
    clock = Clock()
    ledger = RunLedger.for_sqlite(tmp_path / "l.db", clock=clock)
    first = ledger.start("nightly")
    clock.advance(10)
    orders = StreamRun("orders", records_read=5, records_loaded=4, rejects=1)
    ledger.finish(first.run_id, RunStatus.FAILED, 1, streams=[orders])
    clock.advance(50)
    second = ledger.start("nightly")
    clock.advance(30)
    ledger.finish(second.run_id, RunStatus.SUCCEEDED, 0,
                  streams=[StreamRun("orders", records_read=7, records_loaded=7),
                           StreamRun("lines", records_read=0, records_loaded=0)])  # fmt: skip
    ledger.start("other")  # still running
    ledger.success_at = clock.now  # type: ignore[attr-defined]
    return ledger


def test_run_metrics_are_derived_from_the_ledger(ledger: RunLedger) -> None:
    """Records and rejects total over runs; the newest run's duration, status, last success."""
    registry = CollectorRegistry()
    registry.register(LedgerCollector(ledger))
    got = _samples(generate_latest(registry).decode())
    assert got[("flext_run_records_total", (("job", "nightly"), ("stream", "orders")))] == 11
    assert got[("flext_run_records_total", (("job", "nightly"), ("stream", "lines")))] == 0
    assert got[("flext_run_rejects_total", (("job", "nightly"), ("stream", "orders")))] == 1
    assert got[("flext_run_duration_seconds", (("job", "nightly"),))] == 30
    success_at = ledger.success_at.timestamp()  # type: ignore[attr-defined]
    assert got[("flext_run_last_success_timestamp_seconds", (("job", "nightly"),))] == success_at
    status = (("flext_run_status", "succeeded"), ("job", "nightly"))
    assert got[("flext_run_status", status)] == 1
    assert got[("flext_run_status", (("flext_run_status", "failed"), ("job", "nightly")))] == 0
    assert got[("flext_run_status", (("flext_run_status", "running"), ("job", "other")))] == 1
    assert got[("flext_runs_total", (("job", "nightly"), ("status", "failed")))] == 1
    assert ("flext_run_last_success_timestamp_seconds", (("job", "other"),)) not in got


def test_one_job_only(ledger: RunLedger) -> None:
    """LedgerCollector(job=...) exports that job alone (what flext run pushes)."""
    registry = CollectorRegistry()
    registry.register(LedgerCollector(ledger, job="other"))
    jobs = {dict(k[1]).get("job") for k in _samples(generate_latest(registry).decode())}
    assert jobs == {"other"}


def test_http_metrics_come_from_the_client_snapshot() -> None:
    """Attempts by outcome, retries, 429s and the breaker state, per host."""
    snapshot: dict[str, dict[str, Any]] = {
        "api:443": {"responses_2xx": 9, "responses_4xx": 2, "network_errors": 1, "retries": 3,
                    "status_429": 2, "breaker_state": "open"},
    }  # fmt: skip
    registry = CollectorRegistry()
    registry.register(HttpCollector(lambda: snapshot))
    got = _samples(generate_latest(registry).decode())
    host = ("host", "api:443")
    assert got[("flext_http_requests_total", (host, ("outcome", "2xx")))] == 9
    assert got[("flext_http_requests_total", (host, ("outcome", "network_error")))] == 1
    assert got[("flext_http_requests_total", (host, ("outcome", "5xx")))] == 0
    assert got[("flext_http_retries_total", (host,))] == 3
    assert got[("flext_http_rate_limited_total", (host,))] == 2
    assert got[("flext_http_breaker_open", (host,))] == 1


def test_the_textfile_is_written_atomically_and_parses(ledger: RunLedger, tmp_path: Path) -> None:
    """FLEXT_METRICS_TEXTFILE_DIR: <dir>/flext_<job>.prom, valid for prometheus-client's parser."""
    settings = MetricsSettings(textfile_dir=tmp_path / "textfiles")
    done = push_metrics(settings, "nightly job/x", [LedgerCollector(ledger, job="nightly")])
    path = tmp_path / "textfiles" / textfile_name("nightly job/x")
    assert done == [str(path)] and path.name == "flext_nightly_job_x.prom"
    got = _samples(path.read_text())
    assert got[("flext_run_records_total", (("job", "nightly"), ("stream", "orders")))] == 11
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind


def test_a_failing_push_is_logged_and_never_raises(ledger: RunLedger, tmp_path: Path) -> None:
    """An unreachable Pushgateway and an unwritable textfile directory: nothing raises."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = MetricsSettings(pushgateway_url="http://127.0.0.1:1", textfile_dir=blocker / "x",
                               push_timeout_s=2)  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        assert push_metrics(settings, "nightly", [LedgerCollector(ledger, job="nightly")]) == []
    failed = [e for e in logs if e["event"] == "metrics.push_failed"]
    assert [e["to"] for e in failed] == ["pushgateway", "textfile"]


def test_nothing_is_pushed_unless_configured(ledger: RunLedger) -> None:
    """With neither setting, push_metrics does nothing."""
    assert push_metrics(MetricsSettings(), "nightly", [LedgerCollector(ledger)]) == []


def test_the_tap_writes_its_run_and_http_metrics_to_the_textfile(tmp_path: Path) -> None:
    """A tap run with FLEXT_METRICS_TEXTFILE_DIR leaves flext_tap-flext-api.prom holding its
    records and its HTTP attempts per host, valid for prometheus-client's parser."""
    import json
    import subprocess

    from flext_infra.testing import SampleApi
    from tests.reliability._pipeline import TAP, base_env

    with SampleApi(counts={"allocation": 250}, username="u", password="p") as api:
        config = {"profile": "oracle_wms", "base_url": api.base_url, "username": "u",
                  "password": "p", "entities": ["allocation"], "page_size": 100}  # fmt: skip
        (tmp_path / "tap.json").write_text(json.dumps(config))
        env = base_env(FLEXT_RUNS_URL=f"sqlite:///{tmp_path / 'l.db'}",
                       FLEXT_METRICS_TEXTFILE_DIR=str(tmp_path / "prom"))  # fmt: skip
        done = subprocess.run([TAP, "--config", str(tmp_path / "tap.json")], env=env,
                              capture_output=True, timeout=120, check=False)  # fmt: skip
        host = api.base_url.removeprefix("http://")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    got = _samples((tmp_path / "prom" / "flext_tap-flext-api.prom").read_text())
    job = ("job", "tap-flext-api")
    assert got[("flext_run_records_total", (job, ("stream", "allocation")))] == 250
    assert got[("flext_http_requests_total", (("host", host), ("outcome", "2xx")))] >= 3
    assert got[("flext_http_breaker_open", (("host", host),))] == 0


def test_registering_the_collector_reads_no_database(tmp_path: Path) -> None:
    """describe() names the families without a query: a registry (auto_describe, as flext
    serve's) can take the collector before the ledger's database is up."""
    unreachable = RunLedger.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none")
    registry = CollectorRegistry(auto_describe=True)
    registry.register(LedgerCollector(unreachable))
    names = {m.name for m in LedgerCollector(unreachable).describe()}
    assert {"flext_run_records", "flext_run_status", "flext_run_duration_seconds"} <= names
