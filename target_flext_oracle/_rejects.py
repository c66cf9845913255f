"""Where rejected records go: the shape the target needs from a reject store.

The default store is ``flext_infra.quality.RejectStore`` (one JSONL file per
run under ``reject_path``, or whole objects under an ``s3://`` one, redacted,
with stream, key, field, reason and the record). Anything with the same
methods can replace it, e.g. a store that also writes a table.
"""

from __future__ import annotations

from typing import Any, Protocol


class RejectSink(Protocol):
    """Anything that can take a rejected record."""

    def reject(
        self, stream: str, record: dict[str, Any], field: str | None, reason: str, key: Any
    ) -> None:
        """Store one rejected record with the reason."""

    def flush(self) -> None:
        """Make every reject taken so far durable (called before each STATE is emitted)."""

    def close(self) -> None:
        """Flush and release files."""
