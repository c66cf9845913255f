"""What a sink needs from the target that runs it, as a typed Protocol.

The sink never sees the target class: it rejects records, reports committed
batches, registers overwrite tables and asks for an early drain through this
interface, which ``TargetFlextOracle`` implements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from singer_sdk.sinks import Sink

    from flext_infra.quality import DataValidator
    from target_flext_oracle._loader import LoadJob
    from target_flext_oracle._plan import TableRef


class SinkHost(Protocol):
    """The target, as its sinks see it."""

    def overwrite_staging(self, live: TableRef) -> TableRef:
        """The staging table an ``overwrite`` load of ``live`` goes to (swapped in at the end)."""

    @property
    def validator(self) -> DataValidator | None:
        """The data validator when ``validation`` rules are configured."""

    def reject(
        self,
        stream: str,
        record: dict[str, Any],
        field: str | None,
        reason: str,
        *,
        line: int | None,
        key: Any,
    ) -> None:
        """Send one record to the reject store (fails the run past ``max_rejects``)."""

    def batch_committed(self) -> None:
        """A sink's batch committed (its counter already moved)."""

    def drain_now(self, sink: Sink) -> None:
        """Load the sink's buffered rows now (before an ACTIVATE_VERSION, say)."""

    def load_in_order(self, job: LoadJob) -> None:
        """Queue a sealed batch's load behind the earlier ones (the loader thread)."""
