"""Container registration of ``alert_manager`` (a singleton, closed on dispose)."""

from __future__ import annotations

from pathlib import Path

from flext_infra._environment import Environment
from flext_infra.alerts._manager import AlertManager, check_alert_settings
from flext_infra.environments._profiles import ALL, ServiceSpec
from flext_infra.settings import FlextSettings

_TEST = frozenset({Environment.TEST})


def _alert_manager(settings: FlextSettings, data_dir: Path) -> AlertManager:
    # Dedup/resolve state lives in the data dir so one run's failure can be
    # resolved by the next run (each `flext run` is a new process).
    return AlertManager.from_settings(settings.alert, state_path=data_dir / "alert-state.json")


def _test_alert_manager(settings: FlextSettings, data_dir: Path) -> AlertManager:
    # Test profile: the recording channel, zero waits between retries, and the
    # state next to the recorded alerts when a record dir is set.
    record_dir = settings.alert.record_dir
    state = (record_dir or data_dir) / "alert-state.json"
    return AlertManager.from_settings(
        settings.alert, recording=True, zero_waits=True, state_path=state
    )


def _check(settings: FlextSettings) -> list[str]:
    return check_alert_settings(settings.alert)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "alert_manager",
        _alert_manager,
        environments=ALL - _TEST,
        aliases=(AlertManager,),
        cleanup=AlertManager.close,
        check=_check,
    ),
    ServiceSpec(
        "alert_manager",
        _test_alert_manager,
        environments=_TEST,
        aliases=(AlertManager,),
        cleanup=AlertManager.close,
        check=_check,
    ),
)
