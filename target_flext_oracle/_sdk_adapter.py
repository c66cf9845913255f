"""The one place this target overrides private or ``@final`` singer-sdk methods.

Checked against singer-sdk 0.54 (:data:`CHECKED_SDK_VERSIONS`).
``tests/target/test_sdk_adapter.py`` fingerprints the source of every SDK
method replaced or bypassed here and fails when the installed SDK differs, so
an SDK upgrade is a deliberate step: re-read the methods, adjust this module,
then update the fingerprints.

What is replaced, and why:

* ``Target._process_record_message``: records go straight to the sink's
  typed conversion (no per-record jsonschema validation, no deep copies) or,
  for the columnar path, stay raw lines until their batch is decoded.
* ``Target._process_state_message`` and ``Target._write_state_message``:
  STATE goes through the :class:`~target_flext_oracle._state_gate.StateGate`
  (released after the batches it covers committed), not "after all sinks drain".
* ``Target.drain_one`` (``@final``): the SDK's drain, then the gate's
  stalled-STATE check.
* ``Target.process_lines`` (``@final``): the SDK's reading loop, releasing
  the engine and reject files when it ends with any exception.

Sink hooks: the SDK's per-record loop called ``_validate_and_parse``,
``preprocess_record``, ``_singer_validate_message``, ``tally_record_read``,
``process_record``, ``record_counter_metric.increment`` and
``_after_process_record`` for each record. Here:

* ``preprocess_record`` is honoured: a sink class that overrides it gets it
  called on every record, before conversion (and loads per record).
* the record counters (``tally_record_read``, ``record_counter_metric``) are
  incremented once per batch with the batch's row count.
* ``process_record``, ``_after_process_record``, ``_validate_and_parse`` and
  ``_singer_validate_message`` are never called: a ``FlextSink`` subclass that
  overrides one is refused when the class is defined (:func:`refuse_dropped_hooks`),
  instead of being silently skipped.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import IO, TYPE_CHECKING, Any

from singer_sdk.sinks import Sink
from singer_sdk.sql import SQLTarget

from target_flext_oracle._errors import TargetError

if TYPE_CHECKING:
    from collections import Counter

#: singer-sdk minor versions this module was checked against.
CHECKED_SDK_VERSIONS: tuple[str, ...] = ("0.54",)

#: SDK methods replaced here, or whose behaviour this module builds on (``drain_all``
#: calls ``_write_state_message``; ``start_drain`` hands over the batch context;
#: ``_process_batch_message`` hands BATCH files to ``Sink.process_batch_files``), as
#: ``module.Class.method`` under ``singer_sdk``. The test fingerprints their source.
SDK_METHODS_CHECKED: tuple[str, ...] = (
    "target_base.Target._process_record_message",
    "target_base.Target._process_state_message",
    "target_base.Target._write_state_message",
    "target_base.Target.drain_one",
    "target_base.Target.drain_all",
    "target_base.Target._process_batch_message",
    "plugin_base.BaseSingerReader.process_lines",
    "sinks.core.Sink._add_sdc_metadata_to_record",
    "sinks.core.Sink._get_context",
    "sinks.core.Sink.start_drain",
)

#: Sink hooks the SDK's per-record loop called and this target never calls.
DROPPED_SINK_HOOKS: dict[str, str] = {
    "process_record": "records are converted in accept() and loaded per batch",
    "_after_process_record": "there is no per-record post-processing step",
    "_validate_and_parse": "typed conversion replaces per-record jsonschema validation",
    "_singer_validate_message": "typed conversion replaces per-record jsonschema validation",
}


def refuse_dropped_hooks(cls: type[Sink]) -> None:
    """Refuse a sink class that overrides a hook this target never calls.

    Raises:
        TargetError: naming the hook, why it is not called, and what to override instead.
    """
    for name, why in DROPPED_SINK_HOOKS.items():
        for klass in cls.__mro__:
            if klass.__module__.startswith(("singer_sdk.", "target_flext_oracle.")):
                break
            if name in vars(klass):
                raise TargetError(
                    f"{klass.__qualname__} overrides {name}(), which target-flext-oracle never "
                    f"calls ({why}); override preprocess_record() to change records instead"
                )


def overrides_preprocess(sink: Sink) -> bool:
    """True when the sink's class overrides the SDK's ``preprocess_record``."""
    return type(sink).preprocess_record is not Sink.preprocess_record


def record_context(sink: Sink, record: dict[str, Any]) -> dict[str, Any]:
    """The context the SDK passes to ``preprocess_record`` (``Sink._get_context``)."""
    context: dict[str, Any] = sink._get_context(record)
    return context


def add_sdc_metadata(sink: Sink, record: dict[str, Any], message: dict[str, Any]) -> None:
    """The SDK's ``_sdc_*`` metadata columns, with one batch id per pending batch."""
    pending = sink._pending_batch
    if pending is None:
        pending = sink._pending_batch = {
            "batch_id": str(uuid.uuid4()),
            "batch_start_time": dt.datetime.now(tz=dt.UTC),
        }
    sink._add_sdc_metadata_to_record(record, message, pending)


class SdkTargetAdapter(SQLTarget):
    """The SDK target with its record, STATE, drain and reading hooks routed to ours.

    Subclasses implement :meth:`on_record_message`, :meth:`on_state`,
    :meth:`on_all_drained`, :meth:`after_drain` and :meth:`on_abort`.
    """

    # --- what subclasses implement ---------------------------------------------

    def on_record_message(self, message: dict[str, Any]) -> None:
        """One RECORD message (a dict)."""
        raise NotImplementedError

    def on_state(self, state: dict[str, Any]) -> None:
        """One STATE message's value."""
        raise NotImplementedError

    def on_all_drained(self, state: dict[str, Any]) -> None:
        """Every sink drained (``drain_all``); ``state`` is the latest STATE value."""
        raise NotImplementedError

    def after_drain(self) -> None:
        """A sink was drained (its batch committed or failed)."""

    def on_input_end(self) -> None:
        """Every input line was read (before ``process_endofpipe``)."""

    def on_abort(self) -> None:
        """Reading ended with an exception (any ``BaseException``)."""

    # --- SDK hooks ---------------------------------------------------------------

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        self.on_record_message(message_dict)

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        self._latest_state = state
        self.on_state(state)

    def _write_state_message(self, state: dict[str, Any]) -> None:
        # Called by the SDK's drain_all() after every sink drained.
        self.on_all_drained(state)

    def drain_one(self, sink: Sink) -> None:  # type: ignore[misc]
        """The SDK's drain (``@final`` there), then :meth:`after_drain`."""
        super().drain_one(sink)
        self.after_drain()

    def process_lines(self, file_input: IO[str] | None) -> Counter[str]:  # type: ignore[misc]
        """The SDK's reading loop (``@final`` there), then :meth:`on_input_end`; :meth:`on_abort`
        on any exception."""
        try:
            counts = super().process_lines(file_input)
            self.on_input_end()
        except BaseException:
            self.on_abort()
            raise
        return counts

    # --- SDK state, read through one door ------------------------------------------

    def sinks(self) -> list[Sink]:
        """Every sink still holding or loading rows: replaced ones first, then active ones."""
        return [*self._sinks_to_clear, *self._sinks_active.values()]

    def active_sink(self, stream_name: str) -> Sink | None:
        """The active sink of a stream (alias), if any."""
        return self._sinks_active.get(stream_name)

    def check_record_age(self) -> None:
        """The SDK's max-record-age rule (drains everything past its age limit)."""
        self._handle_max_record_age()
