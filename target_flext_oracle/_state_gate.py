"""The STATE gate: a STATE message leaves only once the data it covers has committed.

A tap's STATE message covers every record that arrived before it. Those
records sit in the sinks: in a buffer that is not a batch yet, or in batches
that are loading or loaded. The gate takes a snapshot when the STATE arrives:
for each sink, how many of its batches must have committed before the STATE
is safe (its sealed batches, plus one for the rows still buffered). It
releases STATE messages strictly in arrival order, once every sink it waits
on has committed that many batches; when several become ready together only
the newest is written (it supersedes the others).

Two more rules live here:

* **Held for a swap.** ``overwrite`` loads go into staging tables that readers
  cannot see until the end of the stream. Until :meth:`StateGate.swapped`, a
  ready STATE is held instead of written.
* **Stalled STATE.** A STATE waiting only on a partial batch (typically one
  row of a stream the tap has finished) would wait until the end of input.
  :meth:`StateGate.stalled` names the sinks to drain early once the STATE has
  waited ``stall_lines`` input lines.

The gate knows sinks only through :class:`BatchCounter`, so its rules are
tested without a database (``tests/target/test_state_gate.py``). It is safe to
call from a loader thread: every method takes one lock, and STATE is written
under it, so two releases never interleave.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


class BatchCounter(Protocol):
    """What the gate reads from a sink."""

    @property
    def stream_name(self) -> str:
        """The stream (for logs)."""

    @property
    def batches_sealed(self) -> int:
        """Batches whose rows have left the buffer (loading, loaded or failed)."""

    @property
    def batches_committed(self) -> int:
        """Batches committed so far (a sealed batch that failed never counts)."""

    @property
    def has_pending_rows(self) -> bool:
        """True while rows sit in the buffer, in no batch yet."""


@dataclass(frozen=True)
class _Waiting:
    """A STATE not yet released and what it waits for."""

    state: dict[str, Any]
    #: (sink, batches that sink must have committed)
    needs: tuple[tuple[BatchCounter, int], ...]
    #: Input line the STATE arrived on (for the stall rule).
    line: int

    def ready(self) -> bool:
        return all(sink.batches_committed >= need for sink, need in self.needs)


class StateGate:
    """Releases STATE messages in order, each only after the batches it covers committed.

    Args:
        emit: Writes one STATE's JSON text (stdout in a run).
        stall_lines: Input lines after which a STATE held only by partial batches
            has those batches drained early.
    """

    def __init__(self, emit: Callable[[str], None], *, stall_lines: int) -> None:
        self._emit = emit
        self.stall_lines = stall_lines
        self._waiting: list[_Waiting] = []
        self._held: dict[str, Any] | None = None
        self._holding = False
        self._last_text: str | None = None
        self._lock = threading.RLock()

    # --- what the target tells the gate ---------------------------------------

    def offer(self, state: dict[str, Any], sinks: Iterable[BatchCounter], line: int) -> None:
        """A STATE arrived: release it now if nothing before it is uncommitted, else queue it."""
        with self._lock:
            needs = tuple(
                (sink, need)
                for sink in sinks
                if sink.batches_committed
                < (need := sink.batches_sealed + (1 if sink.has_pending_rows else 0))
            )
            self._waiting.append(_Waiting(copy.deepcopy(state), needs, line))
            self._release()

    def batch_committed(self) -> None:
        """Some sink committed a batch (its counter already moved): release what is ready."""
        with self._lock:
            self._release()

    def all_committed(self, state: dict[str, Any]) -> None:
        """Every sink drained and committed: ``state`` (the latest) covers everything."""
        with self._lock:
            self._waiting.clear()
            self._write(copy.deepcopy(state))

    def hold_until_swap(self) -> None:
        """Hold ready STATE from now on (overwrite tables are not swapped in yet)."""
        with self._lock:
            self._holding = True

    def swapped(self) -> None:
        """The overwrite tables are live: write the STATE held back, if any."""
        with self._lock:
            self._holding = False
            held, self._held = self._held, None
            if held is not None:
                self._write(held)

    # --- what the gate tells the target ----------------------------------------

    @property
    def waiting(self) -> int:
        """STATE messages not released yet."""
        with self._lock:
            return len(self._waiting)

    def stalled(self, line: int) -> list[BatchCounter]:
        """Sinks whose buffered rows hold the oldest STATE back after it waited ``stall_lines``.

        Only buffered rows count: a batch already loading needs no drain, just time.
        """
        with self._lock:
            if not self._waiting:
                return []
            oldest = self._waiting[0]
            if line - oldest.line < self.stall_lines:
                return []
            return [
                sink
                for sink, need in oldest.needs
                if sink.batches_committed < need
                and sink.has_pending_rows
                and sink.batches_sealed < need
            ]

    # --- internals --------------------------------------------------------------

    def _release(self) -> None:
        ready: dict[str, Any] | None = None
        while self._waiting and self._waiting[0].ready():
            ready = self._waiting.pop(0).state
        if ready is not None:
            self._write(ready)

    def _write(self, state: dict[str, Any]) -> None:
        if self._holding:
            self._held = state
            return
        text = json.dumps(state)
        if text == self._last_text:
            return
        self._last_text = text
        self._emit(text)
