"""Dagster schedules from meltano.yml's schedules: the same cron, off by default.

Meltano's intervals are cron strings or the aliases ``@hourly``, ``@daily``,
``@weekly``, ``@monthly`` and ``@yearly``, which Dagster reads with the same
meaning (``@weekly`` is Sunday 00:00), so the interval is passed on unchanged
and Dagster's UI shows what meltano.yml says. ``@once`` and ``@manual`` are
not schedules: those jobs are launched by hand. Meltano schedules run in UTC.

A schedule requests its run only at one of its own ticks: an evaluation at any
other time (a stale or mistyped tick, a manual evaluation at the wrong moment)
is skipped with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from flext_infra.observability import get_logger
from flext_infra.orchestration import MeltanoSchedule

log = get_logger("flext.orchestration.dagster")

#: Meltano intervals that are not schedules.
MANUAL_INTERVALS = frozenset({"@once", "@manual"})
TIMEZONE = "UTC"


def is_cron_tick(cron: str, when: datetime, timezone: str = TIMEZONE) -> bool:
    """True when ``when`` is one of ``cron``'s ticks (a naive ``when`` is UTC).

    Uses Dagster's own cron iterator (a private module): it is what Dagster's
    scheduler ticks with, so the two cannot disagree about an alias, a step or
    a daylight-saving jump. tests/orchestration/test_dagster_schedules.py fails
    if Dagster moves it.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ticks = cron_string_iterator(when.timestamp(), cron, timezone)
    return next(ticks).timestamp() == when.timestamp()


def build_schedule(
    schedule: MeltanoSchedule,
    name: str,
    job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition,
    tags: dict[str, str],
) -> dg.ScheduleDefinition | None:
    """The Dagster schedule of one Meltano schedule (None for ``@once``/``@manual``)."""
    cron = schedule.interval.strip()
    if cron in MANUAL_INTERVALS:
        log.info("dagster.schedule_manual", schedule=schedule.name, interval=cron)
        return None

    def evaluate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        when = context.scheduled_execution_time
        if when is not None and not is_cron_tick(cron, when):
            return dg.SkipReason(
                f"{when.isoformat()} is not a tick of {schedule.name!r} ({cron!r}, {TIMEZONE})"
            )
        return dg.RunRequest(job_name=job.name, tags={**tags, "flext/schedule": schedule.name})

    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_fn=evaluate,
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Meltano schedule {schedule.name!r}: {cron} ({TIMEZONE})",
        tags=tags,
    )
