"""Run a pipeline of processes and measure wall time and each process's peak RSS.

Peak RSS comes from ``os.wait4``: the kernel's ``ru_maxrss`` of exactly that
child (and of any children it waited for itself), read when it exits. It is the
high-water mark of the measured process, not a sampled value, and it is not
mixed up with other children of the harness (``getrusage(RUSAGE_CHILDREN)``
would give the maximum over all of them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

#: Bigger pipes mean fewer context switches between a fast writer and its reader.
_PIPE_BYTES = 1 << 20
_READ_CHUNK = 1 << 20

#: How a RECORD message starts, in the compact and the spaced JSON styles writers use.
RECORD_MARKERS: tuple[bytes, ...] = (b'"type":"RECORD"', b'"type": "RECORD"')


class RecordCounter:
    """Counts Singer RECORD messages in a byte stream fed in arbitrary chunks.

    Each marker keeps the last ``len(marker) - 1`` bytes of the previous chunk, so
    a marker split across two chunks is counted once and never twice.
    """

    def __init__(self, markers: Iterable[bytes] = RECORD_MARKERS) -> None:
        self._markers = tuple(markers)
        self._tails = [b""] * len(self._markers)
        self.count = 0
        self.bytes = 0

    def feed(self, chunk: bytes) -> None:
        """Count the markers that end inside ``chunk``."""
        self.bytes += len(chunk)
        for i, marker in enumerate(self._markers):
            window = self._tails[i] + chunk
            self.count += window.count(marker)
            keep = len(marker) - 1
            self._tails[i] = window[-keep:] if keep else b""


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
        sink: ``devnull`` sends the last stage's stdout to /dev/null; ``count`` reads it
            in the harness and counts RECORD messages (then discards it).
        timeout_s: The whole pipeline is killed (its process groups) past this.

    Returns:
        Wall time from the first start to the last exit, per-stage exit codes and
        peak RSS, and the RECORD count when ``sink="count"``.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    ends: dict[int, tuple[int | None, int, float]] = {}
    counter = RecordCounter() if sink == "count" else None
    stderr_paths = [log_dir / f"{stage.label}.stderr" for stage in stages]

    def waiter(proc: subprocess.Popen[bytes]) -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        finished = time.perf_counter()
        code = os.waitstatus_to_exitcode(status)
        # Popen must not wait for a pid we already reaped.
        proc.returncode = code
        ends[proc.pid] = (code, int(usage.ru_maxrss), finished)

    first_record: list[float] = []

    def reader(stream: IO[bytes], into: RecordCounter) -> None:
        fd = stream.fileno()
        while chunk := os.read(fd, _READ_CHUNK):
            into.feed(chunk)
            if not first_record and into.count:
                first_record.append(time.perf_counter())

    stdin_file = stdin_path.open("rb") if stdin_path is not None else None
    threads: list[threading.Thread] = []
    timed_out = False
    started = time.perf_counter()
    try:
        previous: IO[bytes] | None = stdin_file
        for index, (stage, err_path) in enumerate(zip(stages, stderr_paths, strict=True)):
            last = index == len(stages) - 1
            stdout = subprocess.DEVNULL if (last and counter is None) else subprocess.PIPE
            with err_path.open("wb") as err:
                proc = subprocess.Popen(
                    list(stage.argv),
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
        for proc in procs:
            thread = threading.Thread(target=waiter, args=(proc,), daemon=True)
            thread.start()
            threads.append(thread)
        if counter is not None and procs[-1].stdout is not None:
            thread = threading.Thread(target=reader, args=(procs[-1].stdout, counter), daemon=True)
            thread.start()
            threads.append(thread)
        deadline = started + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
            if thread.is_alive():
                timed_out = True
                break
        if timed_out:
            for proc in procs:
                if proc.pid not in ends:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
            for thread in threads:
                thread.join(10)
    except BaseException:
        # A stage failed to start (or we were interrupted): never leave children behind.
        for proc in procs:
            if proc.pid not in ends:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if not any(t.is_alive() for t in threads):
                    with contextlib.suppress(ChildProcessError):
                        proc.wait(10)
        raise
    finally:
        if stdin_file is not None:
            stdin_file.close()
        for proc in procs:
            if proc.stdout is not None:
                proc.stdout.close()
    finish = max((end[2] for end in ends.values()), default=time.perf_counter())
    results = []
    for stage, proc, err_path in zip(stages, procs, stderr_paths, strict=True):
        code, rss, end = ends.get(proc.pid, (None, 0, finish))
        results.append(StageResult(stage.label, code, rss, end - started, err_path))
    return PipelineResult(
        seconds=finish - started,
        stages=tuple(results),
        records_out=counter.count if counter is not None else None,
        bytes_out=counter.bytes if counter is not None else None,
        first_record_s=first_record[0] - started if first_record else None,
        timed_out=timed_out,
    )
