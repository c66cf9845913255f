"""A real Prometheus server (Debian's ``prometheus``) scraping targets on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest


def prometheus_binary() -> str:
    """The server's path; CI installs it (``.ci/run``), elsewhere the test skips visibly."""
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (.ci/run installs Debian's prometheus)")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    """A running Prometheus: its HTTP API and its log."""

    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` evaluates to now."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll until ``expr`` has at least one sample (the first scrapes take a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(expr)
            if found:
                return found
            time.sleep(0.25)
        targets = httpx.get(f"{self.url}/api/v1/targets", timeout=10).text
        raise AssertionError(f"no sample for {expr} in {timeout}s; targets: {targets[:2000]}")


@contextmanager
def run_prometheus(
    tmp_path: Path,
    target: str,
    *,
    metrics_path: str = "/metrics",
    token: str | None = None,
    honor_labels: bool = False,
) -> Iterator[Prometheus]:
    """Prometheus scraping ``target`` (host:port) every second, stopped on exit.

    ``honor_labels`` keeps the scraped ``job``/``instance`` labels, as a
    Pushgateway's scrape config must.
    """
    binary = prometheus_binary()
    auth = ""
    if token is not None:
        token_file = tmp_path / "token"
        token_file.write_text(token)
        auth = f"    authorization:\n      credentials_file: {token_file}\n"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: flext-serve\n"
        f"    metrics_path: {metrics_path}\n"
        f"    honor_labels: {'true' if honor_labels else 'false'}\n"
        f"{auth}"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = _free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited {proc.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
