"""The life of one Singer plugin process: its container, run context and alerts.

A tap or target's console script runs inside :func:`plugin_run`:

- the container is built for the active environment (``FLEXT_ENVIRONMENT``,
  which the Meltano environments set) and disposed when the process ends,
  even after a failure;
- ``run_id`` and ``job`` are bound to every log line (Meltano's run id and the
  plugin's Meltano name, e.g. ``tap-flext-api--allocation``);
- a failed sync or discovery raises a ``pipeline_failure`` alert through
  ``alert_manager`` (``meltano run`` discovers first, so an API outage often
  fails there), and a successful sync resolves an earlier failure of the same
  pipeline. A discovery that works says nothing about the sync, so it resolves
  nothing.

``--about``, ``--help`` and ``--version`` get the container but never alert.

A sync also records its own row in the run ledger (``PluginRecorder``): the
plugin adds to :func:`current_tally` and may register a hook with
:func:`report_streams` for what it knows only at the end (the tap's bookmarks).
The console script (:func:`run_plugin_cli`) turns SIGTERM and SIGINT into
:class:`~flext_infra.runtime.Terminated` in the main thread; the run is then
recorded as terminated, alerts, and the process exits 143 or 130.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flext_infra._environment import Environment
from flext_infra.container import Container, DisposeError
from flext_infra.environments import FlextContainer
from flext_infra.observability import bind_context, configure_logging, get_logger
from flext_infra.runs import RunKind, StreamTally
from flext_infra.runtime._recorder import HttpSnapshot, PluginRecorder, StreamsHook
from flext_infra.runtime._signals import Terminated, stop_on_signals
from flext_infra.settings import FlextSettings, load_settings

if TYPE_CHECKING:
    from flext_infra.alerts import AlertManager

_INFO_FLAGS = frozenset({"--about", "--help", "--version"})
_NOT_A_SYNC = _INFO_FLAGS | {"--discover", "--test"}
_current: contextvars.ContextVar[PluginRun | None] = contextvars.ContextVar(
    "flext_plugin_run", default=None
)


@dataclass(frozen=True)
class PluginRun:
    """What a plugin process runs with.

    Attributes:
        container: The services of the active environment.
        pipeline: The name alerts and logs use (the plugin's Meltano name).
        run_id: Meltano's run id, or a new one outside Meltano.
        alert_on_failure: Whether a failure raises an alert (syncs and discovery).
        resolve_on_success: Whether success resolves earlier alerts (syncs only).
        kind: ``extractor`` or ``loader``.
        tally: Per-stream counts for this process's ledger row.
        recorder: The ledger row being written (None outside a sync, or when
            recording is off).
    """

    container: Container
    pipeline: str
    run_id: str
    alert_on_failure: bool
    resolve_on_success: bool
    kind: RunKind = RunKind.EXTRACTOR
    tally: StreamTally = field(default_factory=StreamTally)
    recorder: PluginRecorder | None = None


def current_run() -> PluginRun | None:
    """The :class:`PluginRun` of this process, if the plugin runs inside :func:`plugin_run`."""
    return _current.get()


def current_tally() -> StreamTally:
    """The per-stream counts of this process's ledger row (a throwaway one outside a run)."""
    run = _current.get()
    return run.tally if run is not None else StreamTally()


def report_streams(hook: StreamsHook) -> None:
    """Have ``hook()`` add per-stream numbers (bookmarks, say) when the run is recorded.

    Called by a plugin once it knows what it runs; a no-op outside :func:`plugin_run`.
    """
    run = _current.get()
    if run is not None and run.recorder is not None:
        run.recorder.hooks.append(hook)


def report_http(snapshot: HttpSnapshot) -> None:
    """Have the run's pushed metrics include an HTTP client's per-host counters.

    ``snapshot`` is ``FlextHttpClient.metrics``; read once, when the run ends.
    """
    run = _current.get()
    if run is not None and run.recorder is not None:
        run.recorder.http.append(snapshot)


def _kind(plugin: str) -> RunKind:
    return RunKind.LOADER if plugin.startswith("target") else RunKind.EXTRACTOR


def _flags(argv: Sequence[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in argv}


def current_settings() -> FlextSettings:
    """The ``FLEXT_*`` settings of this process: the runtime container's, else read afresh.

    Plugins call this instead of reading the environment themselves, so that a
    plugin process has one source of settings (embedded use has no runtime).
    """
    run = current_run()
    return run.container.resolve(FlextSettings) if run is not None else load_settings()


def is_sync_invocation(argv: Sequence[str]) -> bool:
    """True unless the command line asks for metadata or a check (``--about``, ``--discover``…)."""
    return not _flags(argv) & _NOT_A_SYNC


def _exit_succeeded(exc: BaseException) -> bool:
    return isinstance(exc, SystemExit) and exc.code in (0, None)


@contextlib.contextmanager
def plugin_run(
    plugin: str,
    *,
    environment: Environment | str | None = None,
    argv: Sequence[str] | None = None,
) -> Iterator[PluginRun]:
    """Run one plugin process with its container, log context and alerts.

    Args:
        plugin: The plugin's name (``tap-flext-api``); Meltano's name for it wins.
        environment: Overrides ``FLEXT_ENVIRONMENT``.
        argv: The command line (``sys.argv[1:]`` by default), to tell syncs from
            metadata calls.
    """
    # The runtime uses the core services and alerts; plugins build their own HTTP
    # clients and connections from their config. The other subsystems would only
    # cost imports (~20 ms of every start).
    container = FlextContainer.for_environment(environment, subsystems=("alerts",))
    # Logging first: unconfigured structlog prints to stdout, which carries Singer messages.
    container.resolve("logger")
    log = get_logger("flext.runtime")
    kind = _kind(plugin)
    # Meltano gives a loader its extractor's name too: take the variable of our own kind.
    own = "MELTANO_LOADER_NAME" if kind is RunKind.LOADER else "MELTANO_EXTRACTOR_NAME"
    pipeline = os.environ.get(own) or plugin
    meltano_run_id = os.environ.get("MELTANO_RUN_ID")
    run_id = meltano_run_id or uuid.uuid4().hex
    args = sys.argv[1:] if argv is None else argv
    sync = is_sync_invocation(args)
    tally = StreamTally()
    settings = container.resolve(FlextSettings)
    recorder = None
    if sync and settings.runs.record_plugin_runs:
        recorder = PluginRecorder.start(
            settings, container.resolve("data_dir"), job=pipeline, kind=kind,
            link_id=meltano_run_id, tally=tally,
        )  # fmt: skip
    run = PluginRun(
        container=container,
        pipeline=pipeline,
        run_id=run_id,
        alert_on_failure=not _flags(args) & _INFO_FLAGS,
        resolve_on_success=sync,
        kind=kind,
        tally=tally,
        recorder=recorder,
    )
    bind_context(run_id=run_id, job=pipeline)
    token = _current.set(run)
    ended: BaseException | None = None
    try:
        yield run
    except BaseException as exc:
        ended = exc
        if _exit_succeeded(exc):
            _resolve(run)
        elif run.alert_on_failure:
            _alert_failure(run, exc)
        raise
    else:
        _resolve(run)
    finally:
        if recorder is not None:
            recorder.finish(ended)
        _current.reset(token)
        try:
            container.dispose()
        except DisposeError as err:  # cleanup trouble must not mask the run's outcome
            log.error("runtime.dispose_failed", error=str(err), services=err.failed_keys)


def _alert_failure(run: PluginRun, exc: BaseException) -> None:
    error: BaseException | str = exc
    if isinstance(exc, Terminated):
        error = f"terminated by {exc.signal_name}"
    elif isinstance(exc, SystemExit):
        # Click exits with the code; the cause (if any) is the context.
        error = exc.__context__ or RuntimeError(f"exited with status {exc.code}")
    manager = _alert_manager(run)
    if manager is not None:
        manager.send_pipeline_failure_alert(run.pipeline, error, context={"run_id": run.run_id})


def _alert_manager(run: PluginRun) -> AlertManager | None:
    """The run's ``alert_manager``, or ``None`` (logged) when it cannot be built."""
    manager = run.container.try_resolve("alert_manager")
    if manager.is_failure:
        get_logger("flext.runtime").error(
            "runtime.alert_unavailable", reason=manager.reason, error=manager.error
        )
        return None
    resolved: AlertManager = manager.unwrap()
    return resolved


def alert_degraded(service: str, message: str) -> None:
    """A ``connectivity_failure`` alert (medium) from the running plugin: a service it
    uses is unreachable and the run goes on without it (nothing outside a run).

    The alert is filed under the service, not the plugin's pipeline, so the
    run's own success does not resolve it: the service is still down.
    """
    run = current_run()
    manager = None if run is None else _alert_manager(run)
    if run is None or manager is None:
        return
    manager.send_connectivity_alert(
        service,
        message,
        context={"run_id": run.run_id, "job": run.pipeline},
        pipeline_name=service,
        severity="medium",
    )


def _resolve(run: PluginRun) -> None:
    if not run.resolve_on_success:
        return
    manager = run.container.try_resolve("alert_manager")
    if manager.is_success:
        manager.unwrap().pipeline_succeeded(run.pipeline)


def tune_gc_for_cli() -> None:
    """Collector settings for a plugin's console script, called after its imports.

    ``gc.freeze()``: everything imported so far lives for the whole process, so
    it is kept out of every later collection's scan (~7% of a large load).

    The thresholds stay CPython's. A generation-0 threshold of 50,000 made a
    200k-record load ~5% faster, but it tripled the tap's 1M-record peak
    memory (142 -> 429 MiB) while httpx responses sat in reference cycles
    (the client now breaks them): rarer collections let any cyclic garbage,
    and whatever it holds, live longer.

    Only console scripts call this; an embedding process keeps its own collector.
    """
    gc.freeze()


def run_plugin_cli(plugin: str, plugin_class: Any) -> None:
    """Run a Singer plugin's command line inside :func:`plugin_run`.

    The console-script body of the tap and the target. ``plugin_class.cli`` is
    the Singer SDK's click command; reading it installs the SDK's own console
    log handler, so logging is configured again afterwards and ours replaces
    it (one pipeline, no doubled lines). Nothing here imports Singer code.
    """
    try:
        with stop_on_signals(), plugin_run(plugin) as run:
            command = plugin_class.cli
            configure_logging(run.container.resolve(FlextSettings))
            command()
    except Terminated as stop:
        raise SystemExit(stop.exit_code) from None


class RuntimeSignals:
    """Mixin for a Singer plugin class: the runtime, not the SDK, handles SIGTERM and SIGINT.

    The SDK's handler (``PluginBase._setup_signal_handlers``) drains every sink
    from inside the signal handler and exits 0; :func:`run_plugin_cli` instead
    raises :class:`Terminated` in the main thread. Put this mixin before the
    SDK base class. ``tests/runtime`` fails if the SDK renames the hook.
    """

    def _setup_signal_handlers(self) -> None:
        """Leave the handlers :func:`run_plugin_cli` installed in place."""
