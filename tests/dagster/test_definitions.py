"""flext_definitions() over the shipped meltano.yml: jobs, assets, schedules, checks, names."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError
from flext_infra.orchestration import MeltanoProject, ProjectSettings
from flext_infra.orchestration.dagster import MELTANO_JOB_TAG, flext_definitions
from flext_infra.orchestration.dagster._resource import flext_environment
from tests.dagster.conftest import OP, ROOT, RULES

WMS_TABLES = {"wms_allocation", "wms_order_hdr", "wms_order_dtl"}
JOBS = {
    "full_sync_job": ("full-sync-job", WMS_TABLES),
    "incremental_sync_job": ("incremental-sync-job", WMS_TABLES),
    "allocation_incremental_sync": ("allocation-incremental-sync", {"wms_allocation"}),
    "order_hdr_incremental_sync": ("order-hdr-incremental-sync", {"wms_order_hdr"}),
    "order_dtl_incremental_sync": ("order-dtl-incremental-sync", {"wms_order_dtl"}),
}


def _selected_tables(defs: dg.Definitions, job: str) -> set[str]:
    resolved = defs.resolve_job_def(job)
    return {key.path[-1] for key in resolved.asset_layer.executable_asset_keys}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    """The shipped project's definitions in the test environment."""
    return flext_definitions(ROOT, environment="test")


def test_the_shipped_project_loads_and_validates(defs: dg.Definitions) -> None:
    """Definitions.validate_loadable passes; one job per Meltano job, one asset per WMS table."""
    dg.Definitions.validate_loadable(defs)
    assert {key.path[-1] for key in defs.resolve_all_asset_keys()} == WMS_TABLES
    meltano_jobs = [j.name for j in MeltanoProject(ROOT).jobs()]
    assert len(meltano_jobs) == len(JOBS)
    for name, (meltano_job, tables) in JOBS.items():
        job = defs.resolve_job_def(name)
        assert job.tags[MELTANO_JOB_TAG] == meltano_job
        assert _selected_tables(defs, name) == tables, name


def test_the_schedules_keep_meltanos_crons_and_start_stopped(defs: dg.Definitions) -> None:
    """Each Meltano schedule is a Dagster schedule with the same cron, stopped by default."""
    got = {
        s.name: (s.cron_schedule, s.job_name, s.default_status, s.execution_timezone)
        for s in defs.schedules or []
    }
    stopped = dg.DefaultScheduleStatus.STOPPED
    assert got == {
        "full_sync_weekly": ("@weekly", "full_sync_job", stopped, "UTC"),
        "incremental_sync_every_2_hours": ("0 */2 * * *", "incremental_sync_job", stopped, "UTC"),
    }


def test_tables_share_one_multi_asset_grouped_by_their_narrowest_job(
    defs: dg.Definitions,
) -> None:
    """One subsettable multi-asset runs every job; each table's group is its per-entity job."""
    [assets] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    assert assets.op.name == OP
    assert assets.can_subset
    groups = {key.path[-1]: group for key, group in assets.group_names_by_key.items()}
    assert groups == {
        "wms_allocation": "allocation_incremental_sync",
        "wms_order_hdr": "order_hdr_incremental_sync",
        "wms_order_dtl": "order_dtl_incremental_sync",
    }
    spec = next(s for s in assets.specs if s.key.path[-1] == "wms_allocation")
    assert set(spec.tags) == {
        "dagster/kind/meltano",
        "meltano_job/full_sync_job",
        "meltano_job/incremental_sync_job",
        "meltano_job/allocation_incremental_sync",
    }
    assert spec.metadata["stream"] == "allocation"


@pytest.mark.parametrize("environment", ["dev", "test", "staging", "prod"])
def test_every_environment_gives_valid_names_without_the_environment_in_them(
    environment: str,
) -> None:
    """Each Meltano environment loads with the same valid names (dagster-meltano #44)."""
    defs = flext_definitions(ROOT, environment=environment)
    dg.Definitions.validate_loadable(defs)
    names = {j.name for j in defs.resolve_all_job_defs()} | {s.name for s in defs.schedules or []}
    assert set(JOBS) <= names
    assert not [n for n in names if environment in n.split("_") or "=" in n or "-" in n]
    resource = (defs.resources or {})["meltano"]
    assert resource.environment == environment


def test_an_unknown_environment_is_a_configuration_error() -> None:
    """An environment meltano.yml does not define fails with the ones it does."""
    with pytest.raises(ConfigurationError, match=r"no environment 'qa'.*dev, test, staging, prod"):
        flext_definitions(ROOT, environment="qa")


def test_validation_thresholds_become_asset_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the loader's rules set, each table gets reject-ratio, min-records, freshness checks."""
    monkeypatch.setenv("TARGET_FLEXT_ORACLE_VALIDATION", RULES)
    defs = flext_definitions(ROOT, environment="test")
    [assets] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks = {(c.asset_key.path[-1], c.name) for c in assets.check_specs}
    assert checks == {
        (table, check)
        for table in WMS_TABLES
        for check in ("reject_ratio", "min_records", "freshness")
    }
    job = defs.resolve_job_def("allocation_incremental_sync")
    assert {
        (k.asset_key.path[-1], k.name) for k in job.asset_layer.asset_graph.asset_check_keys
    } >= {("wms_allocation", "reject_ratio")}


def test_without_rules_there_are_no_checks(defs: dg.Definitions) -> None:
    """The shipped loader sets no validation rules, so the assets carry no checks."""
    [assets] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    assert list(assets.check_specs) == []


PROJECT = """\
default_environment: dev
environments:
- name: dev
plugins:
  extractors:
  - name: tap-x
    namespace: tap_x
    config: {entities: [a, b-c]}
  - name: tap-x--one
    inherit_from: tap-x
    select: [a.*, '!a.secret']
  - name: tap-all
    namespace: tap_all
    config: {entities: ['*']}
  loaders:
  - name: target-y
    namespace: target_y
    config: {table_prefix: P_}
jobs:
- name: both
  tasks: [tap-x target-y]
- name: one
  tasks: [tap-x--one target-y]
- name: discovered
  tasks: [tap-all target-y]
- name: class
  tasks: [one]
schedules:
- name: hourly
  interval: '@hourly'
  job: one
- name: by-hand
  interval: '@manual'
  job: both
"""


def _project(tmp_path: Path, text: str = PROJECT) -> Path:
    (tmp_path / "meltano.yml").write_text(textwrap.dedent(text))
    return tmp_path


def test_select_inheritance_nested_jobs_and_discovery_shape_the_jobs(tmp_path: Path) -> None:
    """select narrows a tap, a job of jobs loads its jobs' tables, '*' makes an op job."""
    defs = flext_definitions(_project(tmp_path))
    dg.Definitions.validate_loadable(defs)
    assert {k.path[-1] for k in defs.resolve_all_asset_keys()} == {"p_a", "p_c"}
    assert _selected_tables(defs, "both") == {"p_a", "p_c"}
    assert _selected_tables(defs, "one") == {"p_a"}
    assert _selected_tables(defs, "class_") == {"p_a"}
    discovered = defs.resolve_job_def("discovered")
    assert [n.name for n in discovered.nodes] == ["run_discovered"]
    assert [s.name for s in defs.schedules or []] == ["hourly"]


def test_environment_variables_override_the_file_as_in_meltano(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TAP_X_ENTITIES (JSON), TAP_X__ONE__SELECT and TARGET_Y_TABLE_PREFIX win over the file."""
    monkeypatch.setenv("TAP_X_ENTITIES", json.dumps(["z", "a"]))
    monkeypatch.setenv("TARGET_Y_TABLE_PREFIX", "Q-")
    defs = flext_definitions(_project(tmp_path))
    assert _selected_tables(defs, "both") == {"q_z", "q_a"}
    assert _selected_tables(defs, "one") == {"q_a"}
    monkeypatch.setenv("TAP_X__ONE__SELECT", json.dumps(["z.*"]))
    assert _selected_tables(flext_definitions(tmp_path), "one") == {"q_z"}


def test_jobs_whose_dagster_names_collide_are_refused(tmp_path: Path) -> None:
    """`a-b` and `a_b` would both be Dagster's a_b: the error names both."""
    text = PROJECT.replace("- name: discovered\n", "- name: a-b\n  tasks: [one]\n- name: a_b\n"
                           "  tasks: [one]\n- name: discovered\n")  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"'a-b' and 'a_b' both become .*'a_b'"):
        flext_definitions(_project(tmp_path, text))


def test_a_project_naming_an_unknown_plugin_is_refused(tmp_path: Path) -> None:
    """A job naming a plugin meltano.yml lacks fails at load, not at the first run."""
    text = PROJECT.replace("[tap-x target-y]", "[tap-x target-missing]")
    with pytest.raises(ConfigurationError, match="unknown plugin 'target-missing'"):
        flext_definitions(_project(tmp_path, text))


def test_only_the_dagster_package_and_its_module_import_dagster() -> None:
    """No other module of ours imports Dagster, so nothing else needs the extra."""
    allowed = {ROOT / "flext_infra/orchestration/dagster_defs.py"}
    importers = []
    for package in ("flext_infra", "tap_flext_api", "target_flext_oracle"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in allowed or (ROOT / "flext_infra/orchestration/dagster") in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                if any(n.split(".")[0].startswith("dagster") for n in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert importers == []


BRIDGED = """\
default_environment: dev
environments:
- name: dev
plugins:
  extractors:
  - {name: tap-x, config: {entities: [a]}}
  - {name: tap-x--b, inherit_from: tap-x, config: {entities: [b, b2]}}
  - {name: tap-z, config: {entities: [z]}}
  loaders:
  - {name: target-y}
jobs:
- {name: only-a, tasks: [tap-x target-y]}
- {name: only-b, tasks: [tap-x--b target-y]}
- {name: only-z, tasks: [tap-z target-y]}
- {name: a-and-b, tasks: [tap-x target-y, tap-x--b target-y]}
"""


def test_jobs_sharing_tables_share_a_multi_asset_and_others_get_their_own(
    tmp_path: Path,
) -> None:
    """a and b (b2) join through the job loading them all; z stays apart, under its own op."""
    defs = flext_definitions(_project(tmp_path, BRIDGED))
    dg.Definitions.validate_loadable(defs)
    owners = {
        tuple(sorted(k.path[-1] for k in a.keys)): a.op.name
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition)
    }
    assert owners == {("a", "b", "b2"): "tap_x_to_target_y", ("z",): "tap_z_to_target_y"}
    assert _selected_tables(defs, "a_and_b") == {"a", "b", "b2"}


@pytest.mark.parametrize(
    ("environment", "flext"),
    [("dev", "development"), ("test", "test"), ("staging", "staging"), ("prod", "production")],
)
def test_each_meltano_environment_runs_with_its_flext_environment(
    environment: str, flext: str
) -> None:
    """The runs' services use the FLEXT_ENVIRONMENT that meltano.yml's environment sets."""
    settings = ProjectSettings(MeltanoProject(ROOT), environment)
    assert flext_environment(settings) is Environment(flext)
