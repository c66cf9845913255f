"""The ``data_validator`` service: validate batches, store rejects, judge thresholds."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from flext_infra.observability import get_logger
from flext_infra.quality._compile import CompiledStream, compile_stream, parse_timestamp
from flext_infra.quality._config import ValidationConfig, load_rules
from flext_infra.quality._report import Breach, QualityReport, StreamReport
from flext_infra.quality._store import Reject, RejectStore

if TYPE_CHECKING:
    from flext_infra.alerts import AlertManager

log = get_logger("flext.quality")
_metrics = logging.getLogger("flext.metrics")

Record = dict[str, Any]


def current_run_id() -> str:
    """The ``run_id`` bound to the log context, or a new one."""
    bound = structlog.contextvars.get_contextvars().get("run_id")
    return str(bound) if bound else uuid.uuid4().hex


class DataValidator:
    """Checks records against the stream schema and configured rules.

    Use one per run (the container's ``data_validator`` is transient)::

        validator.configure(plugin_config.get("validation"))   # dict, YAML path or None
        validator.register_stream("order_hdr", schema, ["id"], "mod_ts")  # on SCHEMA
        valid, rejects = validator.validate_batch("order_hdr", records, ["id"])
        report = validator.finish()        # raises ThresholdBreachError on a breach

    Rejected records go to the reject store as they are found: nothing is
    dropped silently.

    Args:
        config: Rules (a :class:`ValidationConfig`, a mapping, a YAML path, or None).
        reject_store: Where rejects go; a store with no file when None.
        alert_manager: Receives threshold-breach and data-quality alerts.
        run_id: Identifies the run in rejects and the report.
        pipeline_name: Put on alerts.
        sample_size: Sample failures kept per stream in the report.
        clock: The current time (tests pass a fixed one).
    """

    def __init__(
        self,
        config: ValidationConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        reject_store: RejectStore | None = None,
        alert_manager: AlertManager | None = None,
        run_id: str | None = None,
        pipeline_name: str | None = None,
        sample_size: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = load_rules(config)
        self.run_id = run_id or (reject_store.run_id if reject_store else current_run_id())
        self.reject_store = reject_store or RejectStore(None, run_id=self.run_id)
        self.alert_manager = alert_manager
        self.pipeline_name = pipeline_name
        self.sample_size = sample_size
        self._clock = clock
        self._compiled: dict[str, CompiledStream] = {}
        self._reports: dict[str, StreamReport] = {}
        self._newest: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._finished: QualityReport | None = None

    def configure(
        self,
        rules: ValidationConfig | Mapping[str, Any] | str | Path | None,
        *,
        base_dir: Path | None = None,
    ) -> None:
        """Replace the rules (a plugin's ``validation`` setting or a YAML path).

        Streams already registered are recompiled on their next batch.

        Raises:
            ConfigurationError: the rules are invalid; the message names the key.
        """
        self.config = load_rules(rules, base_dir=base_dir)
        self._compiled.clear()

    def register_stream(
        self,
        stream: str,
        schema: Mapping[str, Any] | None = None,
        key_properties: Sequence[str] = (),
        replication_key: str | None = None,
    ) -> CompiledStream:
        """Compile the stream's rules (call on its SCHEMA message).

        A registered stream is judged by ``min_records`` even if no record comes.
        """
        compiled = compile_stream(
            stream,
            self.config.for_stream(stream),
            schema=schema,
            key_properties=key_properties,
            replication_key=replication_key,
            now=self._clock,
        )
        with self._lock:
            self._compiled[stream] = compiled
            self._reports.setdefault(stream, StreamReport(stream))
        return compiled

    def validate_batch(
        self,
        stream: str,
        records: Sequence[Record],
        key_properties: Sequence[str] | None = None,
        *,
        schema: Mapping[str, Any] | None = None,
        replication_key: str | None = None,
    ) -> tuple[list[Record], list[Reject]]:
        """Split a batch into valid records and rejects; rejects are stored at once.

        Records keep their order. Of several records with the same primary key in
        one batch, the last is kept (Singer's newest-wins) and the earlier ones
        are rejected with rule ``unique``.

        Returns:
            ``(valid_records, rejects)``.
        """
        compiled = self._compiled.get(stream)
        if compiled is None or (
            key_properties is not None
            and tuple(key_properties) != compiled.key_properties
            and self.config.for_stream(stream).key_properties is None
        ):
            compiled = self.register_stream(stream, schema, key_properties or (), replication_key)
        failures_by_index: dict[int, list[tuple[str, str, str]]] = {}
        for i, record in enumerate(records):
            found = compiled.check(record)
            if found:
                failures_by_index[i] = [(f.field, f.rule, f.reason) for f in found]
        keys = compiled.key_properties
        if compiled.unique_key and keys:
            last: dict[tuple[Any, ...], int] = {}
            for i, record in enumerate(records):
                if i in failures_by_index:
                    continue
                try:
                    last[tuple(record.get(k) for k in keys)] = i
                except TypeError:
                    continue  # an unhashable key value was reported by its type check
            for i, record in enumerate(records):
                if i in failures_by_index:
                    continue
                key = tuple(record.get(k) for k in keys)
                kept = last.get(key, i)
                if kept != i:
                    shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, key, strict=True))
                    failures_by_index[i] = [
                        (
                            keys[0],
                            "unique",
                            f"duplicate key ({shown}) in batch; record {kept} kept",
                        )
                    ]

        valid: list[Record] = []
        rejects: list[Reject] = []
        fresh_field = compiled.freshness_field
        newest: datetime | None = None
        for i, record in enumerate(records):
            failed = failures_by_index.get(i)
            if failed is None:
                valid.append(record)
                if fresh_field is not None:
                    ts = parse_timestamp(record.get(fresh_field))
                    if ts is not None and (newest is None or ts > newest):
                        newest = ts
                continue
            field, rule, reason = failed[0]
            rejects.append(
                Reject(
                    stream,
                    {k: record.get(k) for k in keys},
                    field,
                    rule,
                    reason,
                    record,
                    tuple(failed),
                )
            )
        if rejects:
            self.reject_store.write_many(rejects)
        self._account(stream, len(records), rejects, newest)
        return valid, rejects

    def _account(
        self, stream: str, received: int, rejects: list[Reject], newest: datetime | None
    ) -> None:
        with self._lock:
            report = self._reports.setdefault(stream, StreamReport(stream))
            report.records += received
            report.rejected += len(rejects)
            for r in rejects:
                for field, rule, reason in r.failures:
                    report.by_rule[rule] += 1
                    report.by_field[f"{field}:{rule}"] += 1
                    if len(report.samples) < self.sample_size:
                        report.samples.append(
                            {"key": r.key, "field": field, "rule": rule, "reason": reason}
                        )
            if newest is not None:
                old = self._newest.get(stream)
                if old is None or newest > old:
                    self._newest[stream] = newest
                    report.newest = newest.isoformat()

    def report(self) -> QualityReport:
        """The report so far, with thresholds judged (sends no alert)."""
        with self._lock:
            streams = {
                name: StreamReport(
                    r.stream,
                    r.records,
                    r.rejected,
                    r.by_rule.copy(),
                    r.by_field.copy(),
                    list(r.samples),
                    r.newest,
                )
                for name, r in self._reports.items()
            }
        breaches: list[Breach] = []
        warnings: list[Breach] = []
        for name, sr in streams.items():
            limits = self.config.thresholds(name)
            if limits.min_records is not None and sr.records < limits.min_records:
                breaches.append(
                    Breach(
                        name,
                        "min_records",
                        f"{sr.records} records received; at least {limits.min_records} expected",
                    )
                )
            if (
                limits.max_reject_ratio is not None
                and sr.records
                and sr.reject_ratio > limits.max_reject_ratio
            ):
                breaches.append(
                    Breach(
                        name,
                        "max_reject_ratio",
                        f"{sr.rejected}/{sr.records} records rejected "
                        f"({sr.reject_ratio:.2%}) > max {limits.max_reject_ratio:.2%}",
                    )
                )
            rules = self.config.for_stream(name)
            compiled = self._compiled.get(name)
            if rules.freshness is not None and compiled is not None and sr.records:
                newest = self._newest.get(name)
                age_limit = rules.freshness.max_age
                stale = breaches if rules.freshness.action == "fail" else warnings
                if newest is None:
                    stale.append(
                        Breach(
                            name,
                            "freshness",
                            f"no valid {compiled.freshness_field} value to judge freshness",
                        )
                    )
                else:
                    age = (self._clock() - newest).total_seconds()
                    if age > age_limit:
                        stale.append(
                            Breach(
                                name,
                                "freshness",
                                f"newest {compiled.freshness_field} {newest.isoformat()} is "
                                f"{age:.0f}s old > max_age {age_limit:.0f}s",
                            )
                        )
        path = str(self.reject_store.path) if self.reject_store.path else None
        return QualityReport(self.run_id, streams, breaches, path, warnings)

    def finish(self, *, raise_on_breach: bool = True) -> QualityReport:
        """Judge thresholds, alert, log the summary and close the reject store.

        Alerts: one ``threshold_breach`` (high) per broken threshold, and one
        ``data_quality_issue`` (low) per stream that had rejects without breaking
        a threshold. Calling it again returns the same report.

        Raises:
            ThresholdBreachError: a threshold was broken and ``raise_on_breach``.
        """
        if self._finished is None:
            report = self.report()
            self._finished = report
            self.reject_store.close()
            for name, sr in report.streams.items():
                # The Singer SDK's metric line format, so the orchestrator counts
                # rejects per stream from the logs as it counts records.
                _metrics.info(
                    "METRIC: %s",
                    json.dumps(
                        {
                            "type": "counter",
                            "metric": "reject_count",
                            "value": sr.rejected,
                            "tags": {"stream": name, "records": sr.records},
                        }
                    ),
                )
                log.info(
                    "quality.stream_summary",
                    stream_name=name,
                    records=sr.records,
                    rejected=sr.rejected,
                    by_rule=dict(sr.by_rule),
                )
            self._alert(report)
        report = self._finished
        if raise_on_breach:
            report.raise_if_failed()
        return report

    def _alert(self, report: QualityReport) -> None:
        breached = {b.stream for b in report.breaches}
        for b in report.breaches:
            log.error("quality.threshold_broken", stream_name=b.stream, kind=b.kind, msg=b.message)
            if self.alert_manager is not None:
                self.alert_manager.send_threshold_breach_alert(
                    b.stream,
                    b.message,
                    pipeline_name=self.pipeline_name,
                    context={
                        "threshold": b.kind,
                        "run_id": report.run_id,
                        "reject_path": report.reject_path,
                    },
                )
        for w in report.warnings:
            log.warning("quality.warning", stream_name=w.stream, kind=w.kind, msg=w.message)
        if self.alert_manager is None:
            return
        for w in report.warnings:
            self.alert_manager.send_data_quality_alert(
                w.stream,
                w.message,
                pipeline_name=self.pipeline_name,
                severity="low",
                context={"check": w.kind, "run_id": report.run_id},
            )
        for name, sr in report.streams.items():
            if sr.rejected and name not in breached:
                self.alert_manager.send_data_quality_alert(
                    name,
                    f"{sr.rejected} of {sr.records} records rejected",
                    pipeline_name=self.pipeline_name,
                    severity="low",
                    context={"by_rule": dict(sr.by_rule), "run_id": report.run_id},
                )

    def close(self) -> None:
        """Close the reject store (without judging thresholds)."""
        self.reject_store.close()
