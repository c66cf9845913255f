"""Fixtures for the tap: the real sample API on loopback, and ways to run the tap.

The tap runs either in-process (fast, lets a test inspect the HTTP client) or
as the ``tap-flext-api`` subprocess, which is how Meltano runs it. Both get
zero-wait retries and a loopback-only client from ``FLEXT_API_*``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import SampleApi
from tap_flext_api import TapFlextApi

TAP = str(Path(sys.executable).with_name("tap-flext-api"))
USER, PASSWORD = "wms_user", "pw-Secret-4711"

#: The test environment of the HTTP stack, for in-process and subprocess runs alike.
TEST_ENV = {"FLEXT_API_ZERO_WAITS": "true", "FLEXT_API_LOOPBACK_ONLY": "true"}


@pytest.fixture(autouse=True)
def tap_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No stray FLEXT_* variables or .env file; zero waits and loopback only."""
    for name in list(os.environ):
        if name.startswith(("FLEXT_", "TAP_FLEXT_API_")) and not name.startswith("FLEXT_TEST_"):
            monkeypatch.delenv(name)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """The sample API with basic auth and small datasets."""
    with SampleApi(records=120, username=USER, password=PASSWORD) as server:
        yield server


@dataclass
class Run:
    """The outcome of one tap run: exit code, Singer messages, stderr."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str = ""
    error: BaseException | None = None
    tap: TapFlextApi | None = field(default=None, repr=False)

    def records(self, stream: str) -> list[dict[str, Any]]:
        """Every record emitted for ``stream``, in order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str) -> list[int]:
        """The ``id`` of every record emitted for ``stream``, in order."""
        return [r["id"] for r in self.records(stream)]

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE message's value."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def bookmark(self, stream: str) -> Any:
        """The stream's replication_key_value in the last STATE."""
        return self.state["bookmarks"][stream].get("replication_key_value")


def _parse(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_subprocess(
    config: dict[str, Any],
    *args: str,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    tmp: Path | None = None,
    timeout: float = 120,
) -> Run:
    """Run ``tap-flext-api`` as Meltano does: config (and state/catalog) files, stdout captured."""
    where = tmp or Path.cwd()
    config_path = where / "config.json"
    config_path.write_text(json.dumps(config))
    argv = [TAP, "--config", str(config_path), *args]
    if state is not None:
        (where / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(where / "state.json")]
    if catalog is not None:
        (where / "catalog.json").write_text(json.dumps(catalog))
        argv += ["--catalog", str(where / "catalog.json")]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    messages = _parse(proc.stdout) if "--about" not in args and "--discover" not in args else []
    run = Run(proc.returncode, messages, proc.stderr)
    run.stdout = proc.stdout  # type: ignore[attr-defined]
    return run


def run_in_process(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    keep_tap: bool = False,
) -> Run:
    """Sync with a TapFlextApi object; exceptions are captured into ``Run.error``."""
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    try:
        tap = TapFlextApi(config=config, state=state, catalog=catalog)
    except Exception as exc:  # discovery runs in the constructor
        buffer.close()
        return Run(1, [], error=exc)
    error: BaseException | None = None
    try:
        with redirect_stdout(buffer):
            try:
                tap.sync_all()
            except Exception as exc:
                error = exc
    finally:
        if not keep_tap:
            tap.close()
    buffer.seek(0)
    run = Run(0 if error is None else 1, _parse(buffer.read()), error=error)
    buffer.close()
    if keep_tap:
        run.tap = tap
    return run


def wms_config(api: SampleApi, **extra: Any) -> dict[str, Any]:
    """An upstream-style oracle_wms config for ``api``."""
    return {
        "profile": "oracle_wms",
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "page_size": 50,
        **extra,
    }


def generic_stream(mode: str, **extra: Any) -> dict[str, Any]:
    """A stream over the sample API's generic mode ``mode`` (``/generic/{mode}/items``)."""
    return {
        "name": f"items_{mode}",
        "path": f"/generic/{mode}/items",
        "primary_keys": ["id"],
        **extra,
    }
