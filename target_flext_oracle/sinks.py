"""The sink: one stream's batches, converted and checked, loaded in one transaction each.

Two paths, one outcome:

* **per record**: a record is converted into a row tuple as it arrives (the
  conversion validates; see ``_converters``);
* **columnar**: the stream's RECORD lines stay raw until the batch is full, then
  the batch is decoded into checked Arrow columns at once (``columnar/``) and
  handed to the database driver's bulk path. A batch the columnar decoder
  refuses goes through the per-record path, which isolates bad records.

Either way a record that cannot be stored goes to the reject store with the
field and the reason; nothing is dropped silently. A batch loads in one
transaction: DDL first (create, add, widen), then the bulk load, then commit.
A failure rolls back and raises :class:`BatchLoadError` naming the stream, the
batch's record range and input lines, and the cause. Columnar batches load in
order on the target's loader thread (``_loader``) while the next is decoded.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.sql import SQLSink

from flext_infra.observability import get_logger
from flext_infra.runtime import current_settings, current_tally
from target_flext_oracle._batch_files import batch_records
from target_flext_oracle._converters import Reject, compile_row_builder, make_converter
from target_flext_oracle._errors import BatchLoadError, TargetError
from target_flext_oracle._host import SinkHost
from target_flext_oracle._loader import LoadJob
from target_flext_oracle._logical import Kind, LogicalType, from_jsonschema
from target_flext_oracle._plan import TablePlan, TableRef
from target_flext_oracle._reader import decode_line
from target_flext_oracle._sdk_adapter import (
    add_sdc_metadata,
    overrides_preprocess,
    record_context,
    refuse_dropped_hooks,
)
from target_flext_oracle._settings import LoadMethod
from target_flext_oracle.connector import FlextConnector

if TYPE_CHECKING:
    import pyarrow as pa
    from singer_sdk.helpers._batch import BaseBatchFileEncoding
    from singer_sdk.target_base import Target

    from flext_infra.quality import DataValidator
    from target_flext_oracle.columnar import StreamDecoder

log = get_logger("target_flext_oracle.sink")

_DELETED_AT = "_sdc_deleted_at"
#: The message of a record read from a BATCH file (no time_extracted, no version).
_NO_MESSAGE: dict[str, Any] = {}


class FlextSink(SQLSink[FlextConnector]):
    """Loads one stream into its table through the configured dialect's connector."""

    connector_class = FlextConnector

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a subclass overriding an SDK hook the target never calls (``_sdk_adapter``)."""
        super().__init_subclass__(**kwargs)
        refuse_dropped_hooks(cls)

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Any,
        connector: FlextConnector | None = None,
    ) -> None:
        """Bind the sink to the target (for rejects, line numbers and state release)."""
        self.host = cast(SinkHost, target)
        self._rows: list[tuple[Any, ...]] = []
        self._record_seq = 0
        self._batch_first_seq = 1
        self._batch_first_line: int | None = None
        self._batch_last_line: int | None = None
        self._warned_fields: set[str] = set()
        #: Columnar path: raw RECORD lines (or records that came as dicts) and their lines.
        self._lines: list[bytes | dict[str, Any]] = []
        self._line_numbers: list[int] = []
        self._decoder: StreamDecoder | None = None
        self.columnar = False
        self.batches_sealed = 0
        self.batches_committed = 0
        super().__init__(target, stream_name, schema, key_properties, connector)
        self.settings = self.connector.settings
        self._batch_size_rows = self._batch_limit = self.settings.batch_size_rows

    def get_validator(self) -> None:
        """None: typed conversion replaces the SDK's per-record jsonschema validation."""

    # --- names ------------------------------------------------------------------

    @property
    def table_name(self) -> str:
        """``table_prefix`` + the last part of the stream name, normalised for the dialect."""
        table = self.stream_name.split("-")[-1]
        return self.connector.policy.normalize(f"{self.settings.table_prefix}{table}")

    @property
    def schema_name(self) -> str | None:
        """``default_target_schema`` (stream-name prefixes never pick another user's schema)."""
        return self.settings.default_target_schema

    def conform_name(self, name: str, object_type: str | None = None) -> str:
        """The dialect's normalisation (unicode kept, length-safe, hashed when shortened)."""
        return self.connector.policy.normalize(name)

    @property
    def live_ref(self) -> TableRef:
        """The table readers see."""
        return self.connector.table_ref(self.schema_name, self.table_name)

    # --- setup: plan the table and compile the converters --------------------------

    def setup(self) -> None:
        """Plan the table (no DDL yet: it runs first in the first batch's transaction)."""
        properties: dict[str, Any] = self.schema.get("properties") or {}
        self._fields = list(properties)
        mapping = self.connector.policy.column_names(self._fields)
        self._key_fields = list(super(SQLSink, self).key_properties)
        for key in self._key_fields:
            if key not in properties:
                raise TargetError(
                    f"stream '{self.stream_name}': key property {key!r} is not in the schema"
                )
        required = set(self.schema.get("required") or [])
        specs = []
        self._sources: dict[str, LogicalType] = {}
        for fname, prop in properties.items():
            logical, nullable = from_jsonschema(prop or {})
            self._sources[fname] = logical
            specs.append((fname, mapping[fname], logical, nullable and fname not in required))
        keys = [mapping[k] for k in self._key_fields]
        self.load_method = self.settings.load_method
        self.load_ref = self._load_ref()
        # Overwrite's staging table was dropped when first registered (see _load_ref),
        # so the plan creates it; later sinks of the stream evolve it like any table.
        self.plan: TablePlan = self.connector.plan_table(self.load_ref, specs, keys)
        self._compile()
        log.info(
            "target.stream_ready",
            stream=self.stream_name,
            table=str(self.live_ref),
            load_table=str(self.load_ref),
            load_method=self.load_method.value,
            columns=len(self.plan.fields),
            ddl_pending=self.plan.has_ddl,
        )

    def _load_ref(self) -> TableRef:
        live = self.live_ref
        if self.load_method is not LoadMethod.OVERWRITE:
            return live
        return self.host.overwrite_staging(live)

    def _compile(self) -> None:
        strict = self.settings.validate_records
        specs: list[tuple[str, LogicalType, LogicalType, Callable[[Any], Any], Any]] = []
        for fp in self.plan.fields:
            finish = self.connector.adapter(fp.target)
            conv = make_converter(fp.field, fp.source, fp.target, strict=strict, finish=finish)
            specs.append((fp.field, fp.source, fp.target, conv, finish))
        # Required fields are checked inside the row builder (one dict lookup each).
        required = frozenset(fp.field for fp in self.plan.fields if strict and not fp.nullable)
        self._build_row = compile_row_builder(specs, strict=strict, required=required)
        self._quality = self.host.validator
        self._records: list[dict[str, Any]] = []
        if self._quality is not None:
            self._quality.register_stream(self.stream_name, self.schema, self._quality_keys)
        self._key_index = [self._fields.index(k) for k in self._key_fields]
        self._field_set = frozenset(self._fields)
        self._field_count = len(self._field_set)
        self._with_metadata = self.include_sdc_metadata_properties
        self._preprocess = overrides_preprocess(self)
        self._empty_key_is_null = self.connector.empty_string_is_null and bool(self._key_index)

    # --- records ------------------------------------------------------------------

    def accept(self, record: dict[str, Any], message: dict[str, Any], line: int | None) -> bool:
        """Take one record (convert it now, or keep it for its columnar batch).

        Returns:
            True when the batch is full and should be drained.

        Raises:
            MissingKeyPropertiesError: a key property is absent from the record.
        """
        if self.columnar:
            return self._keep(record, line or 0)
        row = self._row_of(record, message, line)
        if row is None:
            return False
        rows = self._rows
        if not rows:
            self._batch_first_seq = self._record_seq + 1
            self._batch_first_line = line
        self._record_seq += 1
        self._batch_last_line = line
        rows.append(row)
        if self._quality is not None:
            self._records.append(record)
        return len(rows) >= self._batch_limit

    def line_route(self, on_full: Callable[[], None]) -> Callable[[bytes, int], None]:
        """A function taking this stream's raw RECORD lines (and their line numbers).

        It keeps each line for the stream's next columnar batch and calls
        ``on_full`` when the batch is full. The reader calls it for every record,
        so it is a closure over the buffers (``start_drain`` empties them in place).
        """
        lines = self._lines
        numbers = self._line_numbers
        keep_line = lines.append
        keep_number = numbers.append
        limit = self._batch_limit

        def route(line: bytes, number: int) -> None:
            keep_line(line)
            keep_number(number)
            if len(lines) >= limit:
                on_full()

        return route

    def lines_route(self, on_full: Callable[[], None]) -> Callable[[list[bytes], int], None]:
        """:meth:`line_route` for a run of consecutive lines (the first one's number given).

        The run is cut where a batch fills, so batches have the same bounds as
        line by line.
        """
        lines = self._lines
        numbers = self._line_numbers
        limit = self._batch_limit

        def route(run: list[bytes], first: int) -> None:
            start, total = 0, len(run)
            while start < total:
                take = min(total - start, limit - len(lines))
                if take == total:
                    lines.extend(run)
                else:
                    lines.extend(run[start : start + take])
                numbers.extend(range(first + start, first + start + take))
                start += take
                if len(lines) >= limit:
                    on_full()

        return route

    def _keep(self, entry: bytes | dict[str, Any], number: int) -> bool:
        self._lines.append(entry)
        self._line_numbers.append(number)
        return len(self._lines) >= self._batch_limit

    def _row_of(
        self, record: dict[str, Any], message: dict[str, Any], line: int | None
    ) -> tuple[Any, ...] | None:
        """One record as a row, or None after rejecting it with its reason."""
        # The hot path: attribute lookups are hoisted into setup (_compile).
        for key in self._key_fields:
            if record.get(key) is None:
                if key not in record:
                    raise MissingKeyPropertiesError(
                        f"stream '{self.stream_name}', input line {line}: record is missing "
                        f"key property {key!r} (key properties {self._key_fields})"
                    )
                self._reject(record, key, "key is null", line)
                return None
        if self._with_metadata:
            add_sdc_metadata(self, record, message)
        if self._preprocess:
            record = self.preprocess_record(record, record_context(self, record))
        if len(record) > self._field_count:
            self._warn_unknown(record)
        try:
            row = self._build_row(record)
            if self._empty_key_is_null:
                for pos, i in enumerate(self._key_index):
                    if row[i] == "":
                        raise Reject(
                            self._key_fields[pos],
                            f"empty string key: {self.connector.family} stores '' as NULL",
                        )
        except Reject as rej:
            self._reject(record, rej.field, rej.reason, line)
            return None
        return row

    def key_of(self, record: dict[str, Any]) -> Any:
        """The record's key values (for reject lines)."""
        if not self._key_fields:
            return None
        return {k: record.get(k) for k in self._key_fields}

    def _reject(
        self, record: dict[str, Any], field: str | None, reason: str, line: int | None
    ) -> None:
        self.host.reject(
            self.stream_name, record, field, reason, line=line, key=self.key_of(record)
        )

    def _warn_unknown(self, record: dict[str, Any]) -> None:
        for name in record.keys() - self._field_set:
            if name not in self._warned_fields:
                self._warned_fields.add(name)
                log.warning("target.field_not_in_schema", stream=self.stream_name, field=name)

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """The SDK's per-record hook; the target calls :meth:`accept` directly."""
        self.accept(record, {}, None)

    # --- batches ------------------------------------------------------------------

    @property
    def current_size(self) -> int:
        """Records waiting for the next batch."""
        return len(self._rows) + len(self._lines)

    def start_drain(self) -> dict[str, Any]:
        """Hand the collected rows (or raw lines) to :meth:`process_batch`."""
        if self._lines:
            context = super().start_drain()
            # Emptied in place: the reader's route closes over these lists.
            lines, numbers = self._lines[:], self._line_numbers[:]
            self._lines.clear()
            self._line_numbers.clear()
            first = self._record_seq + 1
            self._record_seq += len(lines)
            context["lines"], context["numbers"] = lines, numbers
            context["range"] = (first, self._record_seq, numbers[0], numbers[-1])
            return context
        if self._quality is not None:
            self._apply_quality_rules(self._quality)
        # The SDK's record counters, moved once per batch rather than once per record.
        self.tally_record_read(len(self._rows))
        self.record_counter_metric.increment(len(self._rows))
        context = super().start_drain()
        context["rows"], self._rows = self._rows, []
        context["range"] = self._range()
        return context

    def _range(self) -> tuple[int, int, int | None, int | None]:
        return (
            self._batch_first_seq,
            self._record_seq,
            self._batch_first_line,
            self._batch_last_line,
        )

    def process_batch(self, context: dict[str, Any]) -> None:
        """Load the batch in one transaction (DDL first), then release covered STATE.

        Raises:
            BatchLoadError: the batch was rolled back; names stream, range and cause.
        """
        if "lines" in context:
            self._process_columnar(context)
            return
        rows: list[tuple[Any, ...]] = context.get("rows") or []
        self.batches_sealed += 1
        if not rows:
            # Nothing left to write (every row rejected): trivially committed.
            self.batches_committed += 1
            self.host.batch_committed()
            return
        first, last, first_line, last_line = context["range"]
        try:
            self._load(rows)
        except Exception as exc:
            self.connector.forget(self.load_ref)
            raise BatchLoadError(self.stream_name, first, last, first_line, last_line, exc) from exc
        self.batches_committed += 1
        log.info(
            "target.batch_committed",
            stream=self.stream_name,
            table=str(self.load_ref),
            rows=len(rows),
            records=f"{first}-{last}",
        )
        self.host.batch_committed()

    # --- the columnar path --------------------------------------------------------

    def enable_columnar(self) -> bool:
        """Load this stream as Arrow columns when nothing per record is needed.

        Not for streams with ``add_record_metadata``, ``validation`` rules, a
        ``preprocess_record`` override, hard deletes, or a column whose type the
        stream no longer matches (a text column holding numbers, say).

        Returns:
            True when the stream now loads columnar.
        """
        from target_flext_oracle.columnar import supports

        self.columnar = (
            self.settings.columnar
            and self.connector.supports_columnar
            and not self._with_metadata
            and not self._preprocess
            and self._quality is None
            and not (self.settings.hard_delete and _DELETED_AT in self._fields)
            and all(supports(fp.source, fp.target) for fp in self.plan.fields)
        )
        return self.columnar

    def _process_columnar(self, context: dict[str, Any]) -> None:
        """Decode and check the batch here; load it on the loader thread, in order."""
        lines: list[bytes | dict[str, Any]] = context["lines"]
        numbers: list[int] = context["numbers"]
        first, last, first_line, last_line = context["range"]
        self.batches_sealed += 1
        started = time.perf_counter()
        table, rows, timings = self._decode_batch(lines, numbers)
        # The ledger counts rows as received (before upsert merges keys), as per record.
        received = int(timings.pop("received", len(rows)))
        timings.setdefault("check_ms", 0.0)
        timings["decode_ms"] = timings.get("decode_ms", (time.perf_counter() - started) * 1e3)
        loaded = table.num_rows if table is not None else len(rows)
        self.tally_record_read(loaded)
        self.record_counter_metric.increment(loaded)

        def run() -> None:
            queued = time.perf_counter()
            try:
                if table is not None and table.num_rows:
                    write_s, commit_s = self._load_arrow(table, received)
                    timings["write_ms"], timings["commit_ms"] = write_s * 1e3, commit_s * 1e3
                elif rows:
                    self._load(rows)
                    timings["write_ms"] = (time.perf_counter() - queued) * 1e3
            except Exception as exc:
                self.connector.forget(self.load_ref)
                raise BatchLoadError(
                    self.stream_name, first, last, first_line, last_line, exc
                ) from exc
            self.batches_committed += 1
            if loaded:
                log.info(
                    "target.batch_committed",
                    stream=self.stream_name,
                    table=str(self.load_ref),
                    rows=loaded,
                    records=f"{first}-{last}",
                    path="columnar" if table is not None else "per-record",
                    **{k: round(v, 1) for k, v in timings.items()},
                )
            self.host.batch_committed()

        label = f"{self.stream_name} records {first}-{last}"
        self.host.load_in_order(LoadJob(run, self.connector.cancel_bulk, label))

    def _decode_batch(
        self, lines: list[bytes | dict[str, Any]], numbers: list[int]
    ) -> tuple[pa.Table | None, list[tuple[Any, ...]], dict[str, float]]:
        """The batch as a checked Arrow table, or (refused) as per-record rows, with timings."""
        if len(lines) >= self.settings.columnar_min_rows and all(
            type(entry) is bytes for entry in lines
        ):
            # Imported here, with pyarrow, by the first batch that is big enough.
            from target_flext_oracle.columnar import Refused

            decoder = self._columnar_decoder()
            try:
                decoded = decoder.decode(cast(list[bytes], lines))
            except Refused as why:
                log.info(
                    "target.batch_per_record",
                    stream=self.stream_name,
                    lines=f"{numbers[0]}-{numbers[-1]}",
                    reason=str(why)[:300],
                )
            else:
                for index, field, reason in decoded.rejects:
                    record = _record_in(lines[index], numbers[index])
                    self._reject(record, field, reason, numbers[index])
                table = decoded.table
                received = table.num_rows
                if self.load_method is not LoadMethod.APPEND_ONLY and self.plan.keys:
                    table = self._dedupe_arrow(table)
                timings = {
                    "decode_ms": decoded.decode_s * 1e3,
                    "check_ms": decoded.check_s * 1e3,
                    "received": received,
                }
                return table, [], timings
        warned = len(self._warned_fields)
        rows = []
        for entry, number in zip(lines, numbers, strict=True):
            record = _record_in(entry, number)
            if not record.keys() <= self._field_set:
                # Every field outside the schema, so the rebuilt decoder can skip them.
                self._warn_unknown(record)
            row = self._row_of(record, {}, number)
            if row is not None:
                rows.append(row)
        if len(self._warned_fields) != warned:
            # Fields outside the schema were reported: later batches skip them quietly.
            self._decoder = None
        return None, rows, {}

    def _columnar_decoder(self) -> StreamDecoder:
        if self._decoder is None:
            from target_flext_oracle.columnar import StreamDecoder, column_specs

            strict = self.settings.validate_records
            empty_key = (
                f"empty string key: {self.connector.family} stores '' as NULL"
                if self._empty_key_is_null
                else None
            )
            self._decoder = StreamDecoder(
                column_specs(self.plan, self.connector, strict=strict),
                self._key_fields,
                empty_key_reason=empty_key,
                ignored=sorted(self._warned_fields),
            )
        return self._decoder

    def _dedupe_arrow(self, table: pa.Table) -> pa.Table:
        """Keep the last row per key (as the per-record path's dict does)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = list(self.plan.keys)
        indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
        last = indexed.group_by(keys, use_threads=False).aggregate([("__row", "max")])
        merged = table.num_rows - last.num_rows
        if not merged:
            return table
        self.tally_duplicate_merged(merged)
        kept = last.column("__row_max").combine_chunks()
        # The kept rows in arrival order (any order loads the same; this one reads better).
        return table.take(kept.take(pc.array_sort_indices(kept)))

    def _load_arrow(self, table: pa.Table, received: int) -> tuple[float, float]:
        """Load one checked batch in one transaction; returns (write, commit) seconds."""
        plan = self.plan
        upsert = self.load_method is not LoadMethod.APPEND_ONLY and bool(plan.keys)
        if self.connector.sizes_strings_from_data:
            self.connector.size_strings(plan, _observed_arrow(table, plan))
        ddl_ran = plan.has_ddl
        started = time.perf_counter()

        def count() -> None:
            # The run ledger counts the batch's records together with its commit.
            current_tally().add(self.stream_name, loaded=received)

        with self.connector.bulk_transaction(count) as session:
            self.connector.apply_plan(session.execute, plan, need_unique=upsert)
            self.connector.load_arrow(session, self.load_ref, plan, table, upsert=upsert)
            written = time.perf_counter()
        done = time.perf_counter()
        if ddl_ran:
            self.connector.plan_applied(plan, unique=upsert)
        return written - started, done - written

    @property
    def _quality_keys(self) -> list[str]:
        # The validator names rejects by key; its unique_key rule (on unless a stream's
        # rules say unique_key: false) also applies to append-only streams.
        return self._key_fields

    def _apply_quality_rules(self, quality: DataValidator) -> None:
        """Drop the rows the data validator rejects (it stores them with their reasons)."""
        records, self._records = self._records, []
        valid, _ = quality.validate_batch(self.stream_name, records, self._quality_keys)
        keep = {id(r) for r in valid}
        self._rows = [row for row, rec in zip(self._rows, records, strict=True) if id(rec) in keep]

    def _load(self, rows: list[tuple[Any, ...]]) -> None:
        plan = self.plan
        received = len(rows)
        # Overwrite with keys also deduplicates: the new table holds one row per key.
        upsert = self.load_method is not LoadMethod.APPEND_ONLY and bool(plan.keys)
        deletes: list[tuple[Any, ...]] = []
        if upsert:
            rows, deletes = self._dedupe(rows)
        if self.connector.sizes_strings_from_data:
            self.connector.size_strings(plan, self._observed(rows))
        ddl_ran = plan.has_ddl

        def committed() -> None:
            # The run ledger counts the batch's records together with its commit.
            current_tally().add(self.stream_name, loaded=received)

        with self.connector.begin(on_commit=committed) as conn:
            self.connector.apply_plan(conn.exec_driver_sql, plan, need_unique=upsert)
            if deletes:
                self.connector.delete_keys(conn, self.load_ref, plan.keys, deletes)
            if rows:
                if upsert:
                    self.connector.upsert_rows(conn, self.load_ref, plan, rows)
                else:
                    self.connector.insert_rows(conn, self.load_ref, plan, rows)
        if ddl_ran:
            self.connector.plan_applied(plan, unique=upsert)

    def _dedupe(
        self, rows: list[tuple[Any, ...]]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Keep the last row per key; split off hard deletes."""
        idx = self._key_index
        latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in rows:
            latest[tuple([row[i] for i in idx])] = row
        merged = len(rows) - len(latest)
        if merged:
            self.tally_duplicate_merged(merged)
        kept = list(latest.values())
        if not (self.settings.hard_delete and _DELETED_AT in self._fields):
            return kept, []
        di = self._fields.index(_DELETED_AT)
        deletes = [key for key, row in latest.items() if row[di] is not None]
        return [row for row in kept if row[di] is None], deletes

    def _observed(self, rows: list[tuple[Any, ...]]) -> dict[str, tuple[int, int]]:
        limit = self.connector.max_varchar_bytes or 0
        out: dict[str, tuple[int, int]] = {}
        for i, fp in enumerate(self.plan.fields):
            if fp.target.kind is not Kind.STRING:
                continue
            values = [r[i] for r in rows if type(r[i]) is str]
            chars = max(map(len, values), default=0)
            nbytes = chars
            if chars * 4 > limit:
                nbytes = max((len(v.encode()) for v in values if len(v) * 4 > limit), default=0)
                nbytes = max(nbytes, chars)
            out[fp.column] = (chars, nbytes)
        return out

    @property
    def has_pending_rows(self) -> bool:
        """True while records wait in the buffer (in no batch yet)."""
        return bool(self._rows or self._lines)

    def process_batch_files(self, encoding: BaseBatchFileEncoding, files: Sequence[str]) -> None:
        """A BATCH message: each record of its files is taken as a RECORD would be.

        Same conversion, rejects, batches and commits, so the table is the same
        whichever way the tap sent the records (``_batch_files``).
        """
        for record in batch_records(encoding, files, s3=current_settings().s3):
            if self.accept(record, _NO_MESSAGE, None):
                self.host.drain_now(self)

    def activate_version(self, new_version: int) -> None:
        """Soft-delete (or with ``hard_delete`` delete) rows of older table versions."""
        self.host.drain_now(self)
        ref = self.load_ref
        state = self.connector.describe(ref)
        if state is None or "_sdc_table_version" not in state.columns:
            log.info("target.activate_version_skipped", stream=self.stream_name, table=str(ref))
            return
        c = self.connector
        version = c.q("_sdc_table_version")
        with c.begin() as conn:
            if self.settings.hard_delete:
                conn.exec_driver_sql(
                    f"DELETE FROM {c.qt(ref)} WHERE {version} < {int(new_version)}"
                )
            elif _DELETED_AT in state.columns:
                sql = (
                    f"UPDATE {c.qt(ref)} SET {c.q(_DELETED_AT)} = {c.placeholder(0)} "
                    f"WHERE {version} < {c.placeholder(1)} AND {c.q(_DELETED_AT)} IS NULL"
                )
                now = dt.datetime.now(dt.UTC)
                stamp = c.adapter(LogicalType(Kind.TIMESTAMP))
                conn.exec_driver_sql(sql, ((stamp or _same)(now), int(new_version)))

    def clean_up(self) -> None:
        """Nothing to release per sink (the target swaps overwrite tables at the end)."""
        super().clean_up()


def _same(value: Any) -> Any:
    return value


def _record_in(entry: bytes | dict[str, Any], number: int) -> dict[str, Any]:
    """The record of a kept RECORD line (decoded as the reader decodes any line)."""
    if type(entry) is dict:
        return entry
    record = decode_line(cast(bytes, entry), number).get("record")
    if type(record) is not dict:
        raise TargetError(f"input line {number}: a RECORD message without a record object")
    return record


def _observed_arrow(table: pa.Table, plan: TablePlan) -> dict[str, tuple[int, int]]:
    """Longest string per column in characters and in UTF-8 bytes (Oracle sizes from these)."""
    import pyarrow.compute as pc

    out: dict[str, tuple[int, int]] = {}
    for i, fp in enumerate(plan.fields):
        if fp.target.kind is not Kind.STRING:
            continue
        column = table.column(i)
        chars = pc.max(pc.utf8_length(column)).as_py() or 0
        nbytes = pc.max(pc.binary_length(column)).as_py() or 0
        out[fp.column] = (chars, max(chars, nbytes))
    return out
