"""A plugin process's own row in the run ledger.

The tap and the target each record their run (``kind`` ``extractor`` or
``loader``), linked to ``flext run``'s row, or to each other, by Meltano's run
id (``MELTANO_RUN_ID``) when Meltano provides it. The row is written at start
(``running``, with a heartbeat, so a SIGKILLed plugin reads as ``abandoned``
once its TTL passes) and finished with the outcome and the per-stream numbers
of the :class:`~flext_infra.runs.StreamTally`.

Recording never fails the plugin: an unreachable ledger is logged and the run
goes on. Into an SQLite ledger it costs ``sqlite3`` and two small writes; it
never imports SQLAlchemy (the ledger's SQL is plain DB-API).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from flext_infra._exit import ExitCode
from flext_infra.observability import get_logger
from flext_infra.runs import (
    Heartbeat,
    RunKind,
    RunLedger,
    RunStatus,
    StreamRun,
    StreamTally,
    merge_streams,
    open_ledger,
)
from flext_infra.runtime._signals import Terminated
from flext_infra.settings import FlextSettings

log = get_logger("flext.runtime")

#: The loggers whose metric lines feed the tally: the SDK's (record_count) and
#: the data validator's (reject_count).
SDK_METRICS, FLEXT_METRICS = "singer_sdk.metrics", "flext.metrics"

StreamsHook = Callable[[], Iterable[StreamRun]]
HttpSnapshot = Callable[[], Mapping[str, Mapping[str, Any]]]


def outcome(exc: BaseException | None) -> tuple[RunStatus, int, str | None]:
    """The ledger status, exit code and error of a plugin process ending with ``exc``."""
    if exc is None:
        return RunStatus.SUCCEEDED, ExitCode.OK, None
    if isinstance(exc, Terminated):
        return RunStatus.TERMINATED, exc.exit_code, f"terminated by {exc.signal_name}"
    if isinstance(exc, KeyboardInterrupt):
        return RunStatus.TERMINATED, ExitCode.INTERRUPTED, "interrupted (SIGINT)"
    if isinstance(exc, SystemExit):
        code = exc.code
        if code in (0, None):
            return RunStatus.SUCCEEDED, ExitCode.OK, None
        number = code if isinstance(code, int) else ExitCode.FAILED
        cause = exc.__context__
        error = f"{type(cause).__name__}: {cause}" if cause else f"exited with status {code}"
        if number == ExitCode.QUOTA_EXHAUSTED:
            return RunStatus.QUOTA_EXHAUSTED, number, error
        if number in (ExitCode.TERMINATED, ExitCode.INTERRUPTED):
            return RunStatus.TERMINATED, number, error
        return RunStatus.FAILED, number, error
    return RunStatus.FAILED, ExitCode.FAILED, f"{type(exc).__name__}: {exc}"


class _MetricTap(logging.Handler):
    """Feeds the metric lines of one process into its tally."""

    def __init__(self, tally: StreamTally, count_records: bool) -> None:
        super().__init__(level=logging.INFO)
        self.tally = tally
        self.count_records = count_records

    def emit(self, record: logging.LogRecord) -> None:
        try:
            point: Any = record.args[0] if isinstance(record.args, tuple) and record.args else None
            if isinstance(point, str):  # the validator's lines carry JSON text
                point = json.loads(point)
                name, value, tags = point.get("metric"), point.get("value"), point.get("tags")
            else:
                name = getattr(getattr(point, "metric", None), "value", None)
                value, tags = getattr(point, "value", None), getattr(point, "tags", None)
            if not isinstance(value, int) or not isinstance(tags, dict) or "stream" not in tags:
                return
            stream = str(tags["stream"])
            if name == "record_count" and self.count_records:
                self.tally.add(stream, read=value)
            elif name == "reject_count":
                self.tally.add(stream, rejects=value)
        except Exception:  # a metric line we cannot read must never break the plugin
            return


class PluginRecorder:
    """The ledger row of one plugin process: started by :meth:`start`, ended by :meth:`finish`.

    Attributes:
        ledger: The open ledger, once the row is written (None until then, or when
            the ledger could not be reached).
        run_id: The row's run id.
    """

    def __init__(
        self,
        settings: FlextSettings,
        data_dir: Path,
        job: str,
        kind: RunKind,
        link_id: str | None,
        tally: StreamTally,
    ) -> None:
        self.ledger: RunLedger | None = None
        self.run_id = str(uuid.uuid4())
        self.job = job
        self.kind = kind
        self.tally = tally
        self.hooks: list[StreamsHook] = []
        self.http: list[HttpSnapshot] = []
        self._settings = settings
        self._data_dir = data_dir
        self._link_id = link_id
        self._stack = ExitStack()
        self._heartbeat: Heartbeat | None = None
        self._opening = threading.Thread(target=self._open, name="flext-ledger", daemon=True)

    @classmethod
    def start(
        cls,
        settings: FlextSettings,
        data_dir: Path,
        *,
        job: str,
        kind: RunKind,
        link_id: str | None,
        tally: StreamTally,
    ) -> PluginRecorder:
        """Start recording: the row is written from a thread, off the plugin's start-up path.

        A ledger that cannot be reached is logged and the run goes on unrecorded.
        """
        recorder = cls(settings, data_dir, job, kind, link_id, tally)
        for name, count_records in (
            (SDK_METRICS, kind is RunKind.EXTRACTOR),
            (FLEXT_METRICS, False),
        ):
            handler = _MetricTap(tally, count_records)
            logging.getLogger(name).addHandler(handler)
            recorder._stack.callback(logging.getLogger(name).removeHandler, handler)
        recorder._opening.start()
        return recorder

    def _open(self) -> None:
        try:
            self.ledger = self._stack.enter_context(
                contextlib.contextmanager(open_ledger)(self._settings, self._data_dir)
            )
            self.ledger.start(
                self.job, kind=self.kind, trigger=self._settings.runs.trigger,
                run_id=self.run_id, link_id=self._link_id,
            )  # fmt: skip
            self._heartbeat = self.ledger.heartbeat(self.run_id).start()
        except Exception as exc:
            self.ledger = None
            log.warning("runtime.ledger_unavailable", error=str(exc), job=self.job)

    def _push_metrics(self) -> None:
        metrics = self._settings.metrics
        if not metrics.enabled or self.ledger is None:
            return
        from flext_infra.metrics import HttpCollector, LedgerCollector, push_metrics

        collectors: list[Any] = [LedgerCollector(self.ledger, job=self.job)]
        collectors += [HttpCollector(snapshot) for snapshot in self.http[:1]]
        push_metrics(metrics, self.job, collectors)

    def finish(self, exc: BaseException | None) -> None:
        """Record the outcome of the run and its streams, then close the ledger."""
        try:
            self._opening.join(timeout=60)
            if self._heartbeat is not None:
                self._heartbeat.stop()
            if self.ledger is None:
                return
            status, code, error = outcome(exc)
            reported: list[StreamRun] = []
            for hook in self.hooks:
                try:
                    reported.extend(hook())
                except Exception as err:  # a plugin's hook must not lose the row
                    log.warning("runtime.streams_hook_failed", error=str(err))
            streams = merge_streams(self.tally.streams(), reported)
            self.ledger.finish(self.run_id, status, int(code), error=error, streams=streams)
            self._push_metrics()
        except Exception as err:
            log.warning("runtime.ledger_unwritable", run_id=self.run_id, error=str(err))
        finally:
            self._stack.close()
