"""CLI tests: the real ``flext`` console script in subprocesses, and tiny Meltano projects."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FLEXT = str(Path(sys.executable).parent / "flext")
REPO = Path(__file__).resolve().parents[2]

TAP = '''\
#!/usr/bin/env python3
"""A tiny Singer tap: three records of stream s, and the SDK's metric line.

TINY_TAP_SLEEP makes it sleep before its records; TINY_TAP_EXIT sets its exit code.
"""
import json, os, sys, time
if "--discover" in sys.argv or "--about" in sys.argv:
    print(json.dumps({"streams": []}))
    sys.exit(0)
time.sleep(float(os.environ.get("TINY_TAP_SLEEP", "0")))
schema = {"properties": {"id": {"type": "integer"}}}
print(json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}))
for i in range(3):
    print(json.dumps({"type": "RECORD", "stream": "s", "record": {"id": i}}))
metric = {"type": "counter", "metric": "record_count", "value": 3, "tags": {"stream": "s"}}
sys.stderr.write("INFO METRIC: " + json.dumps(metric) + "\\n")
sys.exit(int(os.environ.get("TINY_TAP_EXIT", "0")))
'''

TARGET = '''\
#!/usr/bin/env python3
"""A tiny Singer target: reads everything; exits with the status in its name."""
import sys
lines = sum(1 for _ in sys.stdin)
code = int(sys.argv[0].rsplit("-", 1)[-1].split(".")[0])
if code:
    sys.stderr.write(f"target failed on purpose after {lines} lines\\n")
sys.exit(code)
'''

MELTANO_YML = """\
default_environment: dev
project_id: flext-cli-tests
send_anonymous_usage_stats: false
environments:
- name: dev
- name: test
plugins:
  extractors:
  - name: tap-tiny
    namespace: tap_tiny
    executable: ./tap.py
  loaders:
  - name: target-ok
    namespace: target_ok
    executable: ./target-0.py
  - name: target-broken
    namespace: target_broken
    executable: ./target-3.py
jobs:
- name: good
  tasks:
  - tap-tiny target-ok
- name: bad
  tasks:
  - tap-tiny target-broken
schedules:
- name: good-daily
  interval: '@daily'
  job: good
- name: bad-hourly
  interval: '@hourly'
  job: bad
"""


def make_project(root: Path) -> Path:
    """Write a minimal Meltano project whose plugins are small scripts."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "meltano.yml").write_text(MELTANO_YML)
    for name, text in (("tap.py", TAP), ("target-0.py", TARGET), ("target-3.py", TARGET)):
        path = root / name
        path.write_text(textwrap.dedent(text))
        path.chmod(0o755)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh Meltano project with jobs ``good`` and ``bad``."""
    return make_project(tmp_path / "project")


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "MELTANO_"))}
    env.update(
        FLEXT_ENVIRONMENT="test", MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
    )  # fmt: skip
    return env


Flext = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flext(tmp_path: Path) -> Iterator[Flext]:
    """Run ``flext ARGS`` as a subprocess in a clean environment (FLEXT_ENVIRONMENT=test)."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        full_env = _base_env()
        full_env.update(env or {})
        return subprocess.run(
            [FLEXT, *args], cwd=cwd or tmp_path, env=full_env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip

    yield run
