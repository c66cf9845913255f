"""Each validation rule, with hypothesis where the input space is wide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flext_infra.quality import DataValidator, Reject

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# Hypothesis tests below run without a deadline: the machine is shared by several
# sessions and per-example timings are noise there, not a property of the code.


def _validator(streams: dict[str, Any], **defaults: Any) -> DataValidator:
    return DataValidator({"defaults": defaults, "streams": streams}, clock=lambda: NOW)


def _rules(rejects: list[Reject]) -> list[tuple[str, str]]:
    return [(r.field, r.rule) for r in rejects]


FALSY = st.sampled_from([0, 0.0, False, "", Decimal(0), [], {}])


@settings(deadline=None, max_examples=60)
@given(value=FALSY)
def test_falsy_values_are_values_never_nulls(value: Any) -> None:
    """0, False and "" (and other falsy values) pass required and not_null."""
    v = _validator({"s": {"required": ["x"], "not_null": ["x"]}})
    valid, rejects = v.validate_batch("s", [{"id": 1, "x": value}], ["id"])
    assert rejects == []
    assert valid == [{"id": 1, "x": value}]
    assert valid[0]["x"] is value  # the value itself passes through, not a copy or None


def test_falsy_values_pass_schema_typed_fields() -> None:
    """Schema-typed fields accept 0, False and "" as their type's values."""
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "qty": {"type": "number"},
            "flag": {"type": "boolean"},
            "note": {"type": "string"},
        },
        "required": ["qty", "flag", "note"],
    }
    v = DataValidator()
    record = {"id": 0, "qty": 0, "flag": False, "note": ""}
    valid, rejects = v.validate_batch("s", [record], ["id"], schema=schema)
    assert rejects == [] and valid == [record]


def test_required_rejects_a_missing_field_but_not_a_null() -> None:
    """required means present; a present null is judged by not_null only."""
    v = _validator({"s": {"required": ["x"]}})
    _, rejects = v.validate_batch("s", [{"id": 1}, {"id": 2, "x": None}], ["id"])
    assert _rules(rejects) == [("x", "required")]
    assert rejects[0].key == {"id": 1}
    assert rejects[0].reason == "x is missing"


def test_not_null_rejects_only_none() -> None:
    """not_null rejects None and lets a missing (optional) field pass."""
    v = _validator({"s": {"not_null": ["x"]}})
    _, rejects = v.validate_batch("s", [{"id": 1, "x": None}, {"id": 2}], ["id"])
    assert _rules(rejects) == [("x", "not_null")]


def test_schema_without_null_type_makes_a_field_not_null() -> None:
    """A schema type without "null" rejects None; with "null" it is allowed."""
    schema = {
        "properties": {
            "a": {"type": "string"},
            "b": {"type": ["null", "string"]},
        }
    }
    v = DataValidator()
    _, rejects = v.validate_batch(
        "s", [{"id": 1, "a": None, "b": None}, {"id": 2, "a": "x", "b": None}], ["id"],
        schema=schema,
    )  # fmt: skip
    assert _rules(rejects) == [("a", "not_null")]


@pytest.mark.parametrize(
    ("prop", "value", "ok"),
    [
        ({"type": "integer"}, 5, True),
        ({"type": "integer"}, 5.0, True),
        ({"type": "integer"}, 5.5, False),
        ({"type": "integer"}, True, False),
        ({"type": "integer"}, "5", False),
        ({"type": "number"}, Decimal("1.25"), True),
        ({"type": "number"}, False, False),
        ({"type": "string"}, 3, False),
        ({"type": "boolean"}, 0, False),
        ({"type": ["object", "null"]}, {"id": 1}, True),
        ({"type": "array"}, [1], True),
    ],
)
def test_schema_types_are_checked(prop: dict[str, Any], value: Any, ok: bool) -> None:
    """Values must match the stream schema's JSON type; bool is never a number."""
    v = DataValidator()
    schema = {"properties": {"v": prop}}
    _, rejects = v.validate_batch("s", [{"id": 1, "v": value}], ["id"], schema=schema)
    assert (rejects == []) is ok
    if not ok:
        assert _rules(rejects) == [("v", "type")]


def test_primary_key_is_unique_within_a_batch_and_last_wins() -> None:
    """Earlier duplicates of a key are rejected; the last record with the key is kept."""
    v = DataValidator()
    batch = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}, {"id": 1, "v": "d"}]
    valid, rejects = v.validate_batch("s", batch, ["id"])
    assert valid == [{"id": 2, "v": "b"}, {"id": 1, "v": "d"}]
    assert [r.record["v"] for r in rejects] == ["a", "c"]
    assert {r.rule for r in rejects} == {"unique"}
    # Another batch may repeat the key: uniqueness is per batch.
    valid2, rejects2 = v.validate_batch("s", [{"id": 1, "v": "e"}], ["id"])
    assert rejects2 == [] and len(valid2) == 1


def test_composite_keys_compare_all_parts() -> None:
    """A composite primary key is unique only on the whole tuple."""
    v = DataValidator()
    batch = [{"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]
    valid, rejects = v.validate_batch("s", batch, ["a", "b"])
    assert len(valid) == 2 and len(rejects) == 1
    assert rejects[0].key == {"a": 1, "b": 1}


def test_key_properties_are_required_and_not_null() -> None:
    """A record without its primary key, or with a null one, is rejected."""
    v = DataValidator()
    _, rejects = v.validate_batch("s", [{"x": 1}, {"id": None}, {"id": 0}], ["id"])
    assert _rules(rejects) == [("id", "required"), ("id", "not_null")]


@settings(deadline=None, max_examples=60)
@given(
    low=st.integers(-1000, 1000),
    span=st.integers(0, 1000),
    value=st.one_of(st.integers(-3000, 3000), st.floats(-3000, 3000, allow_nan=False)),
)
def test_range_accepts_exactly_the_closed_interval(low: int, span: int, value: float) -> None:
    """min <= value <= max passes, anything outside is rejected with rule range."""
    high = low + span
    v = _validator({"s": {"fields": {"q": {"min": low, "max": high}}}})
    _, rejects = v.validate_batch("s", [{"id": 1, "q": value}], ["id"])
    inside = low <= value <= high
    assert (rejects == []) is inside
    if not inside:
        assert _rules(rejects) == [("q", "range")]


def test_range_accepts_numeric_strings_and_decimals_but_not_words() -> None:
    """Decimal and numeric strings are compared as numbers; other values are rejected."""
    v = _validator({"s": {"fields": {"q": {"min": 0}}}})
    batch = [
        {"id": 1, "q": Decimal("0.000")},
        {"id": 2, "q": "12.5"},
        {"id": 3, "q": "-0.001"},
        {"id": 4, "q": "many"},
        {"id": 5, "q": float("nan")},
    ]
    _, rejects = v.validate_batch("s", batch, ["id"])
    assert [r.key["id"] for r in rejects] == [3, 4, 5]


@settings(deadline=None, max_examples=60)
@given(
    allowed=st.lists(st.integers(0, 99), min_size=1, max_size=8, unique=True),
    value=st.one_of(st.integers(0, 99), st.booleans(), st.text(max_size=3)),
)
def test_enum_accepts_only_listed_values(allowed: list[int], value: Any) -> None:
    """enum passes listed values only; True is not 1 and "10" is not 10."""
    v = _validator({"s": {"fields": {"status_id": {"enum": allowed}}}})
    _, rejects = v.validate_batch("s", [{"id": 1, "status_id": value}], ["id"])
    listed = type(value) is int and value in allowed
    assert (rejects == []) is listed


def test_enum_false_is_a_listed_value() -> None:
    """An enum containing False accepts False and rejects 0."""
    v = _validator({"s": {"fields": {"f": {"enum": [False, "N"]}}}})
    _, rejects = v.validate_batch("s", [{"id": 1, "f": False}, {"id": 2, "f": 0}], ["id"])
    assert [r.key["id"] for r in rejects] == [2]


@settings(deadline=None, max_examples=60)
@given(text=st.text(alphabet="AB12-_ x", max_size=12))
def test_regex_must_match_the_whole_value(text: str) -> None:
    """regex is a full match: a partial match is a failure."""
    import re

    v = _validator({"s": {"fields": {"code": {"regex": "[A-Z]+-[0-9]+"}}}})
    _, rejects = v.validate_batch("s", [{"id": 1, "code": text}], ["id"])
    assert (rejects == []) is (re.fullmatch("[A-Z]+-[0-9]+", text) is not None)


@settings(deadline=None, max_examples=60)
@given(limit=st.integers(0, 20), text=st.text(max_size=40))
def test_max_length_counts_characters(limit: int, text: str) -> None:
    """max_length limits characters (not bytes); "" always fits."""
    v = _validator({"s": {"fields": {"name": {"max_length": limit}}}})
    _, rejects = v.validate_batch("s", [{"id": 1, "name": text}], ["id"])
    assert (rejects == []) is (len(text) <= limit)


def test_schema_constraints_are_enforced_without_configuration() -> None:
    """maxLength, enum, pattern, minimum and maximum in the schema become rules."""
    schema = {
        "properties": {
            "code": {"type": "string", "maxLength": 3, "pattern": "[a-z]+"},
            "kind": {"enum": ["a", "b"]},
            "qty": {"type": "integer", "minimum": 0, "maximum": 10},
        }
    }
    v = DataValidator()
    batch = [
        {"id": 1, "code": "abcd", "kind": "a", "qty": 1},
        {"id": 2, "code": "AB", "kind": "a", "qty": 1},
        {"id": 3, "code": "ab", "kind": "c", "qty": 1},
        {"id": 4, "code": "ab", "kind": "a", "qty": 11},
        {"id": 5, "code": "ab", "kind": "b", "qty": 0},
    ]
    _, rejects = v.validate_batch("s", batch, ["id"], schema=schema)
    assert _rules(rejects) == [
        ("code", "max_length"),
        ("code", "regex"),
        ("kind", "enum"),
        ("qty", "range"),
    ]


def test_dotted_paths_reach_into_nested_objects() -> None:
    """A rule on ``facility_id.key`` checks the key inside the foreign-key object."""
    v = _validator({"s": {"fields": {"facility_id.key": {"not_null": True, "max_length": 5}}}})
    batch = [
        {"id": 1, "facility_id": {"id": 1, "key": "FAC01"}},
        {"id": 2, "facility_id": {"id": 2, "key": None}},
        {"id": 3, "facility_id": {"id": 3, "key": "TOO-LONG"}},
    ]
    _, rejects = v.validate_batch("s", batch, ["id"])
    assert _rules(rejects) == [("facility_id.key", "not_null"), ("facility_id.key", "max_length")]


def test_every_failure_of_a_record_is_listed() -> None:
    """A record breaking several rules is one reject listing each failure."""
    v = _validator({"s": {"required": ["a"], "fields": {"b": {"max_length": 1}}}})
    _, [reject] = v.validate_batch("s", [{"id": 1, "b": "xyz"}], ["id"])
    assert {f[:2] for f in reject.failures} == {("a", "required"), ("b", "max_length")}
    assert (reject.field, reject.rule, reject.reason) == reject.failures[0]


def test_freshness_rejects_unparseable_and_future_timestamps() -> None:
    """The replication key must be a timestamp and not beyond max_future."""
    v = _validator(
        {"s": {"freshness": {"max_age": "1d", "max_future": "1h"}}},
    )
    batch = [
        {"id": 1, "mod_ts": (NOW - timedelta(hours=1)).isoformat()},
        {"id": 2, "mod_ts": "yesterday"},
        {"id": 3, "mod_ts": (NOW + timedelta(hours=2)).isoformat()},
        {"id": 4, "mod_ts": "2026-01-15T12:30:00Z"},
    ]
    _, rejects = v.validate_batch("s", batch, ["id"], replication_key="mod_ts")
    assert [(r.key["id"], r.rule) for r in rejects] == [(2, "freshness"), (3, "freshness")]
    assert v.finish().ok


def test_stale_replication_key_breaks_the_freshness_threshold() -> None:
    """When the newest replication-key value is older than max_age, the run fails."""
    from flext_infra.quality import ThresholdBreachError

    v = _validator({"s": {"freshness": {"field": "mod_ts", "max_age": "2d"}}})
    old = (NOW - timedelta(days=3)).isoformat()
    v.validate_batch("s", [{"id": 1, "mod_ts": old}], ["id"])
    with pytest.raises(ThresholdBreachError, match=r"is \d+s old > max_age"):
        v.finish()
    [breach] = v.finish(raise_on_breach=False).breaches
    assert breach.kind == "freshness"


def test_freshness_warn_action_reports_without_failing() -> None:
    """With action: warn, stale data is a report warning, not a breach."""
    v = _validator({"s": {"freshness": {"field": "mod_ts", "max_age": 60, "action": "warn"}}})
    v.validate_batch("s", [{"id": 1, "mod_ts": "2020-01-01T00:00:00+00:00"}], ["id"])
    report = v.finish()
    assert report.ok
    assert [w.kind for w in report.warnings] == ["freshness"]
