"""``build_data_validator``: the one way a ``DataValidator`` is wired.

The container's ``data_validator`` service and the target both build their
validator here, so both get the alert manager: a threshold broken inside the
target raises its ``threshold_breach`` alert (and rejects below a threshold
their ``data_quality_issue``) exactly as it does through the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra.quality._config import ValidationConfig
from flext_infra.quality._store import RejectStore
from flext_infra.quality._validator import DataValidator

if TYPE_CHECKING:
    from flext_infra.alerts import AlertManager


def build_data_validator(
    rules: ValidationConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    reject_store: RejectStore,
    alert_manager: AlertManager | None,
    pipeline_name: str | None,
) -> DataValidator:
    """A validator for one run: its rules, its reject store, and the run's alert manager.

    Args:
        rules: The rules (a plugin's ``validation`` setting, a YAML path, or None).
        reject_store: Where rejects go; its run id is the validator's.
        alert_manager: Receives ``threshold_breach`` and ``data_quality_issue``
            alerts (None only where no alerting exists, e.g. embedded use).
        pipeline_name: Put on the alerts (the job or the plugin's Meltano name).
    """
    return DataValidator(
        rules,
        reject_store=reject_store,
        alert_manager=alert_manager,
        run_id=reject_store.run_id,
        pipeline_name=pipeline_name,
    )
