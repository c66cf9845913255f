"""The runtime of one Singer plugin process: container, run context, alerts."""

from flext_infra.runtime._plugin import (
    PluginRun,
    RuntimeSignals,
    alert_degraded,
    current_run,
    current_settings,
    current_tally,
    is_sync_invocation,
    plugin_run,
    report_http,
    report_streams,
    run_plugin_cli,
    tune_gc_for_cli,
)
from flext_infra.runtime._recorder import PluginRecorder
from flext_infra.runtime._signals import (
    STOP_SIGNALS,
    Terminated,
    signal_name,
    signals_deferred,
    stop_on_signals,
)

__all__ = [
    "STOP_SIGNALS",
    "PluginRecorder",
    "PluginRun",
    "RuntimeSignals",
    "Terminated",
    "alert_degraded",
    "current_run",
    "current_settings",
    "current_tally",
    "is_sync_invocation",
    "plugin_run",
    "report_http",
    "report_streams",
    "run_plugin_cli",
    "signal_name",
    "signals_deferred",
    "stop_on_signals",
    "tune_gc_for_cli",
]
