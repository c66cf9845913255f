"""Run the tap, target and end-to-end benchmarks side by side with the peers.

Usage (from the project root)::

    make bench                                   # full sizes
    .venv/bin/python -m benchmarks --quick       # small sizes, a smoke run
    .venv/bin/python -m benchmarks --only tap --markdown

Every figure is measured in this run: ratios are against the peer baseline run a
moment earlier on the same machine, because the machine is shared and noisy.
A subject that cannot run is reported as "not available: <reason>", never as
a number. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from benchmarks import _dataset, _floor, _report, _services, _subjects
from benchmarks._process import PipelineResult, Stage, run_pipeline
from benchmarks._report import Row

#: Builds a loading pipeline's stages from ``(sqlalchemy_url, pg_schema, tag)``.
StagesFor = Callable[[str, "str | None", str], list[Stage]]

RESULTS_DIR = _subjects.BENCH_DIR / "results"
DATA_DIR = RESULTS_DIR / "data"

TAP_MIN_RATE = 100_000
TAP_MIN_RATIO = 15.0
TARGET_MIN_RATE = 100_000
TARGET_MIN_RATIO = 30.0
#: PostgreSQL append at 1M: at least this share of the COPY floor's records/s.
FLOOR_MIN_SHARE = 0.70
#: Upsert within this factor of append's time.
UPSERT_MAX_FACTOR = 1.5
#: A second batch size for the memory comparison (the default is the target's own).
MEMORY_BATCH_SIZE = 50_000

Suite = Literal["tap", "target", "e2e"]
SUITES: tuple[Suite, ...] = ("tap", "target", "e2e")


@dataclass(frozen=True)
class Sizes:
    """Record counts per benchmark; ``*_large`` is for the memory comparison."""

    tap: int
    tap_large: int
    target: int
    target_large: int
    e2e: int


FULL = Sizes(tap=200_000, tap_large=1_000_000, target=200_000, target_large=1_000_000, e2e=200_000)
QUICK = Sizes(tap=20_000, tap_large=100_000, target=20_000, target_large=100_000, e2e=20_000)


@dataclass
class Bench:
    """One benchmark run's settings, subjects and output folder."""

    sizes: Sizes
    run_dir: Path
    scratch: Path
    timeout_s: float
    sink: Literal["count", "devnull"]
    tap: _subjects.Subject
    target: _subjects.Subject
    peer_tap: _subjects.Subject
    peer_target: _subjects.Subject
    sling: _subjects.Subject
    pg_unavailable: str
    batch_size: int | None
    rows: list[Row]
    #: Runs of each of our throughput subjects; the median one is reported.
    runs: int = 1
    schemas_made: int = 0

    def log_dir(self, *parts: object) -> Path:
        """A fresh folder for one run's stderr logs."""
        return self.run_dir / "logs" / _slug("-".join(str(p) for p in parts))

    def config(self, name: str, config: dict[str, object]) -> Path:
        """Write one run's config file."""
        return _subjects.write_config(self.run_dir / "configs", _slug(name), config)

    def stage(self, label: str, argv: list[str]) -> Stage:
        """A subject process: run in the scratch folder, with no FLEXT_* settings inherited.

        Stray ``FLEXT_*`` variables (a rate limit, an environment) would change what
        is measured, and a subject's default files (``.flext/``) belong in scratch.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXT_")}
        return Stage(label, argv, env=env, cwd=self.scratch)

    def add(self, row: Row) -> Row:
        """Record a row and say so on stderr."""
        self.rows.append(row)
        rate = row.rate
        figure = (
            f"{rate:,.0f} rec/s in {row.seconds:.2f}s" if rate else f"{row.status}: {row.reason}"
        )
        print(
            f"  {row.benchmark:<14} {row.subject:<34} {row.into:<10} {figure}",
            file=sys.stderr,
            flush=True,
        )
        return row


def _median_of_runs(bench: Bench, run: Callable[[], Row]) -> Row:
    """Our subject run ``bench.runs`` times, reported by its median run.

    Our runs take 1-4 s, so one noisy second on this shared machine moves a single
    run's figure by a third; a baseline run takes 20-60 s and averages its noise
    out within itself, so it runs once. The median, not the best run, keeps the
    repeats from favouring us.
    """
    return _report.median_row([run() for _ in range(max(1, bench.runs))])


def _slug(text: str) -> str:
    """A file-name-safe label: 'tap-flext-api (trust_schema)' -> 'tap-flext-api-trust_schema'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _mib(result: PipelineResult) -> tuple[float, ...]:
    return tuple(round(s.max_rss_kib / 1024, 1) for s in result.stages)


def _unavailable(
    benchmark: str, subject: str, into: str, reason: str, *, records: int, baseline: bool
) -> Row:
    return Row(
        benchmark, subject, into, records=records, status="not available", reason=reason,
        baseline=baseline,
    )  # fmt: skip


def _failed(
    benchmark: str, subject: str, into: str, reason: str, *, records: int, baseline: bool
) -> Row:
    return Row(
        benchmark, subject, into, records=records, status="failed", reason=reason, baseline=baseline
    )


# ------------------------------------------------------------------------ tap
def _tap_row(
    bench: Bench,
    benchmark: str,
    label: str,
    subject: _subjects.Subject,
    config: dict[str, object],
    api: _services.WarmApi,
    *,
    baseline: bool = False,
) -> Row:
    n = api.records
    into = "/dev/null" if bench.sink == "devnull" else "counter"
    if subject.executable is None:
        return _unavailable(
            benchmark, label, into, subject.unavailable, records=n, baseline=baseline
        )
    cfg = bench.config(f"{benchmark}-{label}-{n}", config)
    mark = api.mark()
    result = run_pipeline(
        [bench.stage(subject.name, [str(subject.executable), "--config", str(cfg)])],
        log_dir=bench.log_dir(benchmark, label, n),
        sink=bench.sink,
        timeout_s=bench.timeout_s,
    )
    if not result.ok:
        return _failed(benchmark, label, into, result.failure(), records=n, baseline=baseline)
    if result.records_out is not None and result.records_out != n:
        return _failed(
            benchmark,
            label,
            into,
            f"emitted {result.records_out} of {n} records",
            records=n,
            baseline=baseline,
        )
    cold, pages = api.cold_pages(mark)
    notes: list[str] = []
    if cold:
        notes.append(f"{label} ({n}): {cold} of {pages} pages were not pre-rendered")
    streaming = None
    if result.first_record_s is not None and result.seconds > result.first_record_s:
        streaming = n / (result.seconds - result.first_record_s)
        notes.append(
            f"{label} ({_report.short(n)}): first record after {result.first_record_s:.2f}s"
        )
    return Row(
        benchmark,
        label,
        into,
        records=n,
        seconds=result.seconds,
        rss_mib=_mib(result),
        baseline=baseline,
        streaming_rate=streaming,
        notes=tuple(notes),
    )


def run_tap_suite(bench: Bench) -> None:
    """tap-rest-api-msdk, then tap-flext-api (default and trusted schema), then 1M for memory."""
    print(
        f"tap: {bench.sizes.tap:,} records, {_services.PAGE_SIZE}/page", file=sys.stderr, flush=True
    )
    with _services.sample_api(bench.sizes.tap) as api:
        peer = bench.add(
            _tap_row(
                bench,
                "tap",
                "tap-rest-api-msdk",
                bench.peer_tap,
                _subjects.tap_rest_api_msdk_config(api.base_url),
                api,
                baseline=True,
            )
        )
        small = {}
        for trusted in (False, True):
            label = "tap-flext-api" + (" (trust_schema)" if trusted else "")
            config = _subjects.tap_flext_api_config(api.base_url, trust_schema=trusted)
            row = _median_of_runs(
                bench,
                lambda label=label, config=config: _tap_row(
                    bench, "tap", label, bench.tap, config, api
                ),
            )
            row = _report.with_ratio(row, peer)
            small[trusted] = bench.add(_report.throughput_verdict(row, TAP_MIN_RATE, TAP_MIN_RATIO))
    print(f"tap memory: {bench.sizes.tap_large:,} records", file=sys.stderr, flush=True)
    with _services.sample_api(bench.sizes.tap_large) as api:
        for trusted in (False, True):
            label = "tap-flext-api" + (" (trust_schema)" if trusted else "")
            large = _tap_row(
                bench,
                "tap-large",
                label,
                bench.tap,
                _subjects.tap_flext_api_config(api.base_url, trust_schema=trusted),
                api,
            )
            bench.add(_report.memory_row("memory (tap)", label, large.into, small[trusted], large))


# --------------------------------------------------------------------- target
@contextmanager
def _database(bench: Bench, into: str, tag: str) -> Iterator[tuple[str, str | None, Path | None]]:
    """``(url, schema, sqlite_file)`` for one run; the schema or file is removed afterwards."""
    if into == "PostgreSQL":
        # PostgreSQL truncates identifiers past 63 bytes, so the name stays short.
        bench.schemas_made += 1
        schema = f"flext_bench_{os.getpid()}_{bench.schemas_made}"
        with _services.pg_schema(schema):
            yield _services.pg_url(), schema, None
        return
    path = bench.scratch / f"{tag}.sqlite"
    try:
        yield f"sqlite:///{path}", None, path
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _count_rows(into: str, schema: str | None, path: Path | None, stream: str) -> int | None:
    if into == "PostgreSQL" and schema is not None:
        return _services.pg_row_count(schema, stream)
    if path is not None:
        return _services.sqlite_row_count(path, stream)
    return None


def _load_row(
    bench: Bench,
    benchmark: str,
    label: str,
    into: str,
    stages_for: StagesFor,
    n: int,
    stream: str,
    *,
    stdin_path: Path | None,
    baseline: bool = False,
    needs: Sequence[_subjects.Subject],
) -> Row:
    """Run a loading pipeline into ``into`` and check the loaded row count."""
    for subject in needs:
        if subject.executable is None:
            return _unavailable(
                benchmark,
                label,
                into,
                f"{subject.name}: {subject.unavailable}",
                records=n,
                baseline=baseline,
            )
    if into == "PostgreSQL" and bench.pg_unavailable:
        return _unavailable(
            benchmark, label, into, bench.pg_unavailable, records=n, baseline=baseline
        )
    # The whole label: runs of one subject with other settings keep their own logs.
    tag = f"{benchmark}-{_slug(label)}-{into}-{n}"
    with _database(bench, into, tag) as (url, schema, path):
        stages = stages_for(url, schema, tag)
        result = run_pipeline(
            stages,
            log_dir=bench.log_dir(tag),
            stdin_path=stdin_path,
            sink="devnull",
            timeout_s=bench.timeout_s,
        )
        if not result.ok:
            return _failed(benchmark, label, into, result.failure(), records=n, baseline=baseline)
        loaded = _count_rows(into, schema, path, stream)
    if loaded is None:
        return _failed(
            benchmark,
            label,
            into,
            f"no table for stream {stream!r} found",
            records=n,
            baseline=baseline,
        )
    if loaded != n:
        return _failed(
            benchmark, label, into, f"loaded {loaded} of {n} rows", records=n, baseline=baseline
        )
    return Row(
        benchmark,
        label,
        into,
        records=n,
        seconds=result.seconds,
        rss_mib=_mib(result),
        baseline=baseline,
    )


def _target_stages(
    bench: Bench,
    subject: _subjects.Subject,
    peer: bool,
    *,
    load_method: str = "append-only",
    columnar: bool = True,
    batch_size: int | None = None,
) -> StagesFor:
    def build(url: str, schema: str | None, tag: str) -> list[Stage]:
        assert subject.executable is not None
        if peer:
            assert schema is not None
            config = _subjects.target_postgres_config(schema)
        else:
            config = _subjects.target_flext_oracle_config(
                url,
                schema=schema,
                reject_dir=bench.scratch / f"{tag}-rejects",
                batch_size=batch_size or bench.batch_size,
                load_method=load_method,
                columnar=columnar,
            )
        cfg = bench.config(tag + "-target", config)
        return [bench.stage(subject.name, [str(subject.executable), "--config", str(cfg)])]

    return build


def _sling_stages(bench: Bench, jsonl: Path) -> StagesFor:
    def build(url: str, schema: str | None, tag: str) -> list[Stage]:
        assert bench.sling.executable is not None and schema is not None
        stage = bench.stage("sling", _floor.sling_argv(bench.sling.executable, jsonl, schema))
        return [replace(stage, env={**(stage.env or {}), **_floor.sling_env()})]

    return build


def _floor_stages(bench: Bench, csv_path: Path, columns: str) -> StagesFor:
    def build(url: str, schema: str | None, tag: str) -> list[Stage]:
        assert schema is not None
        # The table exists before the clock starts, as a target's first DDL is cheap.
        _floor.create_floor_table(schema, columns)
        return [bench.stage("psql \\copy", _floor.psql_copy_argv(schema, csv_path))]

    return build


def _ours(
    bench: Bench,
    benchmark: str,
    label: str,
    into: str,
    n: int,
    dataset: Path,
    **settings: Any,
) -> Row:
    """Our target, median of ``bench.runs`` runs."""
    return _median_of_runs(
        bench,
        lambda: _load_row(
            bench,
            benchmark,
            label,
            into,
            _target_stages(bench, bench.target, peer=False, **settings),
            n,
            _subjects.TARGET_STREAM,
            stdin_path=dataset,
            needs=[bench.target],
        ),
    )


def run_target_suite(bench: Bench) -> None:
    """target-postgres, Sling and the COPY floor, then ours: columnar, per record, upsert, 1M.

    Every figure of the issue's goals comes from this one run: 200k records into
    PostgreSQL and SQLite against target-postgres; upsert against append; the 1M
    PostgreSQL append against the floor (``psql \\copy`` of the same rows); peak
    memory at 200k and 1M, at two batch sizes.
    """
    n, n_large = bench.sizes.target, bench.sizes.target_large
    print(
        f"target: generating {n:,}-record dataset (cached in {DATA_DIR})",
        file=sys.stderr,
        flush=True,
    )
    small_file = _dataset.ensure_dataset(DATA_DIR, n)
    stream = _subjects.TARGET_STREAM
    peer = bench.add(
        _load_row(
            bench,
            "target",
            "target-postgres",
            "PostgreSQL",
            _target_stages(bench, bench.peer_target, peer=True),
            n,
            stream,
            stdin_path=small_file,
            baseline=True,
            needs=[bench.peer_target],
        )
    )
    jsonl = _floor.records_jsonl(small_file)
    sling = _load_row(
        bench, "target", "sling (JSONL, flattened)", "PostgreSQL", _sling_stages(bench, jsonl),
        n, stream, stdin_path=None, needs=[bench.sling],
    )  # fmt: skip
    bench.add(_report.with_ratio(sling, peer))
    floor = _floor_row(bench, "target", small_file, n)
    append: dict[str, Row] = {}
    for into in ("SQLite", "PostgreSQL"):
        row = _ours(bench, "target", "target-flext-oracle", into, n, small_file)
        row = _report.with_ratio(row, peer)
        share = _report.ratio(row.rate, floor.rate) if into == "PostgreSQL" else None
        if share is not None:
            note = f"{row.subject} into PostgreSQL ({_report.short(n)}): {share:.0%} of the floor"
            row = replace(row, notes=(*row.notes, note))
        append[into] = bench.add(_report.throughput_verdict(row, TARGET_MIN_RATE, TARGET_MIN_RATIO))
    for into in ("SQLite", "PostgreSQL"):
        row = _ours(
            bench, "target", "target-flext-oracle (per record)", into, n, small_file, columnar=False
        )
        bench.add(_report.with_ratio(row, peer))
    for into in ("SQLite", "PostgreSQL"):
        row = _ours(
            bench,
            "target",
            "target-flext-oracle (upsert)",
            into,
            n,
            small_file,
            load_method="upsert",
        )
        bench.add(_report.time_verdict(row, append[into], UPSERT_MAX_FACTOR, "append"))

    print(f"target 1M: generating {n_large:,}-record dataset", file=sys.stderr, flush=True)
    large_file = _dataset.ensure_dataset(DATA_DIR, n_large)
    floor_large = _floor_row(bench, "target-large", large_file, n_large)
    large: dict[tuple[str, int | None], Row] = {}
    for into in ("SQLite", "PostgreSQL"):
        large[(into, None)] = _load_row(
            bench,
            "target-large",
            "target-flext-oracle",
            into,
            _target_stages(bench, bench.target, peer=False),
            n_large,
            stream,
            stdin_path=large_file,
            needs=[bench.target],
        )
        row = large[(into, None)]
        if into == "PostgreSQL":
            row = _report.share_verdict(row, floor_large, FLOOR_MIN_SHARE, "the COPY floor")
            tag = f"target-large-target-flext-oracle-{into}-{n_large}"
            log = bench.log_dir(tag) / "target-flext-oracle.stderr"
            row = replace(row, notes=(*row.notes, *_batch_breakdown(log, row)))
        bench.add(row)
        bench.add(
            _report.memory_row(
                "memory (target)", "target-flext-oracle", into, append[into], large[(into, None)]
            )
        )
    # Peak memory is bounded by the batch size: the same comparison at a bigger batch.
    batch = MEMORY_BATCH_SIZE
    label = f"target-flext-oracle (batch {batch:,})"
    small_b = _load_row(
        bench, "target", label, "PostgreSQL",
        _target_stages(bench, bench.target, peer=False, batch_size=batch),
        n, stream, stdin_path=small_file, needs=[bench.target],
    )  # fmt: skip
    large_b = _load_row(
        bench, "target-large", label, "PostgreSQL",
        _target_stages(bench, bench.target, peer=False, batch_size=batch),
        n_large, stream, stdin_path=large_file, needs=[bench.target],
    )  # fmt: skip
    bench.add(_report.memory_row("memory (target)", label, "PostgreSQL", small_b, large_b))


def _floor_row(bench: Bench, benchmark: str, dataset: Path, n: int) -> Row:
    """``psql \\copy`` of the same rows as CSV into the same table shape (a baseline)."""
    label = "psql \\copy (CSV floor)"
    if bench.target.executable is None or bench.pg_unavailable:
        reason = bench.pg_unavailable or "our target is needed to make the floor's CSV"
        return bench.add(
            _unavailable(benchmark, label, "PostgreSQL", reason, records=n, baseline=True)
        )
    try:
        csv_path, columns = _floor.copy_input(dataset, bench.target.executable, bench.scratch)
    except (OSError, subprocess.SubprocessError) as exc:
        return bench.add(
            _failed(benchmark, label, "PostgreSQL", f"preparing the CSV: {exc}", records=n,
                    baseline=True)
        )  # fmt: skip
    row = _load_row(
        bench, benchmark, label, "PostgreSQL", _floor_stages(bench, csv_path, columns), n,
        _floor.TABLE, stdin_path=None, baseline=True, needs=[],
    )  # fmt: skip
    return bench.add(row)


_TIMING = re.compile(r"(decode_ms|check_ms|write_ms|commit_ms)=([0-9.]+)")


def _batch_breakdown(log: Path, row: Row) -> list[str]:
    """Where a batch's time goes (median ms per batch), from our target's batch log lines."""
    per: dict[str, list[float]] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "target.batch_committed" in line:
                for key, value in _TIMING.findall(line):
                    per.setdefault(key, []).append(float(value))
    if not per:
        return []
    parts = [f"{k.removesuffix('_ms')} {statistics.median(v):.0f}" for k, v in sorted(per.items())]
    batches = max(len(v) for v in per.values())
    return [
        f"{row.subject} into PostgreSQL ({_report.short(row.records or 0)}): median ms per "
        f"batch over {batches} batches: "
        + ", ".join(parts)
        + " (decode and check on the reading thread, write and commit on the loader thread)"
    ]


# ------------------------------------------------------------------------ e2e
def run_e2e_suite(bench: Bench) -> None:
    """Sample API -> tap | target: the peer pair into PostgreSQL, ours into both databases."""
    n = bench.sizes.e2e
    stream = _subjects.TAP_STREAM
    print(f"end-to-end: {n:,} records", file=sys.stderr, flush=True)
    with _services.sample_api(n) as api:

        def peer_stages(url: str, schema: str | None, tag: str) -> list[Stage]:
            assert schema is not None
            assert (
                bench.peer_tap.executable is not None and bench.peer_target.executable is not None
            )
            tap_cfg = bench.config(tag + "-tap", _subjects.tap_rest_api_msdk_config(api.base_url))
            target_cfg = bench.config(tag + "-target", _subjects.target_postgres_config(schema))
            return [
                bench.stage(
                    "tap-rest-api-msdk", [str(bench.peer_tap.executable), "--config", str(tap_cfg)]
                ),
                bench.stage(
                    "target-postgres",
                    [str(bench.peer_target.executable), "--config", str(target_cfg)],
                ),
            ]

        def our_stages(url: str, schema: str | None, tag: str) -> list[Stage]:
            assert bench.tap.executable is not None and bench.target.executable is not None
            tap_cfg = bench.config(
                tag + "-tap", _subjects.tap_flext_api_config(api.base_url, trust_schema=True)
            )
            target_cfg = bench.config(
                tag + "-target",
                _subjects.target_flext_oracle_config(
                    url,
                    schema=schema,
                    reject_dir=bench.scratch / f"{tag}-rejects",
                    batch_size=bench.batch_size,
                ),
            )
            return [
                bench.stage("tap-flext-api", [str(bench.tap.executable), "--config", str(tap_cfg)]),
                bench.stage(
                    "target-flext-oracle",
                    [str(bench.target.executable), "--config", str(target_cfg)],
                ),
            ]

        peer = bench.add(
            _load_row(
                bench,
                "end-to-end",
                "tap-rest-api-msdk | target-postgres",
                "PostgreSQL",
                peer_stages,
                n,
                stream,
                stdin_path=None,
                baseline=True,
                needs=[bench.peer_tap, bench.peer_target],
            )
        )
        for into in ("SQLite", "PostgreSQL"):
            row = _median_of_runs(
                bench,
                lambda into=into: _load_row(
                    bench,
                    "end-to-end",
                    "tap-flext-api | target-flext-oracle",
                    into,
                    our_stages,
                    n,
                    stream,
                    stdin_path=None,
                    needs=[bench.tap, bench.target],
                ),
            )
            bench.add(_report.with_ratio(row, peer))


# ------------------------------------------------------------------------ cli
def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (20k, memory at 100k): a smoke run"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=(*SUITES, "latency"),
        help="run only these suites (repeatable); latency runs only when named "
        "(see benchmarks/latency.py)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per run")
    parser.add_argument(
        "--sink",
        choices=("count", "devnull"),
        default="devnull",
        help="tap stdout: /dev/null, as the issue specifies (default), or piped to a "
        "counting process that verifies the RECORD count",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="target-flext-oracle batch_size_rows (default: its own)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of each of our throughput subjects; the median is reported (default 3)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="install nothing: skip missing peers, measure ours from the project .venv",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (SQLite files, rejects)"
    )
    return parser


def _machine() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected suites, print the table, save results; exit 1 if a run failed."""
    args = build_parser().parse_args(argv)
    if args.only and "latency" in args.only:
        from benchmarks import latency

        extra = ["--quick"] if args.quick else []
        extra += ["--no-install"] if args.no_install else []
        status = latency.main(["--runs", str(args.runs), "--timeout", str(args.timeout), *extra])
        args.only = [s for s in args.only if s != "latency"]
        if not args.only:
            return status
    sizes = QUICK if args.quick else FULL
    suites: tuple[Suite, ...] = tuple(args.only) if args.only else SUITES
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = RESULTS_DIR / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="flext-bench-"))
    machine_before = _machine()
    print(
        f"benchmark run {stamp} ({'quick' if args.quick else 'full'}); logs in {run_dir}",
        file=sys.stderr,
    )

    need_peer_tap = "tap" in suites or "e2e" in suites
    need_peer_target = "target" in suites or "e2e" in suites
    skipped = _subjects.Subject("-", None, "not needed")
    our_bin = _subjects.install_ours(install=not args.no_install)
    bench = Bench(
        sizes=sizes,
        run_dir=run_dir,
        scratch=scratch,
        timeout_s=args.timeout,
        sink=args.sink,
        tap=_subjects.ours("tap-flext-api", our_bin) if need_peer_tap else skipped,
        target=_subjects.ours("target-flext-oracle", our_bin) if need_peer_target else skipped,
        peer_tap=_subjects.ensure_peer(
            _subjects.PEERS["tap-rest-api-msdk"], install=not args.no_install
        )
        if need_peer_tap
        else skipped,
        peer_target=_subjects.ensure_peer(
            _subjects.PEERS["target-postgres"], install=not args.no_install
        )
        if need_peer_target
        else skipped,
        sling=_subjects.ensure_sling(install=not args.no_install)
        if "target" in suites
        else skipped,
        pg_unavailable=_services.pg_unavailable() if need_peer_target else "",
        batch_size=args.batch_size,
        rows=[],
        runs=args.runs,
    )
    started = time.perf_counter()
    try:
        if "tap" in suites:
            run_tap_suite(bench)
        if "target" in suites:
            run_target_suite(bench)
        if "e2e" in suites:
            run_e2e_suite(bench)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.perf_counter() - started

    table = _report.format_table(bench.rows, "markdown" if args.markdown else "text")
    subjects = [bench.tap, bench.target, bench.peer_tap, bench.peer_target, bench.sling]
    lines = [table, ""]
    lines += [
        f"- {s.name}: {s.version or 'version unknown'}"
        + (f"; startup (probe) {s.probe_s:.2f}s" if s.probe_s is not None else "")
        for s in subjects
        if s.executable is not None
    ]
    notes = dict.fromkeys(note for row in bench.rows for note in row.notes)
    lines += [f"- note: {note}" for note in notes]
    batch = f"batch_size_rows {args.batch_size}" if args.batch_size else "its default batch size"
    lines.append(
        f"- configs: taps read {_services.GENERIC_PATH} at {_services.PAGE_SIZE}/page; "
        f"target-flext-oracle append-only, {batch}; target-postgres defaults "
        "(use_copy false, validate_records true); all in benchmarks/results/<stamp>/configs"
    )
    lines.append(
        f"- sizes: {asdict(sizes)}; tap stdout: {args.sink}; peak RSS: each subject's own "
        "ru_maxrss (os.wait4 in benchmarks/_launch.py), MiB, one figure per pipeline stage"
    )
    lines.append(
        f"- machine: {machine_before['cpus']} CPUs, load average before "
        f"{machine_before['loadavg']}, after {_machine()['loadavg']}; total {elapsed:.0f}s"
    )
    output = "\n".join(lines)
    print(output)
    (run_dir / "table.txt").write_text(output + "\n", encoding="utf-8")
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "stamp": stamp,
                "mode": "quick" if args.quick else "full",
                "sizes": asdict(sizes),
                "machine": machine_before,
                "subjects": [
                    asdict(replace(s, executable=None)) | {"executable": str(s.executable)}
                    for s in subjects
                ],
                "rows": [asdict(r) | {"rate": r.rate} for r in bench.rows],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return 1 if any(r.status == "failed" for r in bench.rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
