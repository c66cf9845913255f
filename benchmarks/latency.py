"""The ``latency`` suite: a remote, slow, rate-limited API, where time is pages x latency.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.latency              # full: 3 x 60 pages of 1,000
    .venv/bin/python -m benchmarks.latency --quick      # 3 x 12 pages, a smoke run
    .venv/bin/python -m benchmarks --only latency       # the same, from the main runner

Workload A: the sample API serves the three WMS entities (``allocation``,
``order_hdr``, ``order_dtl``), 60 pages of 1,000 records each (180k records),
every answer held back 100 ms, with a token bucket of 20 requests/s per
client (burst 20; 429 with ``Retry-After`` past it). Workload B: the same
without the rate limit. Every subject reads the LGF ``page_mode=paged``
endpoints (``page_size=1000&ordering=mod_ts,id&page=N``); pages are rendered
before anything is timed.

Subjects, each in its own virtualenv: tap-flext-api at ``max_concurrency`` 1,
4, 8 and 16 (B: 16); tap-rest-api-msdk (its page-number paginator following
``next_page``); dlt's ``rest_api`` source, extract only (its page-number
paginator with ``total_path: page_count``). The floor is max(pages x latency /
concurrency, pages / rate). Our rows are the median of ``--runs`` runs; the
peers run once. The server's own request log gives each run's requests and
429s. See benchmarks/README.md ("latency").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import _subjects
from benchmarks._process import Stage, run_pipeline

ENTITIES = ("allocation", "order_hdr", "order_dtl")
WMS = "/wms/lgfapi/v10/entity/"
PAGE_SIZE = 1000
QUERY = {"page_size": str(PAGE_SIZE), "page_mode": "paged", "ordering": "mod_ts,id"}
LATENCY_MS = 100.0
RATE = 20.0
OUR_CONCURRENCY = (1, 4, 8, 16)
DLT = _subjects.PeerSpec("dlt", ("dlt",), "python")
RESULTS_DIR = _subjects.BENCH_DIR / "results"


@dataclass
class Result:
    """One subject on one workload (the median run, for ours)."""

    workload: str
    subject: str
    concurrency: int
    records: int
    seconds: float | None = None
    requests: int = 0
    status_429: int = 0
    rss_mib: float = 0.0
    floor_s: float = 0.0
    runs: list[float] = field(default_factory=list)
    failure: str = ""

    @property
    def vs_floor(self) -> float | None:
        """Seconds over the floor (1.0 is the floor)."""
        return self.seconds / self.floor_s if self.seconds and self.floor_s else None


def floor_s(pages: int, concurrency: int, rate: float | None) -> float:
    """The physical floor: max(pages x latency / concurrency, pages / rate)."""
    latency = pages * LATENCY_MS / 1000 / concurrency
    return max(latency, pages / rate) if rate else latency


class Server:
    """The sample API for the suite, pages pre-rendered, with its request log."""

    def __init__(self, pages_per_entity: int) -> None:
        from flext_infra.testing import SampleApi

        self.records = pages_per_entity * PAGE_SIZE
        counts = dict.fromkeys(ENTITIES, self.records) | {"items": 1}
        cache = 3 * self.records * 1200 + (64 << 20)
        self.api = SampleApi(
            records=1, counts=counts, latency_ms=LATENCY_MS, cache_max_bytes=cache
        ).start()
        self.pages = pages_per_entity * len(ENTITIES)
        for entity in ENTITIES:
            for page in range(1, pages_per_entity + 1):
                self.api.render(f"{WMS}{entity}/", {**QUERY, "page": str(page)})

    def limit(self, rate: float | None) -> None:
        """Workload A (a token bucket of ``rate`` per client) or B (``None``: no limit)."""
        if rate is None:
            self.api.set_faults()
        else:
            self.api.set_faults(client_rate_limit=(rate, int(rate)), paths=(WMS,))

    def mark(self) -> int:
        """The request log's length now."""
        return len(self.api.requests)

    def since(self, mark: int) -> tuple[int, int]:
        """Data requests answered since ``mark``, and how many of them were 429s."""
        data = [r for r in list(self.api.requests)[mark:] if r.path.startswith(WMS)]
        return len(data), sum(1 for r in data if r.status == 429)

    def stop(self) -> None:
        """Stop serving."""
        self.api.stop()


def _ours_config(base_url: str, concurrency: int) -> dict[str, Any]:
    return {
        "profile": "oracle_wms",
        "base_url": base_url,
        "entities": list(ENTITIES),
        "page_size": PAGE_SIZE,
        "page_mode": "paged",
        "max_concurrency": concurrency,
    }


def _msdk_config(base_url: str) -> dict[str, Any]:
    return {
        "api_url": base_url,
        "pagination_request_style": "page_number_paginator",
        "next_page_token_path": "$.next_page",
        "pagination_initial_offset": 1,
        "streams": [
            {
                "name": entity,
                "path": f"{WMS}{entity}/",
                "records_path": "$.results[*]",
                "primary_keys": ["id"],
                "params": dict(QUERY),
            }
            for entity in ENTITIES
        ],
    }


def _dlt_config(base_url: str, work: Path) -> dict[str, Any]:
    return {
        "pipelines_dir": str(work / "dlt-pipelines"),
        "rest_api": {
            "client": {
                "base_url": base_url + "/",
                "paginator": {
                    "type": "page_number",
                    "page_param": "page",
                    "base_page": 1,
                    "total_path": "page_count",
                },
            },
            "resources": [
                {
                    "name": entity,
                    "endpoint": {
                        "path": f"{WMS.lstrip('/')}{entity}/",
                        "params": dict(QUERY),
                        "data_selector": "results",
                    },
                }
                for entity in ENTITIES
            ],
        },
    }


def _run_once(
    server: Server,
    argv: list[str],
    label: str,
    work: Path,
    *,
    count_file: Path | None,
    timeout_s: float,
) -> tuple[float | None, int, int, float, str, int | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXT_")}
    mark = server.mark()
    result = run_pipeline(
        [Stage(label, argv, env=env, cwd=work)],
        log_dir=work / "logs" / f"{label}-{int(time.time() * 1000)}",
        sink="devnull" if count_file is not None else "count",
        timeout_s=timeout_s,
    )
    requests, limited = server.since(mark)
    rss = result.stages[0].max_rss_kib / 1024
    if not result.ok:
        return None, requests, limited, rss, result.failure(), None
    records = result.records_out
    if count_file is not None:
        records = int(json.loads(count_file.read_text(encoding="utf-8"))["records"])
    return result.seconds, requests, limited, rss, "", records


def _measure(
    server: Server,
    workload: str,
    subject: str,
    concurrency: int,
    argv: list[str],
    work: Path,
    *,
    runs: int,
    rate: float | None,
    count_file: Path | None = None,
    timeout_s: float,
) -> Result:
    expected = server.records * len(ENTITIES)
    row = Result(workload, subject, concurrency, expected)
    row.floor_s = floor_s(server.pages, max(concurrency, 1), rate)
    measured: list[tuple[float, int, int, float]] = []
    for _ in range(max(1, runs)):
        seconds, requests, limited, rss, failure, records = _run_once(
            server, argv, f"{subject}-c{concurrency}", work, count_file=count_file,
            timeout_s=timeout_s,
        )  # fmt: skip
        if seconds is None:
            row.failure = failure
            return row
        if records != expected:
            row.failure = f"emitted {records} of {expected} records"
            return row
        measured.append((seconds, requests, limited, rss))
        print(f"  {workload} {subject} c={concurrency}: {seconds:.2f}s "
              f"{requests} req {limited} x 429", file=sys.stderr, flush=True)  # fmt: skip
    measured.sort()
    seconds, requests, limited, rss = measured[len(measured) // 2]
    row.seconds, row.requests, row.status_429, row.rss_mib = seconds, requests, limited, rss
    row.runs = [m[0] for m in measured]
    return row


def run(pages: int, *, runs: int, install: bool, timeout_s: float) -> list[Result]:
    """Both workloads, every subject; returns the rows."""
    work = Path(tempfile.mkdtemp(prefix="flext-latency-"))
    our_bin = _subjects.install_ours(install=install)
    tap = _subjects.ours("tap-flext-api", our_bin)
    msdk = _subjects.ensure_peer(_subjects.PEERS["tap-rest-api-msdk"], install=install)
    dlt = _dlt_subject(install)
    print(f"rendering {pages} pages x {len(ENTITIES)} entities ...", file=sys.stderr, flush=True)
    server = Server(pages)
    rows: list[Result] = []
    try:
        for workload, rate, ours_at in (("A", RATE, OUR_CONCURRENCY), ("B", None, (16,))):
            server.limit(rate)
            base = server.api.base_url

            def config(name: str, body: dict[str, Any]) -> Path:
                path = work / f"{name}.json"
                path.write_text(json.dumps(body, indent=2), encoding="utf-8")
                return path

            for c in ours_at:
                if tap.executable is None:
                    rows.append(Result(workload, "tap-flext-api", c, 0, failure=tap.unavailable))
                    continue
                cfg = config(f"ours-{workload}-{c}", _ours_config(base, c))
                rows.append(_measure(
                    server, workload, "tap-flext-api", c,
                    [str(tap.executable), "--config", str(cfg)], work,
                    runs=runs if c > 1 else 1, rate=rate, timeout_s=timeout_s,
                ))  # fmt: skip
            if msdk.executable is None:
                rows.append(Result(workload, "tap-rest-api-msdk", 1, 0, failure=msdk.unavailable))
            else:
                cfg = config(f"msdk-{workload}", _msdk_config(base))
                rows.append(_measure(
                    server, workload, "tap-rest-api-msdk", 1,
                    [str(msdk.executable), "--config", str(cfg)], work,
                    runs=1, rate=rate, timeout_s=timeout_s,
                ))  # fmt: skip
            if dlt.executable is None:
                rows.append(Result(workload, "dlt rest_api", 1, 0, failure=dlt.unavailable))
            else:
                cfg = config(f"dlt-{workload}", _dlt_config(base, work))
                count = work / f"dlt-{workload}.count.json"
                script = str(_subjects.BENCH_DIR / "_dlt_extract.py")
                rows.append(_measure(
                    server, workload, "dlt rest_api", 1,
                    [str(dlt.executable), script, str(cfg), str(count)], work,
                    runs=1, rate=rate, count_file=count, timeout_s=timeout_s,
                ))  # fmt: skip
    finally:
        server.stop()
    return rows


def _dlt_subject(install: bool) -> _subjects.Subject:
    venv = _subjects.VENVS_DIR / DLT.name
    python = venv / "bin" / "python"
    if not (venv / "bin" / "dlt").exists():
        if not install:
            return _subjects.Subject("dlt", None, f"not installed in {venv}")
        print(f"installing dlt into {venv} ...", file=sys.stderr, flush=True)
        failed = _subjects._install(venv, list(DLT.packages))
        if failed:
            return _subjects.Subject("dlt", None, failed)
    return _subjects.Subject("dlt", python)


def report(rows: list[Result]) -> str:
    """The table, with the goals of the issue judged on this run's rows."""

    def by(workload: str, subject: str, c: int | None = None) -> Result | None:
        return next(
            (r for r in rows if r.workload == workload and r.subject == subject
             and (c is None or r.concurrency == c)),
            None,
        )  # fmt: skip

    lines = [
        "| Workload | Subject | Concurrency | Seconds | x floor (s) | Requests | 429s | "
        "Peak RSS MiB | Runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.failure:
            lines.append(f"| {r.workload} | {r.subject} | {r.concurrency} | failed: "
                         f"{r.failure} | | | | | |")  # fmt: skip
            continue
        runs = ", ".join(f"{s:.2f}" for s in r.runs)
        lines.append(
            f"| {r.workload} | {r.subject} | {r.concurrency} | {r.seconds:.2f} | "
            f"{r.vs_floor:.2f}x ({r.floor_s:.2f}) | {r.requests} | {r.status_429} | "
            f"{r.rss_mib:.0f} | {runs} |"
        )
    goals: list[str] = []
    msdk_a, dlt_a = by("A", "tap-rest-api-msdk"), by("A", "dlt rest_api")
    for c in (8, 16):
        ours = by("A", "tap-flext-api", c)
        if ours is None or ours.seconds is None:
            continue
        ok = ours.vs_floor is not None and ours.vs_floor <= 1.25
        goals.append(f"A, c={c}: {ours.vs_floor:.2f}x the floor (goal ≤ 1.25x): "
                     f"{'met' if ok else 'missed'}")  # fmt: skip
        for peer in (msdk_a, dlt_a):
            if peer is not None and peer.seconds:
                ratio = peer.seconds / ours.seconds
                goals.append(f"A, c={c}: {ratio:.1f}x faster than {peer.subject} "
                             f"(goal ≥ 3.5x): {'met' if ratio >= 3.5 else 'missed'}")  # fmt: skip
        share = ours.status_429 / ours.requests if ours.requests else 0.0
        goals.append(f"A, c={c}: 429s {ours.status_429}/{ours.requests} = {share:.1%} "
                     f"(goal ≤ 1%): {'met' if share <= 0.01 else 'missed'}")  # fmt: skip
    ours_b = by("B", "tap-flext-api", 16)
    if ours_b is not None and ours_b.seconds:
        goals.append(f"B, c=16: {ours_b.seconds:.2f}s vs floor {ours_b.floor_s:.2f}s "
                     f"({ours_b.vs_floor:.2f}x)")  # fmt: skip
        for peer in (by("B", "tap-rest-api-msdk"), by("B", "dlt rest_api")):
            if peer is not None and peer.seconds:
                ratio = peer.seconds / ours_b.seconds
                goal = " (goal ≥ 10x)" if peer.subject == "tap-rest-api-msdk" else ""
                verdict = (": met" if ratio >= 10 else ": missed") if goal else ""
                goals.append(f"B, c=16: {ratio:.1f}x faster than {peer.subject}{goal}{verdict}")
    return "\n".join([*lines, "", *(f"- {g}" for g in goals)])


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="12 pages per entity, not 60")
    parser.add_argument("--runs", type=int, default=3, help="runs of each of our rows (median)")
    parser.add_argument("--no-install", action="store_true", help="install nothing")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run both workloads, print and save the table; exit 1 if a run failed."""
    args = build_parser().parse_args(argv)
    pages = 12 if args.quick else 60
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load = os.getloadavg()
    rows = run(pages, runs=args.runs, install=not args.no_install, timeout_s=args.timeout)
    text = report(rows)
    text += (
        f"\n- {pages} pages x {len(ENTITIES)} entities of {PAGE_SIZE} records, "
        f"{LATENCY_MS:.0f} ms per answer; A: {RATE:.0f} requests/s per client (burst "
        f"{RATE:.0f}), B: no limit; ours: median of {args.runs} runs (c=1: one run); "
        f"load average before {[round(x, 2) for x in load]}, after "
        f"{[round(x, 2) for x in os.getloadavg()]}; {stamp}"
    )
    print(text)
    out = RESULTS_DIR / f"latency-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8"
    )
    medians = [r.seconds for r in rows if r.seconds]
    return 1 if any(r.failure for r in rows) or not medians else 0


if __name__ == "__main__":
    raise SystemExit(main())
