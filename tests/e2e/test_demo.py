"""`make demo` is quiet: logs to a file, then the ledger's summary of the run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.meltano


@pytest.mark.usefixtures("meltano_installed")
def test_the_demo_prints_where_the_logs_are_and_the_run_summary(tmp_path: Path) -> None:
    """A dozen lines on stdout, ending with streams, records, rejects, duration and the
    database; Meltano's and the plugins' logs are in the file it names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "MELTANO_"))}
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{tmp_path}/meltano.db"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--records", "20",
         "--output", str(tmp_path / "out"), "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) < 20, done.stdout
    log = tmp_path / "out" / "demo.log"
    assert lines[0] == f"Logs go to {log}"
    assert re.match(r"Run [0-9a-f-]{36}: succeeded in \d+\.\ds \(exit code 0\)$", lines[3])
    table = lines[lines.index("STREAM      READ  LOADED  REJECTS") + 1 :][:3]
    assert [row.split() for row in table] == [
        ["allocation", "20", "20", "0"], ["order_dtl", "20", "20", "0"],
        ["order_hdr", "20", "20", "0"],
    ]  # fmt: skip
    assert lines[-3] == f"Database: {tmp_path / 'out' / 'flext-demo.db'}"
    assert lines[-2] == f"Logs:     {log}"
    shown = lines[-1].removeprefix("Details:  ").split()
    assert shown[:-1] == [f"FLEXT_RUNS_URL=sqlite:///{tmp_path / 'out' / '.flext' / 'flext.db'}",
                          "flext", "runs", "show"]  # fmt: skip
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "flext"), "runs", "show", shown[-1]], cwd=ROOT,
        env={**env, "FLEXT_RUNS_URL": shown[0].split("=", 1)[1]}, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert listed.returncode == 0 and "status:      succeeded" in listed.stdout, listed.stderr
    assert "METRIC" not in done.stdout and "METRIC" in log.read_text()
    assert "Block run completed" in log.read_text()
