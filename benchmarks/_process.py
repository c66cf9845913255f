"""Run a pipeline of processes and measure wall time and each process's peak RSS.

Each stage is started through ``_launch.py``, a small stdlib-only process that
spawns the subject, reaps it with ``os.wait4`` and reports the kernel's
``ru_maxrss`` for exactly that process: its true high-water mark, not a sample.
The launcher is needed because Linux folds the forking parent's high-water mark
into a child's ``ru_maxrss`` at exec, and the harness is big: it holds the
sample API's pages. See ``_launch.py``. The launcher also reports the subject's
start and end on the monotonic clock, so wall times exclude its own start-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

LAUNCHER = Path(__file__).resolve().with_name("_launch.py")
COUNTER = Path(__file__).resolve().with_name("_count.py")

#: Bigger pipes mean fewer context switches between a fast writer and its reader.
_PIPE_BYTES = 1 << 20


@dataclass(frozen=True)
class Stage:
    """One process of a pipeline."""

    label: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None


@dataclass(frozen=True)
class StageResult:
    """How one process ended."""

    label: str
    returncode: int | None
    max_rss_kib: int
    seconds: float
    stderr_path: Path

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines the process wrote to stderr (for failure messages)."""
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class PipelineResult:
    """Wall time of the whole pipeline and what each stage did."""

    seconds: float
    stages: tuple[StageResult, ...]
    records_out: int | None = None
    bytes_out: int | None = None
    #: Seconds from the start until the first RECORD reached the harness (``sink="count"``).
    first_record_s: float | None = None
    timed_out: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Every stage exited 0 within the time limit."""
        return not self.timed_out and all(s.returncode == 0 for s in self.stages)

    def failure(self) -> str:
        """A one-line reason the pipeline failed ('' when it did not)."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f}s"
        for stage in self.stages:
            if stage.returncode != 0:
                tail = stage.stderr_tail(1).strip()
                return f"{stage.label} exited {stage.returncode}" + (f": {tail}" if tail else "")
        return ""


def _widen_pipe(handle: IO[bytes] | None) -> None:
    if handle is None:
        return
    # Linux only; elsewhere the default pipe size is fine, just slower.
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(handle.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def run_pipeline(
    stages: Sequence[Stage],
    *,
    log_dir: Path,
    stdin_path: Path | None = None,
    sink: Literal["count", "devnull"] = "devnull",
    timeout_s: float = 1800.0,
) -> PipelineResult:
    """Run ``stages`` as ``stage1 | stage2 | ...`` and measure it.

    Args:
        stages: The processes, first to last; each one's stdout feeds the next one's stdin.
        log_dir: Each stage's stderr goes to ``<log_dir>/<label>.stderr``.
        stdin_path: A file given to the first stage as stdin (default: empty stdin).
        sink: ``devnull`` sends the last stage's stdout to /dev/null; ``count`` pipes it
            to a counting process (``_count.py``) that counts RECORD messages and
            discards them.
        timeout_s: The whole pipeline is killed (its process groups) past this.

    Returns:
        Wall time from the first subject's start to the last one's exit, per-stage
        exit codes and peak RSS, and the RECORD count when ``sink="count"``.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    counting = sink == "count"
    count_path = log_dir / "count.json"
    count_path.unlink(missing_ok=True)
    stderr_paths = [log_dir / f"{stage.label}.stderr" for stage in stages]
    report_paths = [log_dir / f"{stage.label}.rusage.json" for stage in stages]

    stdin_file = stdin_path.open("rb") if stdin_path is not None else None
    threads: list[threading.Thread] = []
    timed_out = False
    started = time.monotonic()
    try:
        previous: IO[bytes] | None = stdin_file
        for index, stage in enumerate(stages):
            last = index == len(stages) - 1
            stdout = subprocess.DEVNULL if (last and not counting) else subprocess.PIPE
            report_paths[index].unlink(missing_ok=True)
            argv = [sys.executable, "-S", "-E", str(LAUNCHER), str(report_paths[index]), "--"]
            with stderr_paths[index].open("wb") as err:
                proc = subprocess.Popen(
                    [*argv, *stage.argv],
                    stdin=previous if previous is not None else subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=err,
                    env=dict(stage.env) if stage.env is not None else None,
                    cwd=stage.cwd,
                    start_new_session=True,
                )
            procs.append(proc)
            # The child holds its own copy; closing ours lets EOF and SIGPIPE propagate.
            if previous is not None and previous is not stdin_file:
                previous.close()
            _widen_pipe(proc.stdout)
            previous = proc.stdout
        if counting and previous is not None:
            # Its own process (see _count.py); not timed, and not a stage.
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-S", "-E", str(COUNTER), str(count_path)],
                    stdin=previous,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            previous.close()
        threads = [threading.Thread(target=proc.wait, daemon=True) for proc in procs]
        for thread in threads:
            thread.start()
        deadline = started + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                timed_out = True
                break
        if timed_out:
            _kill(procs)
            for thread in threads:
                thread.join(10)
    except BaseException:
        # A stage failed to start (or we were interrupted): never leave children behind.
        _kill(procs)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        raise
    finally:
        if stdin_file is not None:
            stdin_file.close()
        for proc in procs:
            if proc.stdout is not None:
                proc.stdout.close()
    harness_end = time.monotonic()
    reports = [_read_report(path) for path in report_paths]
    starts = [r["start"] for r in reports if r is not None]
    ends = [r["end"] for r in reports if r is not None]
    origin = min(starts) if len(starts) == len(stages) else started
    finish = max(ends) if len(ends) == len(stages) else harness_end
    counted = _read_report(count_path) if counting else None
    first = counted.get("first_record") if counted is not None else None
    results = []
    for stage, proc, report, err_path in zip(
        stages, procs[: len(stages)], reports, stderr_paths, strict=True
    ):
        if report is not None:
            code: int | None = int(report["returncode"])
            rss, end = int(report["maxrss_kib"]), float(report["end"])
        else:
            # No report: killed on timeout, or the launcher itself failed.
            code, rss, end = (None if timed_out else proc.returncode), 0, harness_end
        results.append(StageResult(stage.label, code, rss, end - origin, err_path))
    return PipelineResult(
        seconds=finish - origin,
        stages=tuple(results),
        records_out=int(counted["count"]) if counted is not None else None,
        bytes_out=int(counted["bytes"]) if counted is not None else None,
        first_record_s=first - origin if first is not None else None,
        timed_out=timed_out,
    )


def _kill(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGKILL each stage's process group (the launcher and the subject in it)."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def _read_report(path: Path) -> dict[str, float] | None:
    """The launcher's report, or None if it wrote none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
