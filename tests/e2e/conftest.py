"""End-to-end fixtures: the project's real meltano.yml, installed once, run for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_URL = os.environ.get(
    "FLEXT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
METRIC = re.compile(r"^(?P<plugin>[\w-]+)\s.*METRIC: (?P<json>\{.*\})")


@dataclass
class MeltanoRun:
    """The outcome of one `meltano` invocation."""

    returncode: int
    stdout: str
    stderr: str

    def metric_counts(self, plugin: str) -> dict[str, int]:
        """Per-stream record_count metrics a plugin logged (the Singer SDK's METRIC lines)."""
        counts: dict[str, int] = {}
        for line in self.stderr.splitlines():
            m = METRIC.search(line.split("] ", 1)[-1].strip())
            if not m or m["plugin"] != plugin:
                continue
            metric = json.loads(m["json"])
            if metric.get("metric") == "record_count":
                stream = metric["tags"]["stream"]
                counts[stream] = counts.get(stream, 0) + int(metric["value"])
        return counts


@dataclass
class MeltanoProject:
    """The project's meltano.yml, run in the `test` environment with isolated state."""

    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 240) -> MeltanoRun:
        """Run `meltano ARGS` in the project root with this test's environment."""
        proc = subprocess.run(
            [str(BIN / "meltano"), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, **self.env},
        )
        return MeltanoRun(proc.returncode, proc.stdout, proc.stderr)

    def point_tap_at(self, base_url: str, username: str, password: str) -> None:
        """Configure the tap through Meltano's TAP_FLEXT_API_* variables."""
        self.env.update(
            TAP_FLEXT_API_BASE_URL=base_url,
            TAP_FLEXT_API_USERNAME=username,
            TAP_FLEXT_API_PASSWORD=password,
        )


@pytest.fixture
def project(meltano_installed: None, tmp_path: Path) -> Iterator[MeltanoProject]:
    """A per-test Meltano system database (so state is isolated) in the test environment."""
    env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "MELTANO_ENVIRONMENT": "test",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "FLEXT_ALERT_RECORD_DIR": str(tmp_path / "alerts"),
        "FLEXT_DATA_DIR": str(tmp_path / "data"),
        "TARGET_FLEXT_ORACLE_SQLALCHEMY_URL": f"sqlite:///{tmp_path}/warehouse.db",
    }
    yield MeltanoProject(tmp_path, env)


def assert_row_matches(source: dict[str, Any], row: dict[str, Any]) -> None:
    """Every source field landed with its value: objects as JSON, falsy values kept."""
    for name, expected in source.items():
        actual = row[name]
        if expected is None:
            assert actual is None, name
        elif isinstance(expected, dict | list):
            loaded = actual if isinstance(actual, dict | list) else json.loads(actual)
            assert loaded == expected, name
        elif isinstance(expected, bool):
            assert actual is not None, name
            assert bool(actual) is expected, name
        elif isinstance(expected, int | float):
            assert Decimal(str(actual)) == Decimal(str(expected)), name
        elif isinstance(expected, str) and re.match(r"\d{4}-\d\d-\d\dT", expected):
            got = actual if isinstance(actual, datetime) else datetime.fromisoformat(str(actual))
            assert got == datetime.fromisoformat(expected), name
        else:
            assert str(actual) == str(expected), name
