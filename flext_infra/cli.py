"""The ``flext`` command: health, validate, config, jobs, run, runs, sample-api and serve.

Exit codes (every command; the table is :class:`flext_infra.ExitCode`):

| Code | Meaning                                                                  |
|------|--------------------------------------------------------------------------|
| 0    | Success: healthy, valid, or the job succeeded.                           |
| 1    | The check or job failed: unhealthy service, invalid config, failed run.  |
| 2    | Usage error (unknown command or option).                                 |
| 3    | Configuration error: invalid settings, no meltano.yml, unknown job.      |
| 4    | A required tool is missing (meltano, the sample API).                    |
| 5    | ``run``: refused, another run of the job holds its lock.                 |
| 75   | ``run``: the API quota is exhausted; the run stopped cleanly, resumable. |
| 124  | ``run``: ``--timeout`` ran out.                                          |
| 130  | Interrupted (SIGINT, Ctrl-C).                                            |
| 143  | Terminated (SIGTERM).                                                    |

Results go to stdout (``--json`` for machines); logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError
from flext_infra._exit import ExitCode
from flext_infra.observability import configure_logging, get_logger
from flext_infra.runtime import Terminated, stop_on_signals

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_MISSING, EXIT_INTERRUPTED = (
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.CONFIG,
    ExitCode.MISSING,
    ExitCode.INTERRUPTED,
)

log = get_logger("flext.cli")


def _print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _load(env: str | None) -> Any:
    from flext_infra.settings import load_settings

    settings = load_settings(environment=env)
    configure_logging(settings)
    return settings


# ---------------------------------------------------------------------- health
def cmd_health(args: argparse.Namespace) -> int:
    """Ping the database, the API base URL, the breakers and the alert channels."""
    from flext_infra.environments import FlextContainer
    from flext_infra.health import readiness

    settings = _load(args.env)
    container = FlextContainer.for_environment(settings.environment, settings)
    rows: list[tuple[str, str, str]] = []
    try:
        rows.extend((c.name, str(c.status), c.detail) for c in readiness(container))
    finally:
        try:
            container.dispose()
        except Exception as exc:  # a failing cleanup is reported, not hidden
            rows.append(("dispose", "unhealthy", f"{type(exc).__name__}: {exc}"))
    bad = [r for r in rows if r[1] == "unhealthy"]
    if args.json:
        print(json.dumps({"environment": str(settings.environment), "ok": not bad,
                          "checks": [dict(zip(("name", "status", "detail"), r, strict=True))
                                     for r in rows]}))  # fmt: skip
    else:
        print(f"environment: {settings.environment}")
        _print_table(rows, ("CHECK", "STATUS", "DETAIL"))
    return EXIT_FAILED if bad else EXIT_OK


# -------------------------------------------------------------------- validate
def cmd_validate(args: argparse.Namespace) -> int:
    """Validate settings and the container graph; also rules files and meltano.yml."""
    from flext_infra.environments import validate_environment
    from flext_infra.quality import load_rules

    configure_logging(level="WARNING")
    envs = list(Environment) if args.all else [Environment(args.env or Environment.current())]
    problems: dict[str, list[str]] = {}
    for env in envs:
        report = validate_environment(env)
        problems[str(env)] = report.problems()
    root = _project_root(args)
    shared: list[str] = []
    rule_files = [Path(p) for p in args.rules] if args.rules else _default_rule_files(root)
    for path in rule_files:
        try:
            load_rules(path)
        except ConfigurationError as exc:
            shared.extend(exc.problems)
    if root is not None and (root / "meltano.yml").is_file():
        from flext_infra.orchestration import MeltanoProject

        try:
            shared.extend(MeltanoProject(root).problems())
        except ConfigurationError as exc:
            shared.extend(exc.problems)
    ok = not shared and not any(problems.values())
    if args.json:
        print(json.dumps({"ok": ok, "environments": problems, "project": shared,
                          "rules_files": [str(p) for p in rule_files]}))  # fmt: skip
    else:
        for env_name, lines in problems.items():
            print(f"{env_name}: {'ok' if not lines else 'INVALID'}")
            for line in lines:
                print(f"  - {line}")
        for path in rule_files:
            print(f"rules {path}: checked")
        if shared:
            print("project: INVALID")
            for line in shared:
                print(f"  - {line}")
    return EXIT_OK if ok else EXIT_FAILED


def _project_root(args: argparse.Namespace) -> Path | None:
    if getattr(args, "project_root", None):
        return Path(args.project_root)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "meltano.yml").is_file():
            return folder
    return None


def _default_rule_files(root: Path | None) -> list[Path]:
    base = root or Path.cwd()
    folder = base / "config" / "validation"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


# ---------------------------------------------------------------------- config
def _sources() -> tuple[dict[str, str], Path, dict[str, str], Path | None]:
    from dotenv import dotenv_values

    env_file = Path(os.environ.get("FLEXT_ENV_FILE") or ".env")
    dotenv: dict[str, str] = {}
    if env_file.is_file():
        dotenv = {k.upper(): str(v) for k, v in dotenv_values(env_file).items() if v is not None}
    secrets_dir = os.environ.get("FLEXT_SECRETS_DIR")
    environ = {k.upper(): v for k, v in os.environ.items()}
    return environ, env_file, dotenv, Path(secrets_dir) if secrets_dir else None


def _source_of(
    var: str, environ: dict[str, str], env_file: Path, dotenv: dict[str, str],
    secrets: Path | None,
) -> str:  # fmt: skip
    # The order pydantic-settings reads them in: environment, .env, secrets dir, default.
    if var in environ:
        return "env var"
    if var in dotenv:
        return f".env file {env_file}"
    if secrets is not None and secrets.is_dir():
        for candidate in (var, var.lower()):
            if (secrets / candidate).is_file():
                return f"secrets dir {secrets}"
    return "default"


def cmd_config(args: argparse.Namespace) -> int:
    """Show the effective settings and where each came from."""
    settings = _load(args.env)
    environ, env_file, dotenv, secrets = _sources()
    rows: list[dict[str, Any]] = []
    for group in settings.groups().values():
        for field in type(group).model_fields:
            value = getattr(group, field)
            var = type(group).variable(field)
            secret = isinstance(value, SecretStr)
            if secret and value is not None:
                shown: Any = value.get_secret_value() if args.show_secrets else "**********"
            else:
                shown = value
            source = _source_of(var, environ, env_file, dotenv, secrets)
            if var == "FLEXT_ENVIRONMENT" and args.env:
                source = "--env argument"
            rows.append(
                {
                    "variable": var,
                    "value": shown if isinstance(shown, int | float | bool | None) else str(shown),
                    "source": source,
                    "secret": secret,
                }
            )
    if not args.show_secrets:
        from flext_infra.observability import redact

        for row in rows:
            row["value"] = redact(row["value"])
    if args.json:
        print(json.dumps(rows))
    else:
        _print_table(
            [(r["variable"], "" if r["value"] is None else str(r["value"]), r["source"])
             for r in rows],
            ("VARIABLE", "VALUE", "SOURCE"),
        )  # fmt: skip
    return EXIT_OK


# ------------------------------------------------------------------------ jobs
def cmd_jobs(args: argparse.Namespace) -> int:
    """List the Meltano jobs and schedules."""
    from flext_infra.orchestration import MeltanoProject

    configure_logging(level="WARNING")
    project = MeltanoProject.find(args.project_root)
    jobs, schedules = project.jobs(), project.schedules()
    if args.json:
        print(json.dumps({
            "project": str(project.root),
            "jobs": [{"name": j.name, "tasks": list(j.tasks)} for j in jobs],
            "schedules": [s.__dict__ for s in schedules],
        }))  # fmt: skip
        return EXIT_OK
    print(f"project: {project.root}")
    print("\nJOBS")
    _print_table([(j.name, " ; ".join(j.tasks)) for j in jobs], ("NAME", "TASKS"))
    print("\nSCHEDULES")
    _print_table(
        [(s.name, s.interval, s.job or f"{s.extractor} -> {s.loader}") for s in schedules],
        ("NAME", "INTERVAL", "JOB"),
    )
    return EXIT_OK


# ------------------------------------------------------------------------- run
_MELTANO_ENVS = {
    Environment.DEVELOPMENT: "dev",
    Environment.PRODUCTION: "prod",
    Environment.STAGING: "staging",
    Environment.TEST: "test",
}


def cmd_run(args: argparse.Namespace) -> int:
    """Run a Meltano job with honest results, recorded in the ledger under its lock.

    SIGTERM and SIGINT become :class:`Terminated` here: the run stops Meltano's
    process group gracefully, is recorded as terminated and exits 143 or 130.
    """
    with stop_on_signals():
        return _run_job(args)


def _run_job(args: argparse.Namespace) -> int:
    from flext_infra.environments import FlextContainer
    from flext_infra.orchestration import MeltanoProject, Orchestrator

    settings = _load(args.env)
    project = MeltanoProject.find(args.project_root)
    container = FlextContainer.for_environment(settings.environment, settings)
    try:
        orchestrator: Orchestrator = container.resolve("orchestrator")
        orchestrator.project = project
        orchestrator.meltano_bin = args.meltano
        orchestrator.echo = not args.quiet
        orchestrator.timeout_s = args.timeout
        if args.env:
            orchestrator.meltano_environment = _MELTANO_ENVS[Environment(args.env)]
        result = orchestrator.run(
            args.job,
            retries=args.retries,
            dry_run=args.dry_run,
            full_refresh=args.full_refresh,
            wait_s=0.0 if args.wait is None else args.wait,
            trigger=args.trigger,
        )
    finally:
        container.dispose()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"job:       {result.job}")
        if result.run_id:
            print(f"run id:    {result.run_id}")
        print(f"status:    {result.status}")
        print(f"exit code: {result.exit_code}")
        print(f"attempts:  {result.attempts}")
        print(f"duration:  {result.duration_s:.3f}s")
        print(f"command:   {' '.join(result.command)}")
        for stream, count in sorted(result.records.items()):
            print(f"records:   {stream}={count}")
        for stream, count in sorted(result.rejects.items()):
            print(f"rejects:   {stream}={count}")
        if result.http_retries or result.http_429 or result.cache_hits:
            print(f"http:      retries={result.http_retries} 429s={result.http_429} "
                  f"cache_hits={result.cache_hits}")  # fmt: skip
        for host in result.breaker_opened:
            print(f"breaker:   opened for {host}")
        if result.error:
            print(f"error:     {result.error}")
        for channel, status in result.alerts.items():
            print(f"alert:     {channel}={status}")
    if result.status == "refused":
        print(f"error: {result.error}", file=sys.stderr)
    return result.exit_status


# ------------------------------------------------------------------------ runs
def _ledger_container(args: argparse.Namespace) -> Any:
    from flext_infra.environments import FlextContainer

    settings = _load(args.env)
    return FlextContainer.for_environment(settings.environment, settings, subsystems=("runs",))


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def cmd_runs(args: argparse.Namespace) -> int:
    """List runs from the ledger, newest first."""
    from flext_infra.runs import RunLedger

    container = _ledger_container(args)
    try:
        ledger: RunLedger = container.resolve("run_ledger")
        runs = ledger.list_runs(job=args.job, status=args.status, limit=args.limit,
                                offset=args.offset)  # fmt: skip
    finally:
        container.dispose()
    if args.json:
        print(json.dumps([r.to_dict() for r in runs]))
        return EXIT_OK
    if not runs:
        print("no runs recorded")
        return EXIT_OK
    _print_table(
        [
            (r.run_id, r.job, str(r.kind), str(r.status),
             "" if r.exit_code is None else str(r.exit_code),
             r.started_at.strftime("%Y-%m-%d %H:%M:%S"), _duration(r.duration_s),
             str(r.records_read), str(r.records_loaded), str(r.rejects), str(r.trigger))
            for r in runs
        ],
        ("RUN ID", "JOB", "KIND", "STATUS", "EXIT", "STARTED (UTC)", "DURATION", "READ",
         "LOADED", "REJECTS", "TRIGGER"),
    )  # fmt: skip
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    """Show one run and its streams."""
    from flext_infra.runs import RunLedger, RunRecord, iso

    container = _ledger_container(args)
    try:
        ledger: RunLedger = container.resolve("run_ledger")
        run: RunRecord | None = ledger.get_run(args.run_id)
        linked = ledger.linked(run.link_id) if run is not None and run.link_id else []
    finally:
        container.dispose()
    if run is None:
        print(f"error: no run {args.run_id} in the ledger", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(run.to_dict()))
        return EXIT_OK
    rows = [
        ("run id", run.run_id), ("job", run.job), ("kind", str(run.kind)),
        ("status", str(run.status)),
        ("exit code", "" if run.exit_code is None else str(run.exit_code)),
        ("environment", run.environment), ("trigger", str(run.trigger)),
        ("host", run.host), ("user", run.os_user), ("pid", str(run.pid)),
        ("started", iso(run.started_at) or ""), ("ended", iso(run.ended_at) or "-"),
        ("duration", _duration(run.duration_s)), ("attempts", str(run.attempts)),
    ]  # fmt: skip
    if run.status in ("running", "abandoned"):
        rows.append(("heartbeat", iso(run.heartbeat_at) or "-"))
    if run.link_id:
        rows.append(("meltano run", run.link_id))
    if run.log_path:
        rows.append(("log", run.log_path))
    if run.error:
        rows.append(("error", run.error))
    for name, value in rows:
        print(f"{name + ':':<13}{value}")
    print()
    if run.streams:
        _print_table(
            [(s.stream, str(s.records_read), str(s.records_loaded), str(s.rejects),
              str(s.retries), str(s.rate_limited), s.bookmark_before or "-",
              s.bookmark_after or "-") for s in run.streams],
            ("STREAM", "READ", "LOADED", "REJECTS", "RETRIES", "429S", "BOOKMARK BEFORE",
             "BOOKMARK AFTER"),
        )  # fmt: skip
    else:
        print("no streams recorded")
    others = [r for r in linked if r.run_id != run.run_id]
    if others:
        print("\nlinked runs")
        _print_table(
            [(r.run_id, r.job, str(r.kind), str(r.status),
              "" if r.exit_code is None else str(r.exit_code)) for r in others],
            ("RUN ID", "JOB", "KIND", "STATUS", "EXIT"),
        )  # fmt: skip
    return EXIT_OK


def cmd_runs_prune(args: argparse.Namespace) -> int:
    """Delete finished runs older than the retention."""
    container = _ledger_container(args)
    try:
        removed = container.resolve("run_ledger").prune(args.days)
    finally:
        container.dispose()
    print(f"pruned {removed} runs")
    return EXIT_OK


# ------------------------------------------------------------------ sample-api
def cmd_sample_api(args: argparse.Namespace) -> int:
    """Serve the sample API in the foreground."""
    try:
        from flext_infra.testing import sample_api
    except ImportError as exc:  # pragma: no cover - shipped in the same package
        print(f"error: the sample API is not available: {exc}", file=sys.stderr)
        return EXIT_MISSING
    argv = ["--host", args.host, "--port", str(args.port), "--records", str(args.records)]
    if args.username is not None:
        argv += ["--username", args.username, "--password", args.password or ""]
    return int(sample_api.main(argv))


# ----------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    """Serve health, readiness, metrics, the ledger and the status page until stopped."""
    try:
        from flext_infra.serve import serve
    except ImportError as exc:
        print(
            f"error: flext serve needs the serve extra (pip install 'flext-meltano[serve]'): {exc}",
            file=sys.stderr,
        )
        return EXIT_MISSING
    from flext_infra.environments import FlextContainer
    from flext_infra.orchestration import MeltanoProject

    settings = _load(args.env)
    root = args.project_root or settings.serve.project_root
    project = MeltanoProject.find(root)
    container = FlextContainer.for_environment(settings.environment, settings)
    try:
        serve(
            container,
            host=args.host or settings.serve.host,
            port=settings.serve.port if args.port is None else args.port,
            project=project,
            graceful_timeout=settings.serve.graceful_timeout,
        )
    finally:
        container.dispose()  # already disposed by the app's shutdown: then a no-op
    return EXIT_OK


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``flext`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="flext",
        description="Operate FLEXT Meltano pipelines: health, validation, config, jobs, runs.",
        epilog="Exit codes: 0 ok, 1 failed/unhealthy/invalid, 2 usage, 3 configuration "
        "error, 4 missing tool, 5 refused (lock held), 75 API quota exhausted, 124 timed out, "
        "130 interrupted, 143 terminated.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    envs = [e.value for e in Environment]

    p = sub.add_parser(
        "health", help="ping the database, the API, Redis (when configured) and the alert channels"
    )
    p.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("validate", help="validate settings and the container graph")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--env", choices=envs, help="one environment")
    group.add_argument("--all", action="store_true", help="all four environments")
    p.add_argument("--rules", action="append", help="validation rules file (repeatable)")
    p.add_argument("--project-root", help="Meltano project directory")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("config", help="show effective settings and where each came from")
    p.add_argument("--show-secrets", action="store_true", help="print secret values")
    p.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("jobs", help="list Meltano jobs and schedules")
    p.add_argument("--project-root", help="Meltano project directory (default: from cwd up)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("run", help="run a Meltano job (meltano run JOB)")
    p.add_argument("job", help="the Meltano job name")
    p.add_argument("--retries", type=int, default=0, help="retries after a failure (default 0)")
    p.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    p.add_argument("--full-refresh", action="store_true", help="ignore saved state")
    p.add_argument(
        "--timeout", type=float, default=None,
        help="stop the run after N seconds (SIGTERM, then SIGKILL); exit 124",
    )  # fmt: skip
    p.add_argument(
        "--wait", type=float, nargs="?", const=float("inf"), default=None, metavar="S",
        help="wait for the job's lock (S seconds, or until free) instead of exiting 5",
    )  # fmt: skip
    p.add_argument(
        "--trigger", choices=["cli", "schedule", "orchestrator"], default="cli",
        help="what started the run, as recorded in the ledger (default cli)",
    )  # fmt: skip
    p.add_argument("--env", choices=envs, help="environment (also meltano --environment)")
    p.add_argument("--project-root", help="Meltano project directory (default: from cwd up)")
    p.add_argument("--meltano", help="meltano executable (default: next to python, or PATH)")
    p.add_argument("--quiet", action="store_true", help="do not echo Meltano's log to stderr")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("runs", help="list recorded runs (show RUN_ID: one run, per stream)")
    p.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    p.add_argument("--job", help="only this job")
    p.add_argument(
        "--status",
        choices=["running", "succeeded", "failed", "refused", "terminated", "quota_exhausted",
                 "abandoned"],
        help="only runs with this status",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=20, help="at most N runs (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip the newest N runs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs)
    runs_sub = p.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    q = runs_sub.add_parser("show", help="one run with its streams")
    q.add_argument("run_id", help="the run id")
    q.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_runs_show)
    q = runs_sub.add_parser("prune", help="delete finished runs older than the retention")
    q.add_argument(
        "--days",
        type=int,
        default=None,
        help="retention in days (default FLEXT_RUNS_RETENTION_DAYS)",
    )
    q.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    q.set_defaults(func=cmd_runs_prune)

    p = sub.add_parser("sample-api", help="serve the sample API on loopback (foreground)")
    p.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    p.add_argument("--records", type=int, default=1000, help="records per entity")
    p.add_argument("--host", default="127.0.0.1", help="loopback address")
    p.add_argument("--username", default=None, help="basic auth user (default: no auth)")
    p.add_argument("--password", default=None, help="basic auth password")
    p.set_defaults(func=cmd_sample_api)

    p = sub.add_parser(
        "serve", help="serve /health, /ready, /metrics, the ledger and a status page"
    )
    p.add_argument("--host", default=None, help="address (default: FLEXT_SERVE_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: FLEXT_SERVE_PORT, 8080)")
    p.add_argument("--env", choices=envs, help="environment (default: FLEXT_ENVIRONMENT)")
    p.add_argument("--project-root", help="Meltano project directory (default: from cwd up)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flext`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "retries", 0) is not None and getattr(args, "retries", 0) < 0:
        print("error: --retries must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Terminated as stop:
        print(f"error: {stop}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        from flext_infra.orchestration import MeltanoNotFoundError

        if isinstance(exc, MeltanoNotFoundError):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_MISSING
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
