"""``flext serve`` tests: the real console script as a uvicorn process on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import isolate_from_flext_environment
from tests.serve._seed import PG_URL, LedgerDb, create_schema, drop_schema, pg_available

FLEXT = str(Path(sys.executable).parent / "flext")
REPO = Path(__file__).resolve().parents[2]

clean_environment = pytest.fixture(autouse=True)(isolate_from_flext_environment)


@dataclass
class Server:
    """A running ``flext serve``: its process, URL and log file."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` (a fresh connection each time)."""
        return httpx.get(self.url + path, timeout=30, **kwargs)

    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far."""
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def wait_log(self, event: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        """The first log line of ``event`` with ``fields``, waiting for it (a request's line
        is written after its response has gone out)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.logs():
                if line.get("event") == event and all(line.get(k) == v for k, v in fields.items()):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} {fields} in the log:\n{self.raw_log()[-3000:]}")
            time.sleep(0.05)

    def raw_log(self) -> str:
        """stderr as written."""
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def start_serve(
    tmp_path: Path, env: dict[str, str] | None = None, *args: str, wait: bool = True
) -> Server:
    """Start ``flext serve --port 0`` in ``tmp_path`` and wait until it answers /health."""
    log_path = tmp_path / f"serve-{time.monotonic_ns()}.log"
    full_env = {
        **os.environ,
        "FLEXT_ENVIRONMENT": "test",
        "FLEXT_LOG_FORMAT": "json",
        **(env or {}),
    }
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            [FLEXT, "serve", "--port", "0", "--project-root", str(REPO), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=full_env,
            cwd=tmp_path,
        )
    server = Server(proc, "", log_path)
    if not wait:
        return server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"flext serve exited {proc.returncode}:\n{server.raw_log()}")
        listening = [e for e in server.logs() if e.get("event") == "serve.listening"]
        if listening and any(e.get("event") == "serve.started" for e in server.logs()):
            server.url = listening[0]["url"]
            return server
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"flext serve did not start:\n{server.raw_log()}")


StartServe = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServe]:
    """Start servers with ``serve(env, *args)``; each is terminated at the end."""
    started: list[Server] = []

    def start(env: dict[str, str] | None = None, *args: str, wait: bool = True) -> Server:
        server = start_serve(tmp_path, env, *args, wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDb]:
    """A ledger in an SQLite file, or in a PostgreSQL schema of its own (dropped after)."""
    if request.param == "sqlite":
        yield LedgerDb(f"sqlite:///{tmp_path / 'ledger.db'}", None)
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (CI starts it)")
    name = create_schema()
    try:
        yield LedgerDb(PG_URL, name)
    finally:
        drop_schema(name)
