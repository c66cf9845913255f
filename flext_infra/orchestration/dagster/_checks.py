"""Asset checks from the validation thresholds of each table's loader.

The loader's ``validation`` setting (a YAML path or a mapping, the same rules
its ``data_validator`` applies while loading) gives each stream its
thresholds: ``max_reject_ratio`` and ``min_records`` (``defaults`` under the
stream's own) and ``freshness``. Each set threshold becomes an asset check on
the stream's table, judged from the run's own numbers, so the check and the
run agree: a broken threshold fails the check with the numbers, and a warn-only
freshness rule fails it with severity WARN.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from flext_infra.orchestration import LoadedTable, ProjectSettings
from flext_infra.quality import StreamRules, Thresholds, ValidationConfig, load_rules

REJECT_RATIO, MIN_RECORDS, FRESHNESS = "reject_ratio", "min_records", "freshness"


@dataclass(frozen=True)
class StreamNumbers:
    """What one run measured for one stream.

    Attributes:
        records: Records the extractor read.
        rejects: Records the loader rejected.
        judged: The loader's validator reported on the stream (its ``reject_count``
            metric); a run that stopped before then judged nothing.
        newest: The newest replication-key value loaded (the bookmark), ISO-8601.
    """

    records: int
    rejects: int
    judged: bool
    newest: str | None = None


@dataclass(frozen=True)
class TableRules:
    """The validation rules that apply to one table."""

    stream: str
    thresholds: Thresholds
    rules: StreamRules

    def check_names(self) -> list[str]:
        """The checks these rules define."""
        names = []
        if self.thresholds.max_reject_ratio is not None:
            names.append(REJECT_RATIO)
        if self.thresholds.min_records is not None:
            names.append(MIN_RECORDS)
        if self.rules.freshness is not None:
            names.append(FRESHNESS)
        return names


def table_rules(settings: ProjectSettings, table: LoadedTable) -> TableRules | None:
    """The rules of ``table``'s loader for its stream, or None when it has none."""
    source = settings.setting(table.loader, "validation")
    if source is None or source == "":
        return None
    if isinstance(source, str):
        source = settings.path(source)
    config: ValidationConfig = load_rules(source, base_dir=settings.project.root)
    return TableRules(
        table.stream, config.thresholds(table.stream), config.for_stream(table.stream)
    )


def check_specs(key: dg.AssetKey, rules: TableRules) -> list[dg.AssetCheckSpec]:
    """One spec per threshold the table's rules set."""
    described = {
        REJECT_RATIO: f"rejected / read records <= {rules.thresholds.max_reject_ratio}",
        MIN_RECORDS: f"at least {rules.thresholds.min_records} records read per run",
        FRESHNESS: "the newest replication-key value is younger than max_age",
    }
    return [
        dg.AssetCheckSpec(name, asset=key, description=described[name])
        for name in rules.check_names()
    ]


def evaluate(
    key: dg.AssetKey,
    rules: TableRules,
    numbers: StreamNumbers,
    selected: set[dg.AssetCheckKey],
    now: datetime | None = None,
) -> Iterator[dg.AssetCheckResult]:
    """The results of ``rules``' selected checks for one run's ``numbers``.

    Nothing is yielded for a check whose numbers the run never produced.
    """
    limits = rules.thresholds
    wanted = {c.name for c in selected if c.asset_key == key}
    if REJECT_RATIO in wanted and limits.max_reject_ratio is not None and numbers.judged:
        ratio = numbers.rejects / numbers.records if numbers.records else 0.0
        passed = ratio <= limits.max_reject_ratio
        yield _result(
            key, REJECT_RATIO, passed,
            f"{numbers.rejects}/{numbers.records} records rejected ({ratio:.2%}) "
            f"{'<=' if passed else '>'} max {limits.max_reject_ratio:.2%}",
            {"rejects": numbers.rejects, "records": numbers.records,
             "reject_ratio": round(ratio, 6), "max_reject_ratio": limits.max_reject_ratio},
        )  # fmt: skip
    if MIN_RECORDS in wanted and limits.min_records is not None and numbers.judged:
        passed = numbers.records >= limits.min_records
        yield _result(
            key, MIN_RECORDS, passed,
            f"{numbers.records} records read; at least {limits.min_records} expected",
            {"records": numbers.records, "min_records": limits.min_records},
        )  # fmt: skip
    freshness = rules.rules.freshness
    if FRESHNESS in wanted and freshness is not None and numbers.newest:
        newest = datetime.fromisoformat(numbers.newest.replace("Z", "+00:00"))
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age = ((now or datetime.now(UTC)) - newest).total_seconds()
        passed = age <= freshness.max_age
        yield _result(
            key, FRESHNESS, passed,
            f"newest value {numbers.newest} is {age:.0f}s old; max_age {freshness.max_age:.0f}s",
            {"newest": numbers.newest, "age_s": round(age, 1), "max_age_s": freshness.max_age},
            warn=freshness.action == "warn",
        )  # fmt: skip


def _result(
    key: dg.AssetKey,
    name: str,
    passed: bool,
    text: str,
    metadata: Mapping[str, Any],
    *,
    warn: bool = False,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
        description=text,
        metadata={**metadata, "summary": text},
    )
