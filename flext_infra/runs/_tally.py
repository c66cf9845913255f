"""``StreamTally``: one process's per-stream counts, as its ledger row will carry them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flext_infra.runs._models import StreamRun


@dataclass
class _Counts:
    read: int = 0
    loaded: int = 0
    rejects: int = 0
    retries: int = 0
    rate_limited: int = 0
    before: str | None = None
    after: str | None = None


class StreamTally:
    """Per-stream counters a plugin fills while it runs (thread-safe).

    The tap's records come from the SDK's ``record_count`` metric, the target's
    loaded rows and rejects from the target itself (``add``), bookmarks from the
    tap at the end of the run.
    """

    def __init__(self) -> None:
        self._streams: dict[str, _Counts] = {}
        self._lock = threading.Lock()

    def add(
        self,
        stream: str,
        *,
        read: int = 0,
        loaded: int = 0,
        rejects: int = 0,
        retries: int = 0,
        rate_limited: int = 0,
    ) -> None:
        """Add to ``stream``'s counts (a stream mentioned with zeros is still listed)."""
        with self._lock:
            c = self._streams.setdefault(stream, _Counts())
            c.read += read
            c.loaded += loaded
            c.rejects += rejects
            c.retries += retries
            c.rate_limited += rate_limited

    def bookmarks(self, stream: str, before: str | None = None, after: str | None = None) -> None:
        """Set ``stream``'s bookmark at the start and/or the end of the run."""
        with self._lock:
            c = self._streams.setdefault(stream, _Counts())
            if before is not None:
                c.before = before
            if after is not None:
                c.after = after

    def streams(self) -> tuple[StreamRun, ...]:
        """Every stream's numbers, sorted by name."""
        with self._lock:
            return tuple(
                StreamRun(name, c.read, c.loaded, c.rejects, c.retries, c.rate_limited,
                          c.before, c.after)
                for name, c in sorted(self._streams.items())
            )  # fmt: skip
