"""SIGTERM and SIGINT as an exception in the main thread: honest stops for every process.

The Singer SDK answers SIGTERM by draining every sink from inside the signal
handler and exiting 0, and Python's default for SIGTERM skips every
``finally``. Both lie to the scheduler. Here the first stop signal raises
:class:`Terminated` in the main thread, wherever it is: open transactions roll
back as the stack unwinds, ``finally`` blocks run, the run is recorded as
terminated, and the process exits ``128 + signal`` (143 for SIGTERM, 130 for
SIGINT). Further signals while the process unwinds are logged, not raised, so
cleanup is not cut short.

Threads never receive signals in Python; code that runs workers must stop them
when the main thread unwinds with :class:`Terminated` (join them in a
``finally``, or make them watch an event set there).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from flext_infra.observability import get_logger

#: The signals that stop a run.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


class Terminated(BaseException):
    """A stop signal arrived: unwind, record the run as terminated, exit ``128 + signum``.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception``
    blocks do not swallow it.

    Attributes:
        signum: The signal number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal_name(signum)}")

    @property
    def exit_code(self) -> int:
        """``128 + signum``: 143 for SIGTERM, 130 for SIGINT."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        """``SIGTERM``, ``SIGINT``..."""
        return signal_name(self.signum)


def signal_name(signum: int) -> str:
    """The name of a signal number (``SIGTERM``)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _Deferral:
    """The :func:`signals_deferred` blocks open in the main thread, and what they held back."""

    depth = 0
    held: list[int] = []


_deferral = _Deferral()


class _Stopper:
    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            if _deferral.depth:
                _deferral.held.append(signum)  # raised when the block ends
                return
            raise Terminated(signum)
        get_logger("flext.runtime").warning(
            "runtime.signal_ignored", signal=signal_name(signum), why="already stopping"
        )


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """A block a stop signal does not cut: :class:`Terminated` is raised when it ends.

    For the few statements that must happen together, such as a commit and the
    count of what it committed. Keep it short: it delays the stop.
    """
    _deferral.depth += 1
    try:
        yield
    finally:
        _deferral.depth -= 1
        if not _deferral.depth and _deferral.held:
            signum = _deferral.held[0]
            _deferral.held.clear()
            raise Terminated(signum)


@contextlib.contextmanager
def stop_on_signals(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> Iterator[list[int]]:
    """Raise :class:`Terminated` in the main thread on the first of ``signals``.

    Yields the list of signal numbers received so far. Previous handlers come
    back on exit. Outside the main thread (where Python cannot install
    handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    stopper = _Stopper()
    previous: dict[signal.Signals, Any] = {}
    for sig in signals:
        previous[sig] = signal.signal(sig, stopper)
    try:
        yield stopper.received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
