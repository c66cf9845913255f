"""Asset check results from the validation rules and one run's numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from flext_infra.orchestration.dagster import StreamNumbers
from flext_infra.orchestration.dagster._checks import TableRules, evaluate
from flext_infra.quality import load_rules

KEY = dg.AssetKey("wms_order_hdr")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _rules(action: str = "fail", **thresholds: object) -> TableRules:
    config = load_rules({
        "defaults": {"max_reject_ratio": 0.01, **thresholds},
        "streams": {"order_hdr": {"freshness": {"max_age": "1d", "action": action}}},
    })  # fmt: skip
    return TableRules("order_hdr", config.thresholds("order_hdr"), config.for_stream("order_hdr"))


def _evaluate(rules: TableRules, numbers: StreamNumbers) -> dict[str, dg.AssetCheckResult]:
    selected = {dg.AssetCheckKey(KEY, n) for n in ("reject_ratio", "min_records", "freshness")}
    return {r.check_name: r for r in evaluate(KEY, rules, numbers, selected, now=NOW)}


@pytest.mark.parametrize(
    ("rejects", "passed", "summary"),
    [
        (1, True, "1/100 records rejected (1.00%) <= max 1.00%"),
        (2, False, "2/100 records rejected (2.00%) > max 1.00%"),
        (0, True, "0/100 records rejected (0.00%) <= max 1.00%"),
    ],
)
def test_the_reject_ratio_check_is_judged_like_the_validator(
    rejects: int, passed: bool, summary: str
) -> None:
    """At the limit passes, above it fails; the description carries the numbers."""
    result = _evaluate(_rules(), StreamNumbers(100, rejects, judged=True))["reject_ratio"]
    assert (result.passed, result.description) == (passed, summary)
    assert result.severity is dg.AssetCheckSeverity.ERROR


def test_min_records_counts_zero_as_a_value() -> None:
    """min_records 0 passes an empty run; min_records 1 fails it."""
    empty = StreamNumbers(0, 0, judged=True)
    assert _evaluate(_rules(min_records=0), empty)["min_records"].passed
    failed = _evaluate(_rules(min_records=1), empty)["min_records"]
    assert not failed.passed
    assert failed.description == "0 records read; at least 1 expected"


@pytest.mark.parametrize(
    ("newest", "action", "passed", "severity"),
    [
        ("2026-03-04T00:00:00Z", "fail", True, dg.AssetCheckSeverity.ERROR),
        ("2026-03-02T00:00:00+00:00", "fail", False, dg.AssetCheckSeverity.ERROR),
        ("2026-03-02T00:00:00", "warn", False, dg.AssetCheckSeverity.WARN),
    ],
)
def test_freshness_uses_the_bookmark_and_warns_when_the_rule_only_warns(
    newest: str, action: str, passed: bool, severity: dg.AssetCheckSeverity
) -> None:
    """The newest loaded value older than max_age fails; action warn makes it a warning."""
    numbers = StreamNumbers(10, 0, judged=True, newest=newest)
    result = _evaluate(_rules(action), numbers)["freshness"]
    assert (result.passed, result.severity) == (passed, severity)
    assert "max_age 86400s" in (result.description or "")


def test_nothing_is_judged_without_numbers() -> None:
    """A run that stopped before the validator reported, and without a bookmark, yields none."""
    assert _evaluate(_rules(min_records=1), StreamNumbers(0, 0, judged=False)) == {}
