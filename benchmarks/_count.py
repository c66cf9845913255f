"""Count Singer RECORD messages on stdin; write the count, bytes and first-record time as JSON.

Usage: ``python -S -E _count.py REPORT.json < singer-output``

The counter runs as its own process, not as a thread of the harness: the
harness also serves the sample API, and a counting thread there competed for
its interpreter lock. A tap that writes one small message per flush (as
tap-rest-api-msdk does) woke that thread 200,000 times and was slowed by a
quarter, and our tap by a tenth, so the ratio depended on the harness. Here
the output is read and discarded like ``/dev/null``, at the cost of a read
per chunk, and the count still proves every record arrived.

It imports only the standard library and nothing from ``benchmarks`` (it runs
without site-packages).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable

#: How a RECORD message starts, in the compact and the spaced JSON styles writers use.
RECORD_MARKERS: tuple[bytes, ...] = (b'"type":"RECORD"', b'"type": "RECORD"')
_READ_CHUNK = 1 << 20


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


def main(argv: list[str]) -> int:
    """Read stdin to its end, then write ``{"count", "bytes", "first_record"}``."""
    if len(argv) != 1:
        print("usage: _count.py REPORT.json < input", file=sys.stderr)
        return 2
    counter = RecordCounter()
    first: float | None = None
    while chunk := os.read(0, _READ_CHUNK):
        counter.feed(chunk)
        if first is None and counter.count:
            first = time.monotonic()  # the same clock as the launcher's start times
    with open(argv[0], "w", encoding="utf-8") as out:
        json.dump({"count": counter.count, "bytes": counter.bytes, "first_record": first}, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
