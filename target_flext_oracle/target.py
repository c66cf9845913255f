"""target-flext-oracle: the Singer target class.

Built on the SDK's ``SQLTarget`` (its private and final hooks are routed to
ours in one adapter, ``_sdk_adapter``); three things are ours:

* **Reading**: :class:`~target_flext_oracle._reader.FastSingerReader` (msgspec,
  line numbers) and a lean RECORD path that converts straight into row tuples
  (no per-record jsonschema, no per-record deep copies).
* **STATE**: the :class:`~target_flext_oracle._state_gate.StateGate` releases
  a STATE message only when every batch holding records that arrived before it
  has committed (and, for ``overwrite``, once the new tables are swapped in).
  A failed batch therefore never lets its STATE out.
* **Connectors**: the configured database picks the connector class
  (``dialects/``); SQLite is the embedded default when nothing is configured.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, ClassVar

import msgspec
import structlog
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import Sink

from flext_infra.observability import configure_logging, get_logger
from flext_infra.quality import DataValidator, RejectStore, build_data_validator, current_run_id
from flext_infra.runtime import (
    RuntimeSignals,
    current_run,
    current_settings,
    current_tally,
    run_plugin_cli,
    tune_gc_for_cli,
)
from target_flext_oracle._errors import TargetConfigError, TargetError
from target_flext_oracle._loader import BatchLoader, LoadJob
from target_flext_oracle._plan import TableRef
from target_flext_oracle._reader import BulkRoute, FastSingerReader, RawRoute
from target_flext_oracle._rejects import RejectSink
from target_flext_oracle._sdk_adapter import SdkTargetAdapter
from target_flext_oracle._settings import CONFIG_SCHEMA, LoadMethod
from target_flext_oracle._state_gate import StateGate
from target_flext_oracle.connector import FlextConnector
from target_flext_oracle.dialects import connector_class_for
from target_flext_oracle.sinks import FlextSink

log = get_logger("target_flext_oracle.target")

_AGE_CHECK_EVERY = 1000


def _write_stdout(text: str) -> None:
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


class TargetFlextOracle(RuntimeSignals, SdkTargetAdapter):
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
        self._age_countdown = _AGE_CHECK_EVERY
        self.overwrite_tables: dict[TableRef, TableRef] = {}
        self._direct_sinks: dict[str, FlextSink] = {}
        self._reject_sink = reject_sink
        self._quality: DataValidator | None = None
        self.reject_count = 0
        if not structlog.is_configured():
            # structlog's default logger prints to stdout, which carries Singer messages.
            configure_logging()
        super().__init__(*args, **kwargs)
        self.state_gate = StateGate(
            self._emit_state, stall_lines=self.target_connector.settings.batch_size_rows
        )
        # Columnar batches load here, in order, while the reader decodes the next one.
        self.loader = BatchLoader(background=True)
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
            location = self.target_connector.settings.reject_path
            store = RejectStore.for_url(location, current_run_id(), s3=current_settings().s3)
            self._reject_sink = store
            log.info("target.reject_store", location=store.location)
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
            run = current_run()
            alerts = run.container.try_resolve("alert_manager") if run is not None else None
            self._quality = build_data_validator(
                rules,
                reject_store=store,
                alert_manager=alerts.value if alerts is not None and alerts.is_success else None,
                pipeline_name=run.pipeline if run is not None else None,
            )
        return self._quality

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
        """Send a record to the reject store; fail the run past ``max_rejects``.

        Raises:
            TargetError: more rejects than ``max_rejects``.
        """
        self.reject_count += 1
        current_tally().add(stream, rejects=1)
        where = f"input line {line}: {reason}" if line else reason
        self.rejects.reject(stream, record, field, where, key)
        limit = self.target_connector.settings.max_rejects
        if limit is not None and self.reject_count > limit:
            raise TargetError(f"{self.reject_count} records rejected (max_rejects={limit})")

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Any = None,
    ) -> Sink:
        """The SDK's sink lookup, but a sink whose schema changes is drained first.

        Its rows then commit under the old layout before the new sink plans its
        table from the (now current) reflection.
        """
        self._direct_sinks.clear()
        self._reader.raw_routes.clear()
        self._reader.bulk_routes.clear()
        existing = self.active_sink(stream_name)
        if schema is not None:
            if existing is not None and existing.current_size:
                self.drain_one(existing)
            # A new sink plans its table from the reflection the loaded batches update.
            self.loader.wait()
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if schema is not None and isinstance(sink, FlextSink):
            self._route_columnar(stream_name, sink)
        return sink

    @property
    def _reader(self) -> FastSingerReader:
        reader: FastSingerReader = self.message_reader  # type: ignore[assignment]
        return reader

    def _route_columnar(self, stream_name: str, sink: FlextSink) -> None:
        """Send the stream's RECORD lines raw to its sink when it loads columnar.

        Only for a stream whose one stream map is the identity (no transform, no
        flattening, no alias): its records need nothing per record before the sink.
        """
        maps = self.mapper.stream_maps.get(stream_name) or []
        identity = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == stream_name
        )
        if not identity or not sink.enable_columnar():
            return
        self._direct_sinks[stream_name] = sink
        name = msgspec.json.encode(stream_name)[1:-1]
        self._reader.raw_routes[name] = self._raw_route(sink)
        self._reader.bulk_routes[name] = self._bulk_route(sink)
        log.info("target.stream_columnar", stream=stream_name)

    def _raw_route(self, sink: FlextSink) -> RawRoute:
        countdown = _AGE_CHECK_EVERY

        def on_full() -> None:
            self.drain_one(sink)

        keep = sink.line_route(on_full)

        def route(line: bytes, number: int) -> None:
            # The SDK's record-age rule and the gate's stall rule, every thousandth line.
            nonlocal countdown
            keep(line, number)
            countdown -= 1
            if not countdown:
                countdown = _AGE_CHECK_EVERY
                self._check_record_age()

        return route

    def _bulk_route(self, sink: FlextSink) -> BulkRoute:
        countdown = _AGE_CHECK_EVERY

        def on_full() -> None:
            self.drain_one(sink)

        keep = sink.lines_route(on_full)

        def route(lines: list[bytes], first: int) -> None:
            # As _raw_route: the age and stall rules once a thousand lines have passed.
            nonlocal countdown
            keep(lines, first)
            countdown -= len(lines)
            if countdown <= 0:
                countdown = _AGE_CHECK_EVERY
                self._check_record_age()

        return route

    def load_in_order(self, job: LoadJob) -> None:
        """Queue a sealed columnar batch's load behind the earlier ones."""
        self.loader.submit(job)

    def overwrite_staging(self, live: TableRef) -> TableRef:
        """The staging table an ``overwrite`` stream loads into (one per live table per run).

        A staging table left by a failed run is ours and stale: it is dropped when
        first registered. From then on STATE is held until the tables are swapped in.
        """
        staged = self.overwrite_tables.get(live)
        if staged is None:
            connector = self.target_connector
            staged = connector.derived_ref(live, "new")
            connector.drop_if_exists(staged)
            self.overwrite_tables[live] = staged
            self.state_gate.hold_until_swap()
        return staged

    def drain_now(self, sink: Sink) -> None:
        """Load a sink's buffered rows now, and wait until every queued batch committed."""
        self.drain_one(sink)
        self.loader.wait()

    # --- records ----------------------------------------------------------------

    @property
    def line_number(self) -> int | None:
        """The input line being processed."""
        line: int | None = getattr(self.message_reader, "line_number", None)
        return line

    def on_record_message(self, message: dict[str, Any]) -> None:
        """Convert one RECORD into its sink's batch (through the stream maps)."""
        try:
            stream = message["stream"]
            record = message["record"]
        except KeyError:
            self._assert_line_requires(message, requires={"stream", "record"})
            raise
        line = self.line_number
        direct = self._direct_sinks.get(stream)
        if direct is not None:
            # One identity stream map (no transform, no flattening): skip the mapper.
            if direct.accept(record, message, line):
                self.drain_one(direct)
            self._age_countdown -= 1
            if not self._age_countdown:
                self._check_record_age()
            return
        maps = self.mapper.stream_maps.get(stream)
        if maps is None:
            raise RecordsWithoutSchemaException(
                f"input line {line}: a RECORD for stream '{stream}' arrived before its SCHEMA"
            )
        for stream_map in maps:
            transformed: dict[str, Any] | None = record
            if type(stream_map) is not SameRecordTransform or stream_map.flattening_enabled:
                transformed = stream_map.transform(copy.copy(record))
            if transformed is None:
                continue
            sink = self.active_sink(stream_map.stream_alias)
            if not isinstance(sink, FlextSink):
                raise RecordsWithoutSchemaException(
                    f"input line {line}: no SCHEMA for stream '{stream_map.stream_alias}'"
                )
            if sink.accept(transformed, message, line):
                self.drain_one(sink)
            if len(maps) == 1 and transformed is record and stream_map.stream_alias == stream:
                self._direct_sinks[stream] = sink
        self._age_countdown -= 1
        if not self._age_countdown:
            self._check_record_age()

    def _check_record_age(self) -> None:
        # The SDK's max-record-age drain and the gate's stall rule, checked every
        # _AGE_CHECK_EVERY records instead of on each one: a clock read or a lock
        # is a measurable share of one record's cost.
        self._age_countdown = _AGE_CHECK_EVERY
        self.check_record_age()
        self._drain_stalled()

    # --- state ------------------------------------------------------------------

    def _flext_sinks(self) -> list[FlextSink]:
        return [s for s in self.sinks() if isinstance(s, FlextSink)]

    def on_state(self, state: dict[str, Any]) -> None:
        """A STATE message: through the gate (released once what it covers committed)."""
        self.loader.raise_failure()
        self.state_gate.offer(state, self._flext_sinks(), self.line_number or 0)

    def on_all_drained(self, state: dict[str, Any]) -> None:
        """``drain_all`` handed every batch over: once they committed, the latest STATE is out."""
        self.loader.wait()
        self.state_gate.all_committed(state)

    def batch_committed(self) -> None:
        """A sink committed a batch (maybe on the loader thread): release the STATE it held."""
        self.state_gate.batch_committed()

    def after_drain(self) -> None:
        """After a drain, apply the stall rule (see :meth:`_drain_stalled`)."""
        self._drain_stalled()

    def _drain_stalled(self) -> None:
        """Drain the partial batches a long-held STATE waits on (``StateGate.stalled``).

        Checked in the reading thread after each drain and every few hundred
        records, so it does not depend on when a background commit lands.
        """
        if not self.state_gate.waiting:
            return
        for sink in self.state_gate.stalled(self.line_number or 0):
            if isinstance(sink, FlextSink) and sink.has_pending_rows:
                log.info(
                    "target.state_drain",
                    stream=sink.stream_name,
                    rows=sink.current_size,
                    waited_lines=self.state_gate.stall_lines,
                )
                self.drain_one(sink)

    # --- end of input -------------------------------------------------------------

    def on_input_end(self) -> None:
        """Every line was read: wait for the batches being loaded (their failure is the run's)."""
        self.loader.wait()

    def on_abort(self) -> None:
        """Reading failed (any exception, a signal included): stop loading, release everything.

        Queued batches are dropped and the one loading is cancelled where the driver
        can; a batch that still commits releases STATE for committed rows only.
        """
        self.loader.abort()
        self.close()

    def process_endofpipe(self) -> None:
        """Drain everything, swap overwrite tables in, emit the final STATE, close."""
        try:
            super().process_endofpipe()
            self.loader.wait()
            self._swap_overwrites()
            self.state_gate.swapped()
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

    def _emit_state(self, text: str) -> None:
        """Write one released STATE; the rejects of the records it covers are made durable first."""
        if self._reject_sink is not None:
            self._reject_sink.flush()
        _write_stdout(text)

    def close(self) -> None:
        """Stop the loader, release the reject files and the engine (safe to call twice)."""
        self.loader.abort()
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
