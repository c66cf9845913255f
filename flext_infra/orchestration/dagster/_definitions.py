"""``flext_definitions``: a Meltano project as Dagster definitions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from flext_infra._errors import ConfigurationError
from flext_infra.orchestration import MeltanoProject, ProjectSettings
from flext_infra.orchestration.dagster._assets import (
    MELTANO_JOB_TAG,
    RESOURCE_KEY,
    JobAssets,
)
from flext_infra.orchestration.dagster._names import unique_names
from flext_infra.orchestration.dagster._resource import MeltanoResource, meltano_environment
from flext_infra.orchestration.dagster._schedules import build_schedule


def flext_definitions(
    project_dir: str | Path = ".", environment: str | None = None
) -> dg.Definitions:
    """Dagster definitions for the Meltano project at ``project_dir``.

    Reads meltano.yml (jobs, schedules, plugins and the streams they select)
    and builds one asset per loaded table, one Dagster job per Meltano job,
    one schedule per Meltano schedule (same cron, stopped until turned on),
    asset checks from the loaders' validation thresholds, and the ``meltano``
    resource that runs the jobs through the project's orchestrator. Nothing
    is run and no plugin is imported.

    Args:
        project_dir: The Meltano project directory.
        environment: The Meltano environment the runs use (``dev``, ``staging``,
            ``prod``, ``test``); unset: ``MELTANO_ENVIRONMENT`` or the project's
            ``default_environment``. It sets the runs' ``FLEXT_ENVIRONMENT`` and
            never appears in a Dagster name.

    Raises:
        ProjectNotFoundError: no meltano.yml in ``project_dir``.
        ConfigurationError: the project names unknown plugins or jobs, an
            unknown environment, invalid validation rules, or two jobs or
            schedules whose Dagster names collide.
    """
    project = MeltanoProject(project_dir)
    problems = project.problems()
    if problems:
        raise ConfigurationError(problems)
    env = meltano_environment(project, environment)
    settings = ProjectSettings(project, env)
    jobs = project.jobs()
    job_names = unique_names([j.name for j in jobs], "Meltano job")
    built = JobAssets(settings, [settings.job_loads(j.name) for j in jobs], job_names)
    schedules = [s for s in project.schedules() if s.job is not None]
    schedule_names = unique_names([s.name for s in schedules], "Meltano schedule")
    dagster_schedules = []
    for schedule in schedules:
        assert schedule.job is not None
        tags = {MELTANO_JOB_TAG: schedule.job, **built.environment_tags}
        made = build_schedule(
            schedule, schedule_names[schedule.name], built.jobs[schedule.job], tags
        )
        if made is not None:
            dagster_schedules.append(made)
    return dg.Definitions(
        assets=built.assets,
        jobs=list(built.jobs.values()),
        schedules=dagster_schedules,
        resources={RESOURCE_KEY: MeltanoResource(project_dir=str(project.root), environment=env)},
    )
