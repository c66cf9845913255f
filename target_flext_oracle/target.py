"""target-flext-oracle: the Singer target class.

Built on the SDK's ``SQLTarget``; three things are ours:

* **Reading**: :class:`~target_flext_oracle._reader.FastSingerReader` (msgspec,
  line numbers) and a lean RECORD path that converts straight into row tuples
  (no per-record jsonschema, no per-record deep copies).
* **STATE**: a STATE message is released only when every batch holding records
  that arrived before it has committed (and, for ``overwrite``, once the new
  tables are swapped in). A failed batch therefore never lets its STATE out.
  A STATE still held by partial batches (typically of streams the tap has
  finished) after another stream committed a batch and ``batch_size_rows``
  input lines went by has those partial batches committed early, so progress
  is released promptly instead of at the end of input.
* **Connectors**: the configured database picks the connector class
  (``dialects/``); SQLite is the embedded default when nothing is configured.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any, ClassVar

import structlog
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sql import SQLTarget

from flext_infra.observability import configure_logging, get_logger
from flext_infra.quality import DataValidator, RejectStore, current_run_id
from flext_infra.runtime import run_plugin_cli, tune_gc_for_cli
from target_flext_oracle._errors import TargetConfigError, TargetError
from target_flext_oracle._reader import FastSingerReader
from target_flext_oracle._rejects import RejectSink
from target_flext_oracle._settings import CONFIG_SCHEMA, LoadMethod
from target_flext_oracle.connector import FlextConnector, TableRef, connector_class_for
from target_flext_oracle.sinks import FlextSink

log = get_logger("target_flext_oracle.target")

_AGE_CHECK_EVERY = 1000


class TargetFlextOracle(SQLTarget):
    """Singer target for Oracle, PostgreSQL and SQLite (the embedded default)."""

    name = "target-flext-oracle"
    #: The distribution that installs this plugin (for its version in --about).
    package_name = "flext-meltano"
    default_sink_class = FlextSink
    message_reader_class = FastSingerReader
    config_jsonschema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    capabilities: ClassVar[list[Any]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.TARGET_SCHEMA,
        TargetCapabilities.HARD_DELETE,
    ]

    def __init__(self, *args: Any, reject_sink: RejectSink | None = None, **kwargs: Any) -> None:
        """Create the target.

        Args:
            *args: Passed to the SDK.
            reject_sink: Where rejects go (default: JSONL files under ``reject_path``).
            **kwargs: Passed to the SDK.
        """
        # (state, {sink id: (sink, commit generation it waits past)}, input line it arrived on)
        self._pending_states: list[
            tuple[dict[str, Any], dict[int, tuple[FlextSink, int]], int]
        ] = []
        self._check_stalled = False
        self._age_countdown = _AGE_CHECK_EVERY
        self._last_emitted: str | None = None
        self._held_state: dict[str, Any] | None = None
        self.overwrite_tables: dict[TableRef, TableRef] = {}
        self._direct_sinks: dict[str, FlextSink] = {}
        self._swapped = False
        self._reject_sink = reject_sink
        self._quality: DataValidator | None = None
        self.reject_count = 0
        if not structlog.is_configured():
            # structlog's default logger prints to stdout, which carries Singer messages.
            configure_logging()
        super().__init__(*args, **kwargs)
        # Batches of different streams share one database; drain them in turn.
        self.max_parallelism = 1

    # --- connector --------------------------------------------------------------

    @property
    def target_connector(self) -> FlextConnector:
        """The connector for the configured database (one per target run)."""
        if self._target_connector is None:
            cls = connector_class_for(dict(self.config))
            self._target_connector = cls(dict(self.config))
        connector: FlextConnector = self._target_connector  # type: ignore[assignment]
        return connector

    @property
    def rejects(self) -> RejectSink:
        """The reject store."""
        if self._reject_sink is None:
            run_id = current_run_id()
            path = self.target_connector.settings.reject_path
            self._reject_sink = RejectStore.for_run(path, run_id)
            log.info("target.reject_store", path=str(path / f"{run_id}.jsonl"))
        return self._reject_sink

    @property
    def validator(self) -> DataValidator | None:
        """The data validator when ``validation`` rules are configured (else None).

        Raises:
            TargetConfigError: rules are configured but the reject sink is not the
                quality ``RejectStore`` the validator writes to.
        """
        rules = self.target_connector.settings.validation
        if self._quality is None and rules is not None:
            store = self.rejects
            if not isinstance(store, RejectStore):
                raise TargetConfigError("validation rules need flext_infra.quality's RejectStore")
            self._quality = DataValidator(rules, reject_store=store)
        return self._quality

    def reject(
        self,
        sink: FlextSink,
        record: dict[str, Any],
        field: str | None,
        reason: str,
        line: int | None,
    ) -> None:
        """Send a record to the reject store; fail the run past ``max_rejects``.

        Raises:
            TargetError: more rejects than ``max_rejects``.
        """
        self.reject_count += 1
        where = f"input line {line}: {reason}" if line else reason
        self.rejects.reject(sink.stream_name, record, field, where, sink.key_of(record))
        limit = sink.settings.max_rejects
        if limit is not None and self.reject_count > limit:
            raise TargetError(f"{self.reject_count} records rejected (max_rejects={limit})")

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Any = None,
    ) -> Any:
        """The SDK's sink lookup, but a sink whose schema changes is drained first.

        Its rows then commit under the old layout before the new sink plans its
        table from the (now current) reflection.
        """
        self._direct_sinks.clear()
        existing = self._sinks_active.get(stream_name)
        if schema is not None and existing is not None and existing.current_size:
            self.drain_one(existing)
        return super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )

    # --- records ----------------------------------------------------------------

    @property
    def line_number(self) -> int | None:
        """The input line being processed."""
        return getattr(self.message_reader, "line_number", None)

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        try:
            stream = message_dict["stream"]
            record = message_dict["record"]
        except KeyError:
            self._assert_line_requires(message_dict, requires={"stream", "record"})
            raise
        direct = self._direct_sinks.get(stream)
        if direct is not None:
            # One identity stream map (no transform, no flattening): skip the mapper.
            if direct.accept(record, message_dict, self.message_reader.line_number):  # type: ignore[attr-defined]
                self.drain_one(direct)
            self._age_countdown -= 1
            if not self._age_countdown:
                self._check_record_age()
            return
        maps = self.mapper.stream_maps.get(stream)
        if maps is None:
            raise RecordsWithoutSchemaException(
                f"input line {self.line_number}: a RECORD for stream '{stream}' arrived "
                "before its SCHEMA"
            )
        line = self.line_number
        for stream_map in maps:
            if type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled:
                transformed: dict[str, Any] | None = record
            else:
                transformed = stream_map.transform(copy.copy(record))
                if transformed is None:
                    continue
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is None:
                raise RecordsWithoutSchemaException(
                    f"input line {line}: no SCHEMA for stream '{stream_map.stream_alias}'"
                )
            if sink.accept(transformed, message_dict, line):  # type: ignore[attr-defined]
                self.drain_one(sink)
            if len(maps) == 1 and transformed is record and stream_map.stream_alias == stream:
                self._direct_sinks[stream] = sink  # type: ignore[assignment]
        self._age_countdown -= 1
        if not self._age_countdown:
            self._check_record_age()

    def _check_record_age(self) -> None:
        # The SDK's max-record-age drain (5 minutes), checked every _AGE_CHECK_EVERY
        # records instead of on each one: its clock read costs ~0.5 us per record.
        self._age_countdown = _AGE_CHECK_EVERY
        self._handle_max_record_age()

    # --- state ------------------------------------------------------------------

    def _all_sinks(self) -> list[FlextSink]:
        return [*self._sinks_to_clear, *self._sinks_active.values()]  # type: ignore[list-item]

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        self._latest_state = state
        waiting = {id(s): (s, s.commit_generation) for s in self._all_sinks() if s.has_pending_rows}
        self._pending_states.append((copy.deepcopy(state), waiting, self.line_number or 0))
        self._release_states()

    def batch_committed(self, sink: FlextSink) -> None:
        """A sink committed a batch: release the STATE messages it was holding back."""
        self._release_states()
        if self._pending_states:
            # Not from inside this sink's drain: check once the drain has finished.
            self._check_stalled = True

    def drain_one(self, sink: Any) -> None:  # type: ignore[misc]
        """The SDK's drain, then commit partial batches a long-held STATE waits on.

        (The SDK marks this final; the override only adds the stalled-STATE check.)
        """
        super().drain_one(sink)
        if self._check_stalled:
            self._check_stalled = False
            self._drain_stalled()

    def _drain_stalled(self) -> None:
        """Commit the partial batches holding the oldest STATE back, once it has waited long.

        Called after some batch committed. Without this a STATE waiting on a stream
        the tap has finished (one row in a never-filling batch) stays held while
        other streams commit batch after batch, until the end of input. Waiting
        ``batch_size_rows`` input lines bounds how much this shrinks batches of
        interleaved streams; the STATE still goes out only after the commit.
        """
        if not self._pending_states:
            return
        _, waiting, line = self._pending_states[0]
        waited = (self.line_number or 0) - line
        if waited < self.target_connector.settings.batch_size_rows:
            return
        for held, generation in list(waiting.values()):
            if held.commit_generation <= generation and held.has_pending_rows:
                log.info(
                    "target.state_drain",
                    stream=held.stream_name,
                    rows=held.current_size,
                    waited_lines=waited,
                )
                self.drain_one(held)

    def _release_states(self) -> None:
        ready: dict[str, Any] | None = None
        while self._pending_states:
            state, waiting, _ = self._pending_states[0]
            if any(s.commit_generation <= gen for s, gen in waiting.values()):
                break
            ready = state
            self._pending_states.pop(0)
        if ready is not None:
            self._emit_state(ready)

    def _write_state_message(self, state: dict[str, Any]) -> None:
        # Called by the SDK's drain_all() after every sink drained: all pending
        # states are covered by committed batches now.
        self._pending_states.clear()
        self._emit_state(state)

    def _emit_state(self, state: dict[str, Any]) -> None:
        if self.overwrite_tables and not self._swapped:
            # Overwrite loads are invisible until the swap: hold STATE until then.
            self._held_state = state
            return
        text = json.dumps(state)
        if text == self._last_emitted:
            return
        self._last_emitted = text
        log.debug("target.state_emitted", state=text)
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()

    # --- end of input -------------------------------------------------------------

    def process_lines(self, file_input: Any) -> Any:  # type: ignore[misc]
        """The SDK's reading loop; on any error the engine and reject files are released.

        (The SDK marks this final; the override only adds the cleanup.)
        """
        try:
            return super().process_lines(file_input)
        except BaseException:
            self.close()
            raise

    def process_endofpipe(self) -> None:
        """Drain everything, swap overwrite tables in, emit the final STATE, close."""
        try:
            super().process_endofpipe()
            self._swap_overwrites()
            if self._held_state is not None:
                state, self._held_state = self._held_state, None
                self._emit_state(state)
            if self._quality is not None:
                # Thresholds (reject ratio, minimum rows) are judged on the whole run.
                self._quality.finish()
        finally:
            self.close()

    def _swap_overwrites(self) -> None:
        connector = self.target_connector
        for live, staged in self.overwrite_tables.items():
            if connector.describe(staged) is None:
                log.warning("target.overwrite_no_records", table=str(live), kept="old table")
                continue
            connector.swap_in(live, staged)
        self._swapped = True

    def close(self) -> None:
        """Release the reject files and the engine (safe to call twice)."""
        if self._reject_sink is not None:
            self._reject_sink.close()
        if self._target_connector is not None:
            self.target_connector.dispose()


def main() -> None:
    """The ``target-flext-oracle`` console script: the SDK's CLI inside the plugin runtime.

    The runtime builds the container for ``FLEXT_ENVIRONMENT``, binds the run
    context to every log line, raises a ``pipeline_failure`` alert when a load
    fails (and "resolved" when it next succeeds) and disposes the container.
    """
    tune_gc_for_cli()
    run_plugin_cli("target-flext-oracle", TargetFlextOracle)


__all__ = ["LoadMethod", "TargetFlextOracle"]
