"""The one-command demo: sample API -> tap-flext-api -> target-flext-oracle -> SQLite.

Run by ``make demo``. It installs the Meltano plugins, starts the sample API
(the Oracle WMS LGF v10 shape) on loopback, runs ``flext run
incremental-sync-job`` (``meltano run tap-flext-api target-flext-oracle`` in
the ``dev`` environment, recorded in the run ledger), stops the API, and
prints what a newcomer looks for: where the logs are, and the ledger's
summary of the run (streams, records, rejects, duration, the database).
Meltano's and the plugins' logs go to a file, not the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from flext_infra.runs import RunKind, RunLedger, merge_streams
from flext_infra.testing import SampleApi

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PORT = 18765  # the dev environment's base_url in meltano.yml


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip


def summary(ledger: RunLedger, run_id: str, database: Path, log: Path, show: str) -> int:
    """Print the ledger's summary of the run; the run's exit code."""
    run = ledger.get_run(run_id)
    if run is None:
        print(f"the run {run_id} is not in the ledger ({ledger.store.target})", file=sys.stderr)
        return 1
    plugins = [r for r in ledger.linked(run_id) if r.kind is not RunKind.JOB]
    streams = merge_streams(*(r.streams for r in plugins)) or run.streams
    print(f"\nRun {run.run_id}: {run.status} in {run.duration_s or 0:.1f}s "
          f"(exit code {run.exit_code})")  # fmt: skip
    _table(
        [(s.stream, str(s.records_read), str(s.records_loaded), str(s.rejects)) for s in streams],
        ("STREAM", "READ", "LOADED", "REJECTS"),
    )
    print(f"\nDatabase: {database}")
    print(f"Logs:     {log}")
    print(f"Details:  {show} {run.run_id}")
    return run.exit_code or 0


def main(argv: list[str] | None = None) -> int:
    """Install the plugins, serve the sample API, run the job and summarise it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="records per entity")
    parser.add_argument("--output", type=Path, default=ROOT / "output", help="where files go")
    parser.add_argument("--port", type=int, default=DEMO_PORT, help="the sample API's port")
    args = parser.parse_args(argv)

    output: Path = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    database = output / "flext-demo.db"
    log = output / "demo.log"
    # The default place keeps the run where `flext runs` in the project looks
    # (the development environment's data dir); elsewhere, beside the output.
    data_dir = ROOT / ".flext" if output == (ROOT / "output").resolve() else output / ".flext"
    ledger_url = f"sqlite:///{data_dir / 'flext.db'}"
    show = "flext runs show"
    if data_dir != ROOT / ".flext":
        show = f"FLEXT_RUNS_URL={ledger_url} {show}"
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "FLEXT_ENVIRONMENT": "development",
        "FLEXT_DATA_DIR": str(data_dir),
        "FLEXT_RUNS_URL": ledger_url,
        "TARGET_FLEXT_ORACLE_SQLALCHEMY_URL": f"sqlite:///{database}",
    }
    # A new database needs a full load even when Meltano kept a bookmark from an
    # earlier demo; an existing one is brought up to date incrementally (upsert).
    mode = [] if database.exists() else ["--full-refresh"]
    print(f"Logs go to {log}", flush=True)
    with log.open("w", encoding="utf-8") as sink:
        sink.write("$ meltano install\n")
        sink.flush()
        installed = subprocess.run(
            [str(BIN / "meltano"), "install"], cwd=ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
        if installed.returncode != 0:
            print(f"meltano install failed; see {log}", file=sys.stderr)
            return 1
        # The dev environment's credentials for the loopback sample API (not a secret).
        with SampleApi(
            port=args.port, records=args.records, username="demo", password="demo",  # noqa: S106
        ) as api:  # fmt: skip
            env["TAP_FLEXT_API_BASE_URL"] = api.base_url
            print(f"Sample API serving on {api.base_url}; running incremental-sync-job ...",
                  flush=True)  # fmt: skip
            command = [str(BIN / "flext"), "run", "incremental-sync-job", "--json", *mode]
            sink.write(f"$ {' '.join(command)}\n")
            sink.flush()
            done = subprocess.run(
                command, cwd=ROOT, env={**env, "FLEXT_LOG_FORMAT": "console"},
                stdout=subprocess.PIPE, stderr=sink, text=True, check=False,
            )  # fmt: skip
    try:
        run_id = str(json.loads(done.stdout)["run_id"])
    except (ValueError, KeyError, TypeError):
        print(f"flext run failed before recording the run (exit {done.returncode}); see {log}",
              file=sys.stderr)  # fmt: skip
        return done.returncode or 1
    code = summary(RunLedger.from_url(ledger_url), run_id, database, log, show)
    if code:
        print(f"\nThe pipeline did not succeed; the reason is in {log}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
