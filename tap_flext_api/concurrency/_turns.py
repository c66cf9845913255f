"""Turns: one thread at a time runs the SDK and writes to stdout.

Each stream syncs in its own thread, but the SDK's state, its metrics and the
message writer are not thread-safe, and a Singer stream must be one whole
message per line with every STATE after the records it covers. So a stream
thread holds the turn whenever it runs SDK code or writes, and hands it over
only while it waits for a page from the workers. The result is the SDK's own
single-threaded sync, interleaved at page boundaries: one writer owns stdout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Turns"]


class Turns:
    """The baton: a lock whose holder may give it up while it waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def mine(self) -> bool:
        """True when the calling thread holds the turn."""
        return bool(getattr(self._local, "held", False))

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the turn for the block (released at its end, unless a wait gave it away)."""
        self._lock.acquire()
        self._local.held = True
        try:
            yield
        finally:
            if self.mine:
                self._local.held = False
                self._lock.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the turn up for the block (a wait), and take it back after.

        If the block raises (the run was stopped), the turn is not taken back:
        the thread is unwinding and must not wait for it.
        """
        if not self.mine:
            yield
            return
        self._local.held = False
        self._lock.release()
        yield
        self._lock.acquire()
        self._local.held = True

    def take(self, timeout: float) -> bool:
        """Take the turn for good (the run is ending); ``False`` if it did not come in time."""
        if self.mine:
            return True
        if self._lock.acquire(timeout=timeout):
            self._local.held = True
            return True
        return False
