"""The orchestrator with a stand-in ``meltano`` script (real subprocesses, no Meltano start-up).

The stand-in prints Meltano-style JSON log lines and exits with a scripted
status, so retries, timeouts, metrics and history are tested in milliseconds;
``test_run.py`` runs the real ``meltano run``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flext_infra.alerts import AlertManager, AlertType, RecordingChannel
from flext_infra.orchestration import (
    JobNotFoundError,
    MeltanoProject,
    Orchestrator,
    RunMetrics,
)

from .conftest import make_project

FAKE_MELTANO = """\
#!{python}
import json, sys, time, pathlib
counter = pathlib.Path(__file__).with_name("calls")
calls = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(calls))
pathlib.Path(__file__).with_name("argv").write_text(json.dumps(sys.argv[1:]))
plan = json.loads(pathlib.Path(__file__).with_name("plan.json").read_text())
metric = {{"type": "counter", "metric": "record_count", "value": 5, "tags": {{"stream": "a"}}}}
print(json.dumps({{"name": "tap-x", "producer": True, "level": "info",
                   "event": "INFO METRIC: " + json.dumps(metric)}}), flush=True)
http = {{"type": "timer", "metric": "http_request_duration", "value": 0.1,
         "tags": {{"http_status_code": 429}}}}
print(json.dumps({{"name": "tap-x", "producer": True, "level": "info",
                   "event": "METRIC: " + json.dumps(http)}}), flush=True)
for extra in plan.get("lines", []):
    print(json.dumps({{"name": "tap-x", "producer": True, "level": "info", "event": extra}}))
for extra in plan.get("relay", []):  # the plugin's own stderr, as Meltano relays it
    print(json.dumps({{"name": "tap-x", "stdio": "stderr", "level": "info", "event": extra}}))
time.sleep(plan.get("sleep", 0))
code = plan["codes"][min(calls, len(plan["codes"])) - 1]
if code:
    print(json.dumps({{"level": "error", "event": "Block run failed: target-y exited 3"}}))
sys.exit(code)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A stand-in meltano executable; write plan.json beside it to script its exit codes."""
    path = tmp_path / "bin" / "meltano"
    path.parent.mkdir()
    path.write_text(FAKE_MELTANO.format(python=sys.executable))
    path.chmod(0o755)
    return path


def _plan(fake: Path, codes: list[int], sleep: float = 0, lines: tuple[str, ...] = ()) -> None:
    plan = {"codes": codes, "sleep": sleep, "lines": list(lines)}
    (fake.parent / "plan.json").write_text(json.dumps(plan))


def _orchestrator(
    fake: Path, tmp_path: Path, **kw: object
) -> tuple[Orchestrator, RecordingChannel, list[float]]:
    root = tmp_path / "project"
    project = MeltanoProject(root if root.exists() else make_project(root))
    channel = RecordingChannel()
    waits: list[float] = []
    orch = Orchestrator(
        project,
        alert_manager=AlertManager([channel], retry_attempts=1),
        meltano_bin=fake,
        sleep=waits.append,
        backoff_s=2.0,
        backoff_max_s=3.0,
        **kw,  # type: ignore[arg-type]
    )
    return orch, channel, waits


def test_retries_until_success_with_bounded_backoff(fake: Path, tmp_path: Path) -> None:
    """Two failures then success: three attempts, waits 2 then 3 (capped), status success."""
    _plan(fake, [1, 1, 0])
    orch, channel, waits = _orchestrator(fake, tmp_path)
    result = orch.run("good", retries=3)
    assert result.success and result.status == "success"
    assert result.attempts == 3
    assert waits == [2.0, 3.0]
    assert result.records == {"a": 5}
    assert (result.http_requests, result.http_429) == (1, 1)
    assert channel.alerts == []  # success first time round: nothing to resolve


def test_failure_after_retries_keeps_the_exit_status_and_alerts(fake: Path, tmp_path: Path) -> None:
    """When every attempt fails, the last exit status and the log's error are reported."""
    _plan(fake, [3])
    orch, channel, _ = _orchestrator(fake, tmp_path, log_dir=tmp_path / "logs")
    result = orch.run("bad", retries=1)
    assert not result.success
    assert (result.status, result.exit_code, result.attempts) == ("failed", 3, 2)
    assert result.error == ("meltano run exited with status 3: Block run failed: target-y exited 3")
    assert result.log_path is not None and "METRIC" in Path(result.log_path).read_text()
    [alert] = channel.alerts
    assert alert.alert_type is AlertType.PIPELINE_FAILURE
    assert alert.pipeline_name == "bad"
    assert result.alerts == {"recording": "delivered"}


def test_a_run_over_its_timeout_is_killed_and_reported(fake: Path, tmp_path: Path) -> None:
    """A run longer than timeout_s is killed, reported timed_out, and raises sync_timeout."""
    _plan(fake, [0], sleep=30)
    orch, channel, _ = _orchestrator(fake, tmp_path, timeout_s=0.5)
    result = orch.run("good")
    assert result.status == "timed_out" and not result.success
    assert result.duration_s < 20
    assert channel.alerts[0].alert_type is AlertType.SYNC_TIMEOUT


def test_upstream_aliases_run_the_right_commands(fake: Path, tmp_path: Path) -> None:
    """run_full_sync adds --full-refresh; run_incremental_sync/run_job run the job as is."""
    _plan(fake, [0])
    orch, _, _ = _orchestrator(fake, tmp_path)
    assert orch.run_full_sync("good").success
    argv = json.loads((fake.parent / "argv").read_text())
    assert argv == ["--log-format=json", "run", "--full-refresh", "good"]
    assert orch.run_incremental_sync("good").success
    assert json.loads((fake.parent / "argv").read_text())[-2:] == ["run", "good"]
    assert orch.run_job("bad").success
    assert [j.name for j in orch.list_jobs()] == ["good", "bad"]


def test_job_status_survives_the_process(fake: Path, tmp_path: Path) -> None:
    """get_job_status reads the last result back from the history file in a new orchestrator."""
    _plan(fake, [2])
    history = tmp_path / "runs.jsonl"
    orch, _, _ = _orchestrator(fake, tmp_path, history_path=history)
    orch.run("bad")
    again, _, _ = _orchestrator(fake, tmp_path, history_path=history)
    status = again.get_job_status("bad")
    assert status is not None and status.status == "failed" and status.exit_code == 2
    assert again.get_job_status("good") is None


def test_unknown_job_raises_before_running_and_alerts(fake: Path, tmp_path: Path) -> None:
    """An unknown job is a configuration error (alerted); meltano is never started."""
    _plan(fake, [0])
    orch, channel, _ = _orchestrator(fake, tmp_path)
    with pytest.raises(JobNotFoundError, match="did you mean good"):
        orch.run("godo")
    assert not (fake.parent / "calls").exists()
    [alert] = channel.alerts
    assert alert.alert_type is AlertType.CONFIGURATION_ERROR
    assert alert.pipeline_name == "godo"


def test_metrics_parse_json_and_plain_metric_lines() -> None:
    """Record counts come from METRIC lines in Meltano JSON logs and in plain text."""
    m = RunMetrics()
    line = {"name": "tap-a", "producer": True, "level": "info",
            "event": 'METRIC: {"type": "counter", "metric": "record_count", "value": 7, '
                     '"tags": {"stream": "orders"}}'}  # fmt: skip
    m.feed(json.dumps(line))
    m.feed(json.dumps({**line, "name": "target-b", "producer": False}))
    m.feed('2024 INFO METRIC: {"type": "counter", "metric": "record_count", "value": 2, '
           '"tags": {"stream": "orders"}} extra=1')  # fmt: skip
    m.feed("not a metric line")
    m.feed('{"event": "METRIC: {broken"}')
    assert m.records == {"orders": 9}
    assert dict(m.loaded) == {"orders": 7}
    assert dict(m.by_plugin["tap-a"]) == {"orders": 7}


def test_project_problems_name_unknown_plugins_and_jobs(tmp_path: Path) -> None:
    """A job using an undeclared plugin, or a schedule naming no job, is reported."""
    root = make_project(tmp_path / "p")
    text = (root / "meltano.yml").read_text()
    text = text.replace("tap-tiny target-ok", "tap-tiny target-missing")
    text = text.replace("job: bad", "job: nope")
    (root / "meltano.yml").write_text(text)
    problems = MeltanoProject(root).problems()
    assert any("unknown plugin 'target-missing'" in p for p in problems)
    assert any("unknown job 'nope'" in p for p in problems)


def test_rejects_are_counted_from_the_validator_metric_lines() -> None:
    """reject_count lines (also inside a plugin's own JSON log line) are counted per stream."""
    m = RunMetrics()
    metric = (
        'METRIC: {"type": "counter", "metric": "reject_count", "value": 4, '
        '"tags": {"stream": "order_dtl", "records": 100}}'
    )
    inner = {"event": metric, "level": "info"}
    m.feed(json.dumps({"name": "target-x", "producer": False, "event": json.dumps(inner)}))
    plain = "2026 [info] " + metric + " logger=flext.metrics"
    m.feed(json.dumps({"name": "target-x", "producer": False, "event": plain}))
    assert dict(m.rejected) == {"order_dtl": 8}


def test_validator_finish_emits_a_reject_metric_line(capsys: pytest.CaptureFixture[str]) -> None:
    """DataValidator.finish logs a Singer-style METRIC line the orchestrator can parse."""
    from flext_infra.observability import configure_logging
    from flext_infra.quality import DataValidator

    configure_logging(level="INFO", fmt="json")
    v = DataValidator()
    v.validate_batch("s", [{"id": 1}, {"id": None}], ["id"])
    v.finish()
    m = RunMetrics()
    for line in capsys.readouterr().err.splitlines():
        m.feed(json.dumps({"name": "target-x", "producer": False, "event": line}))
    assert dict(m.rejected) == {"s": 1}


def test_http_events_are_counted_and_an_open_breaker_alerts(fake: Path, tmp_path: Path) -> None:
    """Retries, 429s, cache hits and breaker openings in the tap's log reach the result."""
    tap_json = json.dumps({"event": "http.breaker.opened", "host": "api.example:443",
                           "level": "warning"})  # fmt: skip
    console = [
        "2026-01-01T00:00:00Z [info     ] http.retry_scheduled   [flext.http] attempt=1 "
        "reason='status 429' wait_s=0.0",
        "2026-01-01T00:00:00Z [info     ] http.retry_scheduled   [flext.http] attempt=2 "
        "reason='status 503' wait_s=0.0",
        "2026-01-01T00:00:00Z [info     ] http.cache.hit   [flext.http] host=api.example:443",
    ]
    _plan(fake, [0], lines=(tap_json, *console))
    orch, channel, _ = _orchestrator(fake, tmp_path)
    result = orch.run("good")
    assert result.success
    assert (result.http_retries, result.cache_hits) == (2, 1)
    assert result.http_429 == 2  # one from the SDK timer line, one from a 429 retry
    assert result.breaker_opened == ("api.example:443",)
    [alert] = channel.alerts
    assert alert.alert_type is AlertType.CONNECTIVITY_FAILURE
    assert alert.stream == "api.example:443"


def test_a_plugins_final_exception_leads_the_failure_message(fake: Path, tmp_path: Path) -> None:
    """The exception a plugin ended with (relayed stderr) comes first and names the stream."""
    m = RunMetrics()
    relayed = {"stdio": "stderr", "type": "discovery", "name": "tap-x", "level": "info"}
    cause = "pkg.http.RetriableHTTPError: HTTP 503 after 4 attempt(s)"
    final = "tap_x._errors.StreamRetriableError: stream 'allocation': retries exhausted"
    for event in ("Traceback (most recent call last):", cause, "Note: not an exception", final):
        m.feed(json.dumps({**relayed, "event": event}))
    m.feed(json.dumps({"level": "info", "event": "ValueError: not a plugin line"}))
    assert m.plugin_errors == [f"tap-x: {final}"]

    orch, _, _ = _orchestrator(fake, tmp_path)
    (fake.parent / "plan.json").write_text(json.dumps({"codes": [1], "relay": [cause, final]}))
    result = orch.run("bad")
    assert result.error is not None
    assert result.error.startswith(f"meltano run exited with status 1: tap-x: {final} | ")
