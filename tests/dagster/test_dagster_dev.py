"""`dagster dev -m flext_infra.orchestration.dagster_defs` from the project root, for real."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.conftest import free_port
from tests.dagster.conftest import ROOT

DAGSTER = Path(sys.executable).parent / "dagster"
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  location { name } jobs { name } assetNodes { assetKey { path } }
  schedules { name cronSchedule scheduleState { status } } } } } }"""
JOBS = {"full_sync_job", "incremental_sync_job", "allocation_incremental_sync",
        "order_hdr_incremental_sync", "order_dtl_incremental_sync"}  # fmt: skip


def _repository(url: str) -> dict[str, Any] | None:
    """The code location's repository once the webserver lists its jobs, else None."""
    try:
        answer = httpx.post(url, json={"query": QUERY}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    nodes = (answer.get("data") or {}).get("repositoriesOrError", {}).get("nodes") or []
    for node in nodes:
        if {j["name"] for j in node["jobs"]} >= JOBS:
            return dict(node)
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C as a terminal sends it, then anything left of its process group is killed."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its webserver, daemon and code servers
    proc.wait(timeout=10)


def test_dagster_dev_serves_the_projects_jobs_on_loopback(tmp_path: Path) -> None:
    """dagster dev starts on 127.0.0.1, its GraphQL lists the jobs, schedules and assets."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MELTANO_ENVIRONMENT": "prod"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-m", "flext_infra.orchestration.dagster_defs",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        repository = None
        deadline = time.monotonic() + 180
        while repository is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            repository = _repository(url)
        assert repository is not None, log.read_text()[-3000:]
    finally:
        _stop(proc)
    assert repository["location"]["name"] == "flext_infra.orchestration.dagster_defs"
    assert {a["assetKey"]["path"][-1] for a in repository["assetNodes"]} == {
        "wms_allocation", "wms_order_hdr", "wms_order_dtl",
    }  # fmt: skip
    schedules = {s["name"]: (s["cronSchedule"], s["scheduleState"]["status"])
                 for s in repository["schedules"]}  # fmt: skip
    assert schedules == {
        "full_sync_weekly": ("@weekly", "STOPPED"),
        "incremental_sync_every_2_hours": ("0 */2 * * *", "STOPPED"),
    }
    assert proc.returncode is not None
    with pytest.raises(httpx.ConnectError):  # nothing of it is left listening
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
