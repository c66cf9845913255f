"""docs/operations.md's Dagster run queue is configuration Dagster accepts."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from tests.dagster.conftest import ROOT


def test_the_documented_run_queue_loads_with_one_run_per_meltano_job(tmp_path: Path) -> None:
    """The dagster.yaml in the guide: four runs at once, one per flext/meltano_job value."""
    guide = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    [snippet] = [b for b in re.findall(r"```yaml\n(.*?)```", guide, re.S) if "concurrency:" in b]
    (tmp_path / "dagster.yaml").write_text(snippet)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == 4
        assert queue.tag_concurrency_limits == [
            {"key": "flext/meltano_job", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
    finally:
        instance.dispose()
