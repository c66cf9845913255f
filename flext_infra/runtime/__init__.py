"""The runtime of one Singer plugin process: container, run context, alerts."""

from flext_infra.runtime._plugin import (
    PluginRun,
    current_run,
    current_settings,
    is_sync_invocation,
    plugin_run,
    run_plugin_cli,
    tune_gc_for_cli,
)

__all__ = [
    "PluginRun",
    "current_run",
    "current_settings",
    "is_sync_invocation",
    "plugin_run",
    "run_plugin_cli",
    "tune_gc_for_cli",
]
