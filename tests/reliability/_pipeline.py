"""Run tap-flext-api -> target-flext-oracle as real subprocesses, and kill the target on cue.

The tap's stdout is relayed to the target's stdin by a thread here, as
``meltano run`` relays it through its own process. The relay counts bytes, so a
kill point can be an exact input offset. The target's stdout lines are the
STATE values Meltano would save; the last one is what a rerun starts from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-flext-api")
TARGET = str(BIN / "target-flext-oracle")

KillKind = Literal["bytes", "state", "in_tx", "tap_bytes"]


@dataclasses.dataclass(frozen=True)
class KillPoint:
    """Where to SIGKILL the target in one run.

    ``bytes``: once the relay has fed the target exactly ``value`` bytes of the
    tap's output. ``state``: right after the target printed its ``value``-th
    STATE line (just after a commit). ``in_tx``: while the target's
    ``value``-th batch transaction is open on PostgreSQL (seen in ``pg_locks``).
    ``tap_bytes``: the *tap* dies instead: SIGKILL once it has written about
    ``value`` bytes, cut in the middle of a line; the target then reads that
    partial line and end of input, as after a tap killed mid-write.
    """

    kind: KillKind
    value: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclasses.dataclass
class RunResult:
    """What one tap -> target run did."""

    states: list[dict[str, Any]]
    killed: bool
    hung: bool
    tap_rc: int | None
    target_rc: int | None
    fed_bytes: int
    tap_stderr: str
    target_stderr: str
    seconds: float

    @property
    def last_state(self) -> dict[str, Any] | None:
        """The STATE Meltano would have saved after this run."""
        return self.states[-1] if self.states else None

    def committed_rows(self) -> int:
        """Rows the target logged as committed (``target.batch_committed rows=N``)."""
        total = 0
        for line in self.target_stderr.splitlines():
            if "target.batch_committed" in line:
                for part in line.split():
                    if part.startswith("rows="):
                        total += int(part[5:])
        return total

    def describe(self) -> str:
        """A short summary for assertion messages (stderr tails included)."""
        return (
            f"tap rc={self.tap_rc} target rc={self.target_rc} killed={self.killed} "
            f"hung={self.hung} fed={self.fed_bytes}B states={len(self.states)} "
            f"{self.seconds:.1f}s\n--- target stderr (tail) ---\n"
            f"{_tail(self.target_stderr)}\n--- tap stderr (tail) ---\n{_tail(self.tap_stderr)}"
        )


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


def base_env(**extra: str) -> dict[str, str]:
    """The subprocess environment: no inherited FLEXT_/MELTANO_ settings, test environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "MELTANO_"))}
    env["FLEXT_ENVIRONMENT"] = "test"
    env.update(extra)
    return env


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_pipeline(
    workdir: Path,
    tap_config: Mapping[str, Any],
    target_config: Mapping[str, Any],
    *,
    state: Mapping[str, Any] | None = None,
    kill: KillPoint | None = None,
    tx_probe: Callable[[], tuple[int, Any] | None] | None = None,
    on_tx: Callable[[int, int], bool] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 150.0,
    label: str = "run",
) -> RunResult:
    """Run the tap piped into the target once, optionally SIGKILLing the target.

    Args:
        workdir: Where config, state and stderr files go.
        tap_config: The tap's config.
        target_config: The target's config.
        state: The STATE to start from (``--state``), as Meltano passes it.
        kill: Where to SIGKILL the target.
        tx_probe: Returns ``(backend_pid, transaction_id)`` of the target's open
            batch transaction, or None (needed by ``in_tx`` kills and ``on_tx``).
        on_tx: Called with ``(ordinal, backend_pid)`` for each new transaction
            seen; returns True once it acted (stops the probing).
        env: Subprocess environment (default :func:`base_env`).
        timeout: Both processes are killed after this many seconds (a hang).
        label: Prefix of the files written.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tap_cfg = workdir / f"{label}.tap.json"
    tgt_cfg = workdir / f"{label}.target.json"
    tap_cfg.write_text(json.dumps(dict(tap_config)))
    tgt_cfg.write_text(json.dumps(dict(target_config)))
    argv = [TAP, "--config", str(tap_cfg)]
    if state is not None:
        state_path = workdir / f"{label}.state.json"
        state_path.write_text(json.dumps(dict(state)))
        argv += ["--state", str(state_path)]
    tap_err_path = workdir / f"{label}.tap.stderr"
    tgt_err_path = workdir / f"{label}.target.stderr"
    run_env = dict(env) if env is not None else base_env()
    started = time.monotonic()
    with tap_err_path.open("wb") as tap_err, tgt_err_path.open("wb") as tgt_err:
        tap = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=tap_err, env=run_env, cwd=workdir
        )
        target = subprocess.Popen(
            [TARGET, "--config", str(tgt_cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=tgt_err,
            env=run_env,
            cwd=workdir,
        )
        killed = threading.Event()
        hung = threading.Event()
        done = threading.Event()
        fed = [0]

        def kill_target() -> None:
            if not killed.is_set() and target.poll() is None:
                killed.set()
                target.send_signal(signal.SIGKILL)

        def relay() -> None:
            assert tap.stdout is not None and target.stdin is not None
            src, dst = tap.stdout.fileno(), target.stdin.fileno()
            limit = kill.value if kill is not None and kill.kind in ("bytes", "tap_bytes") else None
            tap_dies = kill is not None and kill.kind == "tap_bytes"
            try:
                while not killed.is_set():
                    chunk = os.read(src, 1 << 16)
                    if not chunk:
                        break
                    if limit is not None and fed[0] + len(chunk) >= limit:
                        part = chunk[: limit - fed[0]]
                        if tap_dies:
                            # A cut inside a line: never right after its newline.
                            part = part.rstrip(b"\n")
                            part = part[:-1] if part.endswith(b"}") else part
                            killed.set()
                            tap.send_signal(signal.SIGKILL)
                        _write_all(dst, part)
                        fed[0] += len(part)
                        if not tap_dies:
                            # Let the target read what it was fed before it dies.
                            kill_target()
                        break
                    _write_all(dst, chunk)
                    fed[0] += len(chunk)
            except OSError:  # the target is gone (EPIPE): stop relaying
                pass
            finally:
                with contextlib.suppress(OSError):
                    target.stdin.close()

        def probe() -> None:
            assert tx_probe is not None
            seen: list[Any] = []
            while not done.is_set() and not killed.is_set():
                found = tx_probe()
                if found is not None and found[1] not in seen:
                    seen.append(found[1])
                    ordinal = len(seen)
                    if kill is not None and kill.kind == "in_tx" and ordinal >= kill.value:
                        kill_target()
                        return
                    if on_tx is not None and on_tx(ordinal, found[0]):
                        return
                time.sleep(0.005)

        def watchdog() -> None:
            if not done.wait(timeout):
                hung.set()
                for proc in (target, tap):
                    with contextlib.suppress(OSError):
                        proc.kill()

        threads = [threading.Thread(target=relay, name="relay", daemon=True)]
        threads.append(threading.Thread(target=watchdog, name="watchdog", daemon=True))
        if tx_probe is not None:
            threads.append(threading.Thread(target=probe, name="tx-probe", daemon=True))
        for t in threads:
            t.start()
        states: list[dict[str, Any]] = []
        assert target.stdout is not None
        try:
            for line in target.stdout:
                if not line.strip():
                    continue
                states.append(json.loads(line))
                if kill is not None and kill.kind == "state" and len(states) >= kill.value:
                    kill_target()
            target_rc = target.wait(timeout=60)
            threads[0].join(timeout=30)
            if killed.is_set() or target_rc != 0 or tap.poll() is not None:
                # Nobody reads the tap any more: close its pipe and stop it. (The SDK's
                # SIGTERM handler writes a last STATE, which would block on a full pipe
                # that is still open.)
                if tap.stdout is not None:
                    tap.stdout.close()
                with contextlib.suppress(OSError):
                    tap.terminate()
            tap_rc = tap.wait(timeout=60)
        finally:
            done.set()
            for proc in (target, tap):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            for stream in (tap.stdout, target.stdout, target.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            for t in threads:
                t.join(timeout=10)
    return RunResult(
        states=states,
        killed=killed.is_set(),
        hung=hung.is_set(),
        tap_rc=tap_rc,
        target_rc=target_rc,
        fed_bytes=fed[0],
        tap_stderr=tap_err_path.read_text(errors="replace"),
        target_stderr=tgt_err_path.read_text(errors="replace"),
        seconds=time.monotonic() - started,
    )
