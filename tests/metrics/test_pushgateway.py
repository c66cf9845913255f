"""A real `flext run` pushes to a real Pushgateway, which a real Prometheus scrapes.

Debian's ``prometheus-pushgateway`` and ``prometheus`` on free loopback ports
(``.ci/run`` installs both); the metric is read back through Prometheus's HTTP API.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Flext
from tests.serve._prometheus import run_prometheus

pytestmark = pytest.mark.meltano


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A Pushgateway on a free loopback port; its base URL."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-pushgateway is not installed (.ci/run installs it)")
        pytest.skip(
            "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "pushgateway.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "pushgateway.log").read_text()
            assert time.monotonic() < deadline, "the Pushgateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_runs_metrics_reach_prometheus_through_the_pushgateway(
    flext: Flext, project: Path, pushgateway: str, tmp_path: Path
) -> None:
    """flext run pushes its job's metrics; Prometheus scrapes the Pushgateway; the records
    total and the status read back through Prometheus's query API, grouped by job/instance."""
    env = {
        "FLEXT_RUNS_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "FLEXT_METRICS_PUSHGATEWAY_URL": pushgateway,
        "FLEXT_METRICS_INSTANCE": "etl-test-1",
    }
    done = flext("run", "good", "--project-root", str(project), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "metrics.pushed" in done.stderr
    target = pushgateway.removeprefix("http://")
    with run_prometheus(tmp_path, target, honor_labels=True) as prometheus:
        [sample] = prometheus.wait_for('flext_run_records_total{job="good"}')
        assert sample["metric"]["stream"] == "s" and sample["metric"]["instance"] == "etl-test-1"
        assert float(sample["value"][1]) == 3
        [status] = prometheus.wait_for('flext_run_status{job="good",flext_run_status="succeeded"}')
        assert float(status["value"][1]) == 1
        [last] = prometheus.wait_for('flext_run_last_success_timestamp_seconds{job="good"}')
        assert abs(float(last["value"][1]) - time.time()) < 300


@pytest.mark.usefixtures("pushgateway")
def test_an_unreachable_pushgateway_never_fails_the_run(
    flext: Flext, project: Path, tmp_path: Path
) -> None:
    """A push to a closed port is logged; the run still succeeds with exit 0."""
    env = {
        "FLEXT_RUNS_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "FLEXT_METRICS_PUSHGATEWAY_URL": f"http://127.0.0.1:{_free_port()}",
    }
    done = flext("run", "good", "--project-root", str(project), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "metrics.push_failed" in done.stderr
