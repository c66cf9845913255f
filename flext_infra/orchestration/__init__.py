"""Orchestration: Meltano projects, jobs and the ``orchestrator`` service.

The Dagster integration is the subpackage ``flext_infra.orchestration.dagster``
(the ``dagster`` extra); it is never imported from here.
"""

from flext_infra.orchestration._errors import (
    JobNotFoundError,
    MeltanoNotFoundError,
    OrchestrationError,
    ProjectNotFoundError,
)
from flext_infra.orchestration._loads import JobLoads, LoadedTable, ProjectSettings
from flext_infra.orchestration._metrics import RunMetrics
from flext_infra.orchestration._orchestrator import (
    DRY_RUN,
    EXIT_CODES,
    FAILED,
    LEDGER_STATUS,
    PLUGIN_EXIT_STATUS,
    QUOTA_EXHAUSTED,
    REFUSED,
    SUCCESS,
    TERMINATED,
    TIMED_OUT,
    JobRunResult,
    Orchestrator,
    find_meltano,
)
from flext_infra.orchestration._project import MeltanoJob, MeltanoProject, MeltanoSchedule

__all__ = [
    "DRY_RUN",
    "EXIT_CODES",
    "FAILED",
    "LEDGER_STATUS",
    "PLUGIN_EXIT_STATUS",
    "QUOTA_EXHAUSTED",
    "REFUSED",
    "SUCCESS",
    "TERMINATED",
    "TIMED_OUT",
    "JobLoads",
    "JobNotFoundError",
    "JobRunResult",
    "LoadedTable",
    "MeltanoJob",
    "MeltanoNotFoundError",
    "MeltanoProject",
    "MeltanoSchedule",
    "OrchestrationError",
    "Orchestrator",
    "ProjectNotFoundError",
    "ProjectSettings",
    "RunMetrics",
    "find_meltano",
]
