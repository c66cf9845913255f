"""One ``meltano run`` attempt as a process group that stops honestly.

Meltano runs in its own session (process group), so a stop reaches the tap
and the target it started as well. A stop first signals the whole group
(SIGTERM on a timeout; the signal ``flext`` itself received otherwise): the
plugins then roll back their open batch and exit 143 (or 130), and Meltano
(4.4+) saves the STATE the target released. Only a group still alive
``stop_grace_s`` later is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from flext_infra.observability import get_logger
from flext_infra.orchestration._metrics import RunMetrics
from flext_infra.runtime import Terminated

log = get_logger("flext.orchestration")


@dataclass
class Attempt:
    """What one attempt did.

    Attributes:
        exit_code: Meltano's exit status (None when it could not be started).
        metrics: What its log lines said.
        timed_out: The timeout stopped it.
        stopped_by: The signal that stopped ``flext`` during it, if any.
        killed: The group outlived the grace period and was killed.
        tail: Its last log lines.
    """

    exit_code: int | None
    metrics: RunMetrics
    timed_out: bool = False
    stopped_by: int | None = None
    killed: bool = False
    tail: list[str] = field(default_factory=list)


def run_attempt(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    sink: IO[str] | None,
    echo: Callable[[str], object] | None,
    timeout_s: float | None,
    stop_grace_s: float,
) -> Attempt:
    """Run ``cmd`` in its own process group, feeding every output line to a :class:`RunMetrics`.

    A :class:`Terminated` raised while it runs stops the group (SIGTERM, then
    SIGKILL after the grace) and is reported in the result as ``stopped_by``,
    not re-raised: the caller records the run.
    """
    metrics = RunMetrics()
    tail: deque[str] = deque(maxlen=20)
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        metrics.errors.append(f"cannot start meltano: {exc}")
        return Attempt(None, metrics)

    def take(line: str) -> None:
        metrics.feed(line)
        tail.append(line.rstrip())
        if sink is not None:
            sink.write(line)
        if echo is not None:
            echo(line)

    outcome = Attempt(None, metrics)
    stopping = threading.Lock()
    timer = None
    if timeout_s is not None:

        def on_timeout() -> None:
            with stopping:
                if proc.poll() is None:
                    outcome.timed_out = True
                    log.warning("orchestrator.timeout", timeout_s=timeout_s, pid=proc.pid)
                    signal_group(proc, signal.SIGTERM)
            if _wait(proc, stop_grace_s) is None:
                outcome.killed = True
                signal_group(proc, signal.SIGKILL)

        timer = threading.Timer(timeout_s, on_timeout)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                take(line)
        except Terminated as stop:
            outcome.stopped_by = stop.signum
            with stopping:
                log.warning("orchestrator.stopping", signal=stop.signal_name, pid=proc.pid)
                signal_group(proc, signal.Signals(stop.signum))  # forwarded as received
            outcome.killed = _drain(proc, take, stop_grace_s)
        outcome.exit_code = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:  # an error while reading: never leave it running
            signal_group(proc, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    outcome.tail = list(tail)
    return outcome


def _wait(proc: subprocess.Popen[str], seconds: float) -> int | None:
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def _drain(proc: subprocess.Popen[str], take: Callable[[str], None], grace_s: float) -> bool:
    """Read what the stopping group still prints; kill it after ``grace_s``. True if killed."""
    killer = threading.Timer(grace_s, lambda: signal_group(proc, signal.SIGKILL))
    killer.daemon = True
    killer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            take(line)
        proc.wait()
    finally:
        killer.cancel()
    return proc.returncode == -signal.SIGKILL


def signal_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to ``proc``'s process group (and to ``proc``, should it have left it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
