"""``flext run`` and ``flext jobs`` against a real Meltano project (real ``meltano run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flext_infra.alerts import read_recorded_alerts

from .conftest import Flext


@pytest.mark.meltano
def test_failing_job_exits_non_zero_alerts_then_success_resolves(
    flext: Flext, project: Path, tmp_path: Path
) -> None:
    """A failed meltano run exits 1 and alerts; the next success prints counts and resolves."""
    record_dir = tmp_path / "alerts"
    env = {"FLEXT_ALERT_RECORD_DIR": str(record_dir)}
    failed = flext("run", "bad", "--project-root", str(project), "--json", env=env)
    assert failed.returncode == 1, failed.stderr[-2000:]
    result = json.loads(failed.stdout)
    assert result["status"] == "failed" and result["success"] is False
    assert result["exit_code"] not in (0, None)
    assert result["attempts"] == 1
    assert result["duration_s"] > 0.2  # a real meltano run, not a made-up number
    assert result["records"] == {"s": 3}  # the tap did its part before the target failed
    assert "exited with status" in result["error"]
    assert result["alerts"]["recording"] == "delivered"
    [alert] = read_recorded_alerts(record_dir)
    assert alert["alert_type"] == "pipeline_failure"
    assert alert["pipeline_name"] == "bad"
    assert alert["context"]["exit_code"] == result["exit_code"]

    # The same pipeline succeeding later prints its numbers and sends "resolved".
    yml = project / "meltano.yml"
    yml.write_text(yml.read_text().replace("tap-tiny target-broken", "tap-tiny target-ok"))
    done = flext("run", "bad", "--project-root", str(project), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "status:    success" in done.stdout
    assert "exit code: 0" in done.stdout
    assert "records:   s=3" in done.stdout
    assert float(done.stdout.split("duration:")[1].split("s")[0]) > 0.2
    assert "METRIC" in done.stderr  # Meltano's log is echoed to stderr, never stdout
    assert "METRIC" not in done.stdout
    rows = read_recorded_alerts(record_dir)
    assert len(rows) == 2
    assert rows[1]["context"]["resolved"] is True
    assert rows[1]["alert_type"] == "pipeline_failure"


def test_dry_run_prints_the_command_and_runs_nothing(flext: Flext, project: Path) -> None:
    """--dry-run shows the meltano command, exits 0, and never starts meltano."""
    done = flext("run", "good", "--dry-run", "--project-root", str(project), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "dry_run" and result["attempts"] == 0
    assert result["command"][-2:] == ["run", "good"]
    assert not (project / ".meltano").exists()


def test_unknown_job_is_a_configuration_error(flext: Flext, project: Path) -> None:
    """An unknown job exits 3 and names the jobs that exist."""
    done = flext("run", "goood", "--project-root", str(project))
    assert done.returncode == 3
    assert "'goood'" in done.stderr and "did you mean good" in done.stderr


def test_run_without_a_project_is_a_configuration_error(flext: Flext, tmp_path: Path) -> None:
    """With no meltano.yml anywhere up the tree, run exits 3 and says so."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = flext("run", "good", "--project-root", str(empty))
    assert done.returncode == 3
    assert "no meltano.yml" in done.stderr


def test_jobs_lists_jobs_and_schedules(flext: Flext, project: Path) -> None:
    """flext jobs lists every job with its tasks and every schedule with its interval."""
    text = flext("jobs", cwd=project)
    assert text.returncode == 0, text.stderr
    assert "good" in text.stdout and "tap-tiny target-ok" in text.stdout
    assert "bad-hourly" in text.stdout and "@hourly" in text.stdout
    as_json = flext("jobs", "--project-root", str(project), "--json")
    data = json.loads(as_json.stdout)
    assert [j["name"] for j in data["jobs"]] == ["good", "bad"]
    assert data["schedules"][0] == {
        "name": "good-daily", "interval": "@daily", "job": "good",
        "extractor": None, "loader": None,
    }  # fmt: skip


def test_jobs_of_the_shipped_project(flext: Flext) -> None:
    """flext jobs reads the project's own meltano.yml (upstream job names)."""
    from .conftest import REPO

    if not (REPO / "meltano.yml").is_file():
        pytest.skip("the project meltano.yml is not written yet")
    data = json.loads(flext("jobs", "--json", cwd=REPO).stdout)
    names = {j["name"] for j in data["jobs"]}
    assert {"full-sync-job", "incremental-sync-job"} <= names


def test_usage_errors_exit_2(flext: Flext) -> None:
    """An unknown command or a negative retry count is a usage error."""
    assert flext("nonsense").returncode == 2
    assert flext("run", "x", "--retries", "-1").returncode == 2
