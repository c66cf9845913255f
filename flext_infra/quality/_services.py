"""Container registration of ``data_validator`` (transient: one per run or stream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flext_infra.alerts import AlertManager
from flext_infra.container import Lifetime
from flext_infra.environments._profiles import ServiceSpec
from flext_infra.quality._build import build_data_validator
from flext_infra.quality._store import RejectStore
from flext_infra.quality._validator import DataValidator, current_run_id
from flext_infra.settings import FlextSettings


def _data_validator(
    settings: FlextSettings, alert_manager: AlertManager, data_dir: Path
) -> Iterator[DataValidator]:
    # Rules start empty (schema checks and key uniqueness only); the plugin
    # passes its own with `validator.configure(config["validation"])`.
    location = settings.quality.reject_url or data_dir / "rejects"
    store = RejectStore.for_url(location, current_run_id(), s3=settings.s3)
    validator = build_data_validator(
        reject_store=store, alert_manager=alert_manager, pipeline_name=settings.alert.pipeline_name
    )
    try:
        yield validator
    finally:
        validator.close()


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "data_validator", _data_validator, lifetime=Lifetime.TRANSIENT, aliases=(DataValidator,)
    ),
)
