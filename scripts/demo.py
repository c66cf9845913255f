"""The one-command demo: sample API -> tap-flext-api -> target-flext-oracle -> SQLite.

Run by ``make demo``. It installs the Meltano plugins, starts the sample API
(the Oracle WMS LGF v10 shape) on loopback, runs
``meltano --environment=dev run tap-flext-api target-flext-oracle``, prints the
tables and row counts, and stops the API.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from flext_infra.testing import SampleApi

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PORT = 18765  # the dev environment's base_url in meltano.yml
DATABASE = ROOT / "output" / "flext-demo.db"


def meltano(*args: str, env: dict[str, str] | None = None) -> int:
    """Run the project's meltano with inherited output; return its exit code."""
    cmd = [str(BIN / "meltano"), *args]
    print(f"$ {' '.join(['meltano', *args])}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def summary(path: Path) -> None:
    """Print every table with its row count."""
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        print(f"\nLoaded into SQLite: {path}")
        print(f"{'table':<32} {'rows':>10}")
        for table in tables:
            (count,) = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            print(f"{table:<32} {count:>10}")


def main() -> int:
    """Install the plugins, serve the sample API, run the pipeline and summarise."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="records per entity")
    args = parser.parse_args()

    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if meltano("install", env=env) != 0:
        print("meltano install failed", file=sys.stderr)
        return 1
    DATABASE.parent.mkdir(exist_ok=True)
    # A new database needs a full load even when Meltano kept a bookmark from an
    # earlier demo; an existing one is brought up to date incrementally (upsert).
    mode = [] if DATABASE.exists() else ["--full-refresh"]
    # The dev environment's credentials for the loopback sample API (not a secret).
    with SampleApi(
        port=DEMO_PORT,
        records=args.records,
        username="demo",
        password="demo",  # noqa: S106
    ) as api:
        print(f"sample API serving on {api.base_url}", file=sys.stderr)
        started = time.monotonic()
        code = meltano(
            "--environment=dev", "run", *mode, "tap-flext-api", "target-flext-oracle", env=env
        )
        elapsed = time.monotonic() - started
    print("sample API stopped", file=sys.stderr)
    if code != 0:
        print(f"\nThe pipeline failed (meltano exit code {code}).", file=sys.stderr)
        return code
    summary(DATABASE)
    print(f"\npipeline took {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
