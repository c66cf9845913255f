"""Dagster: the project's Meltano jobs as assets, jobs, schedules and asset checks.

Behind the ``flext-meltano[dagster]`` extra; the only package that imports
Dagster (with ``flext_infra.orchestration.dagster_defs``, the module
``dagster dev -m`` loads). Build the definitions with :func:`flext_definitions`.
"""

from flext_infra.orchestration.dagster._assets import (
    ENVIRONMENT_TAG,
    MELTANO_JOB_TAG,
    RESOURCE_KEY,
)
from flext_infra.orchestration.dagster._checks import (
    FRESHNESS,
    MIN_RECORDS,
    REJECT_RATIO,
    StreamNumbers,
)
from flext_infra.orchestration.dagster._definitions import flext_definitions
from flext_infra.orchestration.dagster._names import dagster_name
from flext_infra.orchestration.dagster._resource import MeltanoResource, MeltanoRun
from flext_infra.orchestration.dagster._schedules import is_cron_tick

__all__ = [
    "ENVIRONMENT_TAG",
    "FRESHNESS",
    "MELTANO_JOB_TAG",
    "MIN_RECORDS",
    "REJECT_RATIO",
    "RESOURCE_KEY",
    "MeltanoResource",
    "MeltanoRun",
    "StreamNumbers",
    "dagster_name",
    "flext_definitions",
    "is_cron_tick",
]
