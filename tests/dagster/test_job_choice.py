"""Which Meltano job a materialization runs when no Dagster job tagged it (ad hoc, from the UI)."""

from __future__ import annotations

import dagster as dg
import pytest

from flext_infra._environment import Environment
from flext_infra.orchestration import SUCCESS, JobRunResult
from flext_infra.orchestration.dagster import MeltanoRun, flext_definitions
from tests.dagster.conftest import ROOT


class RecordingMeltano:
    """Stands in for the ``meltano`` resource: records the jobs asked for, reports success."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def run(self, job: str) -> MeltanoRun:
        """Record ``job`` and answer a successful run of 7 records per stream."""
        self.jobs.append(job)
        records = {"allocation": 7, "order_hdr": 7, "order_dtl": 7}
        result = JobRunResult(job, SUCCESS, 0, 1, 0.5, "t0", "t1", records=records)
        return MeltanoRun(result, "test", Environment.TEST)


@pytest.fixture(scope="module")
def wms_assets() -> dg.AssetsDefinition:
    """The shipped project's multi-asset."""
    defs = flext_definitions(ROOT, environment="test")
    [assets] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return assets


def test_one_table_selected_runs_the_job_that_loads_exactly_it(
    wms_assets: dg.AssetsDefinition,
) -> None:
    """Materializing wms_allocation alone runs allocation-incremental-sync."""
    meltano = RecordingMeltano()
    result = dg.materialize(
        [wms_assets], selection=["wms_allocation"], resources={"meltano": meltano}
    )
    assert result.success
    assert meltano.jobs == ["allocation-incremental-sync"]
    [event] = result.get_asset_materialization_events()
    assert event.materialization.asset_key == dg.AssetKey("wms_allocation")
    assert event.materialization.metadata["records"].value == 7


def test_a_selection_two_jobs_load_is_refused_naming_them(
    wms_assets: dg.AssetsDefinition,
) -> None:
    """All three tables are loaded by two jobs: nothing runs, the error names both."""
    meltano = RecordingMeltano()
    result = dg.materialize([wms_assets], resources={"meltano": meltano}, raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    message = str(failure.step_failure_data.error.message if failure.step_failure_data.error
                  else "")  # fmt: skip
    assert "2 Meltano jobs load exactly" in message
    assert "full_sync_job, incremental_sync_job" in message
    assert meltano.jobs == []
