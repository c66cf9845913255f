"""The Dagster resource that runs Meltano jobs through the project's orchestrator.

Each run builds the container of the Meltano environment's ``FLEXT_ENVIRONMENT``
(``prod`` -> production, as meltano.yml's ``env:`` says), resolves its
``orchestrator`` and runs ``meltano --environment=<env> run <job>`` with it, so
a run started by Dagster has the retries, alerts, exit codes, run ledger and
run lock of ``flext run``. The container is disposed when the run ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from flext_infra._environment import Environment
from flext_infra.orchestration._loads import ProjectSettings
from flext_infra.orchestration._orchestrator import JobRunResult, Orchestrator
from flext_infra.orchestration._project import MeltanoProject


@dataclass(frozen=True)
class MeltanoRun:
    """One job run as Dagster sees it.

    Attributes:
        result: The orchestrator's honest result (status, exit code, counts, error).
        environment: The Meltano environment it ran in.
        flext_environment: The ``FLEXT_ENVIRONMENT`` of its services.
    """

    result: JobRunResult
    environment: str | None
    flext_environment: Environment


def meltano_environment(project: MeltanoProject, environment: str | None) -> str | None:
    """The Meltano environment: ``environment``, ``MELTANO_ENVIRONMENT``, or the project default."""
    chosen = environment or os.environ.get("MELTANO_ENVIRONMENT")
    if chosen:
        return chosen
    default = project.data.get("default_environment")
    return str(default) if default else None


def flext_environment(settings: ProjectSettings) -> Environment:
    """The ``FLEXT_ENVIRONMENT`` a Meltano environment sets (its ``env:``), else its own name."""
    named = settings.environment_env().get("FLEXT_ENVIRONMENT") or settings.environment
    return Environment(named) if named else Environment.current()


class MeltanoResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Runs the project's Meltano jobs (resource key ``meltano``).

    Attributes:
        project_dir: The Meltano project (the directory of ``meltano.yml``).
        environment: The Meltano environment (``dev``, ``staging``, ``prod``, ``test``);
            unset: ``MELTANO_ENVIRONMENT`` or the project's ``default_environment``.
        retries: Retries after a failed ``meltano run`` (``flext run --retries``).
        timeout_s: Stop a run that takes longer (unset: no limit).
        echo: Copy Meltano's log lines to the step's stderr (Dagster's compute logs).
    """

    project_dir: str = Field(description="The Meltano project directory (of meltano.yml).")
    environment: str | None = Field(default=None, description="The Meltano environment.")
    retries: int = Field(default=0, ge=0, description="Retries after a failed meltano run.")
    timeout_s: float | None = Field(default=None, gt=0, description="Stop a longer run.")
    echo: bool = Field(default=True, description="Copy Meltano's log to the compute logs.")

    def run(self, job: str) -> MeltanoRun:
        """Run ``meltano run JOB`` through the orchestrator of the environment's container."""
        from flext_infra.container import Container
        from flext_infra.settings import load_settings

        project = MeltanoProject(Path(self.project_dir))
        env = meltano_environment(project, self.environment)
        flext_env = flext_environment(ProjectSettings(project, env))
        settings = load_settings(environment=flext_env)
        container = Container.for_environment(flext_env, settings)
        try:
            orchestrator: Orchestrator = container.resolve("orchestrator")
            orchestrator.project = project
            orchestrator.meltano_environment = env
            orchestrator.timeout_s = self.timeout_s
            orchestrator.echo = self.echo
            result = orchestrator.run(job, retries=self.retries)
        finally:
            container.dispose()
        return MeltanoRun(result, env, flext_env)
