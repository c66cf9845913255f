"""The loaded tables as Dagster assets, and a Dagster job per Meltano job.

A table belongs to one asset however many Meltano jobs load it: the shipped
project loads ``wms_allocation`` from ``incremental-sync-job``,
``full-sync-job`` and ``allocation-incremental-sync``. Jobs that share a table
therefore share one subsettable multi-asset, and each Meltano job is a Dagster
asset job selecting its tables and tagged with its Meltano name. The
multi-asset's step runs ``meltano run`` of the job its run is tagged with, so
one Dagster run of ``incremental_sync_job`` is one ``meltano run
incremental-sync-job`` materializing three tables, and the per-entity jobs are
separate runs that Dagster's run queue can start side by side.

An asset's group is the most specific Meltano job that loads it (the fewest
tables; the first in meltano.yml on a tie), and every asset carries a
``meltano_job/<job>`` tag per job that loads it. A job whose streams only
discovery can tell (``entities: ["*"]``) is an op job without assets.
"""

# No ``from __future__ import annotations`` here: Dagster reads the annotation of
# an op's ``context`` parameter and accepts only the class itself, not its name.

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from flext_infra.orchestration import JobLoads, ProjectSettings
from flext_infra.orchestration.dagster._checks import (
    StreamNumbers,
    TableRules,
    check_specs,
    evaluate,
    table_rules,
)
from flext_infra.orchestration.dagster._names import dagster_name
from flext_infra.orchestration.dagster._resource import MeltanoRun

#: The run tag naming the Meltano job a Dagster run executes.
MELTANO_JOB_TAG = "flext/meltano_job"
ENVIRONMENT_TAG = "flext/meltano_environment"
RESOURCE_KEY = "meltano"


@dataclass
class _Component:
    """Meltano jobs that share tables, and the tables (asset keys) they load."""

    jobs: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


def _components(loads: Sequence[JobLoads]) -> list[_Component]:
    """Group jobs that load a common table (transitively), in meltano.yml order."""
    owner: dict[str, _Component] = {}
    components: list[_Component] = []
    for job in loads:
        if not job.known or not job.tables:
            continue
        # Each component once, whatever number of its tables this job loads.
        joined = list({id(owner[t]): owner[t] for t in job.table_names if t in owner}.values())
        target = joined[0] if joined else _Component()
        if not joined:
            components.append(target)
        for other in joined[1:]:
            for name in other.jobs:
                if name not in target.jobs:
                    target.jobs.append(name)
            for table in other.tables:
                if table not in target.tables:
                    target.tables.append(table)
                owner[table] = target
            components.remove(other)
        target.jobs.append(job.job)
        for table in job.table_names:
            if table not in target.tables:
                target.tables.append(table)
            owner[table] = target
    return components


def _group_of(table: str, loads: Sequence[JobLoads]) -> str:
    loaders = [
        (len(j.table_names), i, j.job) for i, j in enumerate(loads) if table in j.table_names
    ]
    return min(loaders)[2]


def _numbers(run: MeltanoRun, stream: str) -> StreamNumbers:
    """The ledger's numbers for ``stream`` (the run's metric lines when the ledger has none)."""
    result = run.result
    judged = stream in result.rejects  # the validator reported on it (its reject_count line)
    row = run.streams.get(stream)
    if row is not None:
        return StreamNumbers(row.records_read, row.rejects, judged, row.bookmark_after)
    return StreamNumbers(
        int(result.records.get(stream, 0)), int(result.rejects.get(stream, 0)), judged
    )


def _failure(job: str, run: MeltanoRun) -> dg.Failure:
    """The step's failure: the ledger's error summary (the lock holder's, when refused)."""
    result = run.result
    where = f" ({run.environment})" if run.environment else ""
    metadata: dict[str, Any] = {
        "meltano_job": job,
        "status": result.status,
        "exit_code": result.exit_code if result.exit_code is not None else -1,
        "attempts": result.attempts,
        "duration_s": result.duration_s,
        "records": dict(result.records),
    }
    if result.run_id:
        metadata["run_id"] = result.run_id
        metadata["details"] = f"flext runs show {result.run_id}"
    return dg.Failure(
        description=f"meltano run {job}{where} {result.status}: {run.error}", metadata=metadata
    )


class JobAssets:
    """The multi-assets and asset jobs of a project's jobs (see the module docstring).

    Args:
        settings: The project's settings in the chosen Meltano environment.
        loads: What each job loads, in meltano.yml order.
        names: Each Meltano job's Dagster name.
    """

    def __init__(
        self, settings: ProjectSettings, loads: Sequence[JobLoads], names: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.loads = list(loads)
        self.names = dict(names)
        self._by_job = {j.job: j for j in self.loads}
        self.assets: list[dg.AssetsDefinition] = []
        self.jobs: dict[str, dg.UnresolvedAssetJobDefinition | dg.JobDefinition] = {}
        self._build()

    @property
    def environment_tags(self) -> dict[str, str]:
        """Tags every run carries: the Meltano environment."""
        env = self.settings.environment
        return {ENVIRONMENT_TAG: env} if env else {}

    def _build(self) -> None:
        taken: set[str] = set()
        for component in _components(self.loads):
            self.assets.append(self._multi_asset(component, taken))
        for loads in self.loads:
            tags = {MELTANO_JOB_TAG: loads.job, **self.environment_tags}
            name = self.names[loads.job]
            description = f"meltano run {loads.job}"
            if loads.known and loads.tables:
                keys = [dg.AssetKey(t) for t in loads.table_names]
                self.jobs[loads.job] = dg.define_asset_job(
                    name, selection=dg.AssetSelection.assets(*keys), tags=tags,
                    description=f"{description}: loads {', '.join(loads.table_names)}",
                )  # fmt: skip
            else:
                self.jobs[loads.job] = self._op_job(loads.job, name, tags, description)

    def _op_name(self, component: _Component, taken: set[str]) -> str:
        """``<extractor>_to_<loader>`` of the plugins' bases (``tap_x_to_target_y``)."""
        base = self.settings.base_plugin
        tables = [t for j in component.jobs for t in self._by_job[j].tables]
        pairs = dict.fromkeys(f"{base(t.extractor)}_to_{base(t.loader)}" for t in tables)
        name = stem = dagster_name("__".join(pairs))
        n = 1
        while name in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name)
        return name

    def _multi_asset(self, component: _Component, taken: set[str]) -> dg.AssetsDefinition:
        tables = {t.table: t for j in component.jobs for t in self._by_job[j].tables}
        rules: dict[str, TableRules] = {}
        specs: list[dg.AssetSpec] = []
        checks: list[dg.AssetCheckSpec] = []
        for table in component.tables:
            loaded = tables[table]
            key = dg.AssetKey(table)
            jobs = [j for j in component.jobs if table in self._by_job[j].table_names]
            specs.append(
                dg.AssetSpec(
                    key,
                    group_name=dagster_name(_group_of(table, self.loads)),
                    description=(
                        f"Table {table}: stream {loaded.stream!r} of {loaded.extractor}, "
                        f"loaded by {loaded.loader} (meltano jobs: {', '.join(jobs)})"
                    ),
                    tags={f"meltano_job/{self.names[j]}": "" for j in jobs},
                    kinds={"meltano"},
                    metadata={"stream": loaded.stream, "loader": loaded.loader},
                    skippable=True,
                )
            )
            table_rule = table_rules(self.settings, loaded)
            if table_rule is not None:
                rules[table] = table_rule
                checks.extend(check_specs(key, table_rule))
        jobs_here = {j: self._by_job[j] for j in component.jobs}

        def materialize(context: dg.AssetExecutionContext) -> Iterator[Any]:
            job = _choose_job(context, jobs_here, self.names)
            meltano = getattr(context.resources, RESOURCE_KEY)
            context.log.info(f"meltano run {job}")
            run: MeltanoRun = meltano.run(job)
            loads = jobs_here[job]
            numbers = {t.table: _numbers(run, t.stream) for t in loads.tables}
            result = run.result
            if result.success:
                for key in sorted(context.selected_asset_keys, key=str):
                    table = key.path[-1]
                    if table not in numbers:
                        continue
                    yield dg.MaterializeResult(
                        asset_key=key,
                        metadata=_materialization(job, run, loads.stream_of(table), numbers[table]),
                    )
            selected_checks = set(context.selected_asset_check_keys)
            for table, table_rule in rules.items():
                if table in numbers:
                    yield from evaluate(
                        dg.AssetKey(table), table_rule, numbers[table], selected_checks
                    )
            if not result.success:
                raise _failure(job, run)

        return dg.multi_asset(
            name=self._op_name(component, taken),
            specs=specs,
            check_specs=checks or None,
            can_subset=True,
            required_resource_keys={RESOURCE_KEY},
            description="Runs the Meltano job of the Dagster job (its flext/meltano_job tag).",
        )(materialize)

    def _op_job(
        self, job: str, name: str, tags: dict[str, str], description: str
    ) -> dg.JobDefinition:
        @dg.op(name=f"run_{name}", required_resource_keys={RESOURCE_KEY})
        def run_job(context: dg.OpExecutionContext) -> None:
            meltano = getattr(context.resources, RESOURCE_KEY)
            run: MeltanoRun = meltano.run(job)
            if not run.result.success:
                raise _failure(job, run)
            context.log.info(f"meltano run {job} ({run.result.run_id}): {run.result.records}")

        @dg.job(name=name, tags=tags, description=description)
        def op_job() -> None:
            run_job()

        return op_job


def _materialization(
    job: str, run: MeltanoRun, stream: str, numbers: StreamNumbers
) -> dict[str, Any]:
    result = run.result
    record = run.record
    row = run.streams.get(stream)
    metadata: dict[str, Any] = {
        "stream": stream,
        "records": numbers.records,
        "records_loaded": row.records_loaded if row else int(result.records_loaded.get(stream, 0)),
        "rejects": numbers.rejects,
        "duration_s": (record.duration_s if record and record.duration_s is not None
                       else result.duration_s),
        "attempts": result.attempts,
        "meltano_job": job,
        "meltano_environment": run.environment or "",
        "flext_environment": str(run.flext_environment),
    }  # fmt: skip
    if numbers.newest is not None:
        metadata["bookmark"] = numbers.newest
    if row is not None and row.bookmark_before is not None:
        metadata["bookmark_before"] = row.bookmark_before
    if result.run_id:
        metadata["run_id"] = result.run_id
        metadata["details"] = f"flext runs show {result.run_id}"
    return metadata


def _choose_job(
    context: dg.AssetExecutionContext, jobs: Mapping[str, JobLoads], names: Mapping[str, str]
) -> str:
    """The Meltano job of this run: its tag, else the one job loading exactly the selection."""
    tagged = context.run.tags.get(MELTANO_JOB_TAG)
    if tagged:
        if tagged not in jobs:
            raise dg.Failure(f"the run's {MELTANO_JOB_TAG} tag names {tagged!r}, which loads "
                             f"none of these assets (jobs here: {', '.join(jobs)})")  # fmt: skip
        return tagged
    selected = {k.path[-1] for k in context.selected_asset_keys}
    exact = [j for j, loads in jobs.items() if set(loads.table_names) == selected]
    if len(exact) == 1:
        return exact[0]
    choices = ", ".join(names[j] for j in (exact or list(jobs)))
    raise dg.Failure(
        f"{len(exact) or 'no'} Meltano jobs load exactly {sorted(selected)}: launch one of the "
        f"Dagster jobs {choices} instead"
    )
