"""The console script, as Meltano runs it: a real subprocess, Singer on stdin, STATE on stdout."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.target.conftest import DATA

SCRIPT = Path(sys.executable).parent / "target-flext-oracle"


def test_cli_loads_stdin_and_prints_only_state(tmp_path: Path) -> None:
    """stdout carries only STATE lines; logs (with the SQLite path) go to stderr."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"load_method": "upsert", "batch_size": 2}))
    env = {"FLEXT_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [str(SCRIPT), "--config", str(config)],
        input=(DATA / "upsert_run1.singer").read_bytes(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert [json.loads(line) for line in proc.stdout.decode().splitlines()] == [{"run": 1}]
    stderr = proc.stderr.decode()
    assert "target.sqlite_default" in stderr
    db = tmp_path / "data" / "target_flext_oracle.sqlite"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM item").fetchone() == (3,)
    conn.close()


def test_cli_fails_with_the_line_number_of_a_bad_line(tmp_path: Path) -> None:
    """A malformed line makes the process exit non-zero naming the line."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"sqlite_path": str(tmp_path / "t.db")}))
    text = '{"type": "SCHEMA", "stream": "t", "schema": {"properties": {}}}\n{oops\n'
    proc = subprocess.run(
        [str(SCRIPT), "--config", str(config)],
        input=text.encode(),
        capture_output=True,
        env={"FLEXT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "input line 2: malformed JSON" in proc.stderr.decode()
    assert proc.stdout == b""
