"""Orchestration errors."""

from __future__ import annotations

from flext_infra._errors import ConfigurationError, FlextInfraError


class OrchestrationError(FlextInfraError):
    """Root of the orchestrator's errors."""


class ProjectNotFoundError(OrchestrationError, ConfigurationError):
    """No ``meltano.yml`` where it was looked for. Pass ``--project-root``."""


class JobNotFoundError(OrchestrationError, ConfigurationError):
    """The project has no job by that name. The message lists the jobs it has."""


class MeltanoNotFoundError(OrchestrationError):
    """The ``meltano`` executable could not be found."""
