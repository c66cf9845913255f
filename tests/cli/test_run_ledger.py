"""``flext run`` with the ledger and the lock, against real ``meltano run`` processes.

Each test runs in SQLite and in a PostgreSQL schema (FLEXT_RUNS_URL / FLEXT_RUNS_SCHEMA).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flext_infra.alerts import read_recorded_alerts
from flext_infra.runs import RunLedger, RunStatus

from .conftest import FLEXT, Flext, _base_env

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """FLEXT_RUNS_* pointing at a fresh SQLite file or PostgreSQL schema, alerts recorded."""
    env = {"FLEXT_ALERT_RECORD_DIR": str(tmp_path / "alerts")}
    if request.param == "sqlite":
        env["FLEXT_RUNS_URL"] = f"sqlite:///{tmp_path / 'ledger.db'}"
        yield env
        return
    schema = f"runs_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    env.update(FLEXT_RUNS_URL=PG_URL, FLEXT_RUNS_SCHEMA=schema)
    yield env
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def ledger_of(env: dict[str, str]) -> RunLedger:
    """The ledger the environment names."""
    return RunLedger.from_url(env["FLEXT_RUNS_URL"], schema=env.get("FLEXT_RUNS_SCHEMA"))


def start_flext(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``flext ARGS`` in the background, in its own session."""
    full = {**_base_env(), **env}
    return subprocess.Popen(
        [FLEXT, *args], cwd=cwd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip


def wait_for_running(ledger: RunLedger, job: str, timeout: float = 60) -> str:
    """The run id of ``job``'s running row, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = ledger.list_runs(job=job, status="running", limit=1)
        except Exception:  # the tables may not exist yet
            found = []
        if found:
            return found[0].run_id
        time.sleep(0.1)
    raise AssertionError(f"{job} never started running")


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a background flext; its exit code, stdout and stderr."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.mark.meltano
def test_a_concurrent_run_is_refused_naming_the_holder_and_wait_then_succeeds(
    flext: Flext, project: Path, ledger_env: dict[str, str], tmp_path: Path
) -> None:
    """Two flext runs of one job: the second exits 5 naming the first; --wait runs after it."""
    slow = {**ledger_env, "TINY_TAP_SLEEP": "4"}
    first = start_flext("run", "good", "--project-root", str(project), "--json", "--quiet",
                        env=slow, cwd=tmp_path)  # fmt: skip
    ledger = ledger_of(ledger_env)
    holder = wait_for_running(ledger, "good")

    refused = flext("run", "good", "--project-root", str(project), "--json", env=ledger_env)
    assert refused.returncode == 5, refused.stderr[-2000:]
    result = json.loads(refused.stdout)
    assert result["status"] == "refused" and result["exit_status"] == 5
    expected = f"job good is already running (run {holder}, pid {first.pid} on host "
    assert result["error"].startswith(expected), result["error"]
    assert expected in refused.stderr
    assert result["attempts"] == 0  # meltano was never started

    waiter = start_flext("run", "good", "--project-root", str(project), "--json", "--quiet",
                         "--wait", env=ledger_env, cwd=tmp_path)  # fmt: skip
    code, out, err = finish(first)
    assert code == 0, err[-2000:]
    code, out, err = finish(waiter)
    assert code == 0, err[-2000:]
    waited = json.loads(out)
    assert waited["status"] == "success"

    rows = {r.run_id: r for r in ledger.list_runs(job="good")}
    assert rows[holder].status is RunStatus.SUCCEEDED and rows[holder].exit_code == 0
    assert rows[holder].streams[0].stream == "s" and rows[holder].records_read == 3
    assert rows[holder].duration_s is not None and rows[holder].duration_s > 4
    assert rows[result["run_id"]].status is RunStatus.REFUSED
    assert rows[result["run_id"]].exit_code == 5
    assert rows[waited["run_id"]].status is RunStatus.SUCCEEDED
    # A refused run is not a failed pipeline: no alert at all.
    assert not [
        a
        for a in read_recorded_alerts(tmp_path / "alerts")
        if a["alert_type"] == "pipeline_failure" and not a["context"].get("resolved")
    ]

    listed = flext("runs", "--job", "good", env=ledger_env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "ID", "JOB", "KIND"]
    assert sum(" refused " in line for line in lines) == 1
    assert sum(" succeeded " in line for line in lines) == 2
    shown = flext("runs", "show", holder, env=ledger_env)
    assert shown.returncode == 0, shown.stderr
    assert "status:      succeeded" in shown.stdout
    stream_line = next(line for line in shown.stdout.splitlines() if line.startswith("s "))
    assert stream_line.split()[:2] == ["s", "3"]
    as_json = json.loads(flext("runs", "show", holder, "--json", env=ledger_env).stdout)
    assert as_json["streams"][0]["records_read"] == 3
    missing = flext("runs", "show", "no-such-run", env=ledger_env)
    assert missing.returncode == 1 and "no run no-such-run" in missing.stderr


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@pytest.mark.meltano
def test_a_holder_killed_with_sigkill_frees_the_lock_within_its_ttl(
    flext: Flext, project: Path, ledger_env: dict[str, str], tmp_path: Path
) -> None:
    """A SIGKILLed flext run (and its meltano) blocks the job at most lock_ttl_s; then abandoned."""
    ttl = 3
    env = {**ledger_env, "FLEXT_RUNS_LOCK_TTL_S": str(ttl)}
    holder_proc = start_flext("run", "good", "--project-root", str(project), "--quiet",
                              env={**env, "TINY_TAP_SLEEP": "30"}, cwd=tmp_path)  # fmt: skip
    ledger = ledger_of(ledger_env)
    holder = wait_for_running(ledger, "good")
    deadline = time.monotonic() + 60
    while not any("tap.py" in _cmdline(p) for p in _descendants(holder_proc.pid)):
        assert time.monotonic() < deadline, "the tap never started"
        time.sleep(0.1)  # Meltano has recorded its job once it runs the tap
    for pid in [holder_proc.pid, *_descendants(holder_proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    finish(holder_proc)

    after = flext("run", "good", "--project-root", str(project), "--json", "--wait", "30",
                  env=env)  # fmt: skip
    waited = time.monotonic() - killed_at
    result = json.loads(after.stdout)
    # Our lock let the run through within the TTL; Meltano's own check then refuses it,
    # since its job row is fresh for five minutes: either way a refusal, never a failure.
    assert waited < ttl + 25
    assert result["status"] == "refused", result
    assert result["error"].startswith("refused by Meltano: Another"), result["error"]
    assert after.returncode == 5
    # PostgreSQL frees the lock at once; the row reads abandoned once its TTL has passed.
    time.sleep(max(0.0, killed_at + ttl + 0.5 - time.monotonic()))
    killed = ledger.get_run(holder)
    assert killed is not None and killed.status is RunStatus.ABANDONED
    assert killed.ended_at is None
    listed = flext("runs", "--status", "abandoned", "--json", env=env)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [holder]


@pytest.mark.meltano
def test_a_tap_out_of_quota_makes_the_run_quota_exhausted_not_failed(
    flext: Flext, project: Path, tmp_path: Path
) -> None:
    """The tap exits 75 (quota spent), the target commits: flext exits 75, no failure alert."""
    env = {
        "FLEXT_RUNS_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "FLEXT_ALERT_RECORD_DIR": str(tmp_path / "alerts"),
        "TINY_TAP_EXIT": "75",
    }
    done = flext("run", "good", "--project-root", str(project), "--json", env=env)
    assert done.returncode == 75, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "quota_exhausted" and result["attempts"] == 1
    assert "quota is exhausted" in result["error"]
    run = ledger_of(env).get_run(result["run_id"])
    assert run is not None and run.status is RunStatus.QUOTA_EXHAUSTED and run.exit_code == 75
    assert run.records_read == 3
    assert read_recorded_alerts(tmp_path / "alerts") == []
