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
from flext_infra.observability import get_logger
from flext_infra.orchestration import JobRunResult, MeltanoProject, Orchestrator, ProjectSettings
from flext_infra.runs import RunKind, RunLedger, RunRecord, RunStatus, StreamRun, Trigger

log = get_logger("flext.orchestration.dagster")


@dataclass(frozen=True)
class MeltanoRun:
    """One job run as Dagster sees it.

    Attributes:
        result: The orchestrator's honest result (status, exit code, counts, error).
        environment: The Meltano environment it ran in.
        flext_environment: The ``FLEXT_ENVIRONMENT`` of its services.
        record: The run's row in the ledger, with its streams (None if it could
            not be read).
        plugin_runs: The rows the tap and the target recorded for this run.
    """

    result: JobRunResult
    environment: str | None
    flext_environment: Environment
    record: RunRecord | None = None
    plugin_runs: tuple[RunRecord, ...] = ()

    @property
    def streams(self) -> dict[str, StreamRun]:
        """The ledger's numbers per stream."""
        return {s.stream: s for s in self.record.streams} if self.record else {}

    @property
    def error(self) -> str:
        """Why it did not succeed: the ledger's error, then each failed plugin's own."""
        parts = [self.record.error if self.record and self.record.error else self.result.error]
        for plugin in self.plugin_runs:
            if plugin.status is not RunStatus.SUCCEEDED and plugin.error:
                parts.append(f"{plugin.job}: {plugin.error}")
        return " | ".join(dict.fromkeys(p for p in parts if p)) or "no detail"


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
    wait_s: float = Field(
        default=0.0, ge=0, description="Wait this long for the job's lock (0: refuse at once)."
    )

    def run(self, job: str) -> MeltanoRun:
        """Run ``meltano run JOB`` through the orchestrator of the environment's container.

        The run is recorded in the ledger (trigger ``orchestrator``) under the
        job's lock; a run refused by the lock comes back ``refused`` with the
        holder's message.
        """
        from flext_infra.environments import FlextContainer
        from flext_infra.settings import load_settings

        project = MeltanoProject(Path(self.project_dir))
        env = meltano_environment(project, self.environment)
        flext_env = flext_environment(ProjectSettings(project, env))
        settings = load_settings(environment=flext_env)
        container = FlextContainer.for_environment(flext_env, settings)
        try:
            orchestrator: Orchestrator = container.resolve("orchestrator")
            orchestrator.project = project
            orchestrator.meltano_environment = env
            orchestrator.timeout_s = self.timeout_s
            orchestrator.echo = self.echo
            result = orchestrator.run(
                job, retries=self.retries, wait_s=self.wait_s, trigger=Trigger.ORCHESTRATOR
            )
            record, plugins = _from_ledger(orchestrator.ledger, result)
        finally:
            container.dispose()
        return MeltanoRun(result, env, flext_env, record, plugins)


def _from_ledger(
    ledger: RunLedger | None, result: JobRunResult
) -> tuple[RunRecord | None, tuple[RunRecord, ...]]:
    if ledger is None or result.run_id is None:
        return None, ()
    try:
        record = ledger.get_run(result.run_id)
        plugins = tuple(r for r in ledger.linked(result.run_id) if r.kind is not RunKind.JOB)
    except Exception as exc:  # the run's outcome stands; only its ledger details are missing
        log.error("dagster.ledger_unreadable", run_id=result.run_id, error=str(exc))
        return None, ()
    return record, plugins
