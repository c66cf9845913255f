"""Schedules evaluated at a given time (build_schedule_context): the right job, only at a tick."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from flext_infra.orchestration.dagster import MELTANO_JOB_TAG, flext_definitions, is_cron_tick
from tests.dagster.conftest import ROOT

UTC = dt.UTC


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    """The shipped project's definitions in the prod environment."""
    return flext_definitions(ROOT, environment="prod")


def _tick(defs: dg.Definitions, name: str, when: dt.datetime) -> dg.ScheduleExecutionData:
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        return schedule.evaluate_tick(context)


@pytest.mark.parametrize(
    ("schedule", "when", "job", "meltano_job"),
    [
        ("incremental_sync_every_2_hours", dt.datetime(2026, 3, 4, 14, 0, tzinfo=UTC),
         "incremental_sync_job", "incremental-sync-job"),
        ("incremental_sync_every_2_hours", dt.datetime(2026, 3, 4, 0, 0, tzinfo=UTC),
         "incremental_sync_job", "incremental-sync-job"),
        # @weekly is Sunday 00:00 UTC, as in Meltano; 2026-03-08 is a Sunday.
        ("full_sync_weekly", dt.datetime(2026, 3, 8, 0, 0, tzinfo=UTC),
         "full_sync_job", "full-sync-job"),
    ],
)  # fmt: skip
def test_a_tick_requests_a_run_of_the_schedules_job(
    defs: dg.Definitions, schedule: str, when: dt.datetime, job: str, meltano_job: str
) -> None:
    """At one of its ticks a schedule requests one run of its job, tagged with the Meltano job."""
    data = _tick(defs, schedule, when)
    [request] = data.run_requests or []
    assert request.job_name == job
    assert request.tags[MELTANO_JOB_TAG] == meltano_job
    assert request.tags["flext/meltano_environment"] == "prod"
    assert data.skip_message is None


@pytest.mark.parametrize(
    ("schedule", "when"),
    [
        ("incremental_sync_every_2_hours", dt.datetime(2026, 3, 4, 15, 0, tzinfo=UTC)),
        ("incremental_sync_every_2_hours", dt.datetime(2026, 3, 4, 14, 30, tzinfo=UTC)),
        ("full_sync_weekly", dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),  # a Monday
        ("full_sync_weekly", dt.datetime(2026, 3, 8, 1, 0, tzinfo=UTC)),
    ],
)
def test_an_evaluation_at_the_wrong_time_requests_nothing(
    defs: dg.Definitions, schedule: str, when: dt.datetime
) -> None:
    """Evaluated off its cron, a schedule skips and says why."""
    data = _tick(defs, schedule, when)
    assert not data.run_requests
    assert data.skip_message is not None
    assert "is not a tick of" in data.skip_message


def test_a_naive_time_is_read_as_utc(defs: dg.Definitions) -> None:
    """Meltano's crons are UTC: a naive 14:00 is a tick of the 2-hourly schedule."""
    data = _tick(defs, "incremental_sync_every_2_hours", dt.datetime(2026, 3, 4, 14, 0))
    assert len(data.run_requests or []) == 1


@pytest.mark.parametrize(
    "cron", ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "0 */2 * * *", "15 3 * * 1-5"]
)
def test_ticks_are_dagsters_own(cron: str) -> None:
    """is_cron_tick agrees with Dagster's scheduler iterator (fails if Dagster moves it)."""
    start = dt.datetime(2026, 1, 30, 22, 17, tzinfo=UTC)
    ticks = cron_string_iterator(start.timestamp(), cron, "UTC")
    for _ in range(3):
        tick = next(ticks)
        assert is_cron_tick(cron, tick)
        assert not is_cron_tick(cron, tick + dt.timedelta(minutes=1))
