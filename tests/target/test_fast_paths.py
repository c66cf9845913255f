"""The row builder's inline fast paths store exactly what the converters would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_flext_oracle import PostgresConnector, SqliteConnector
from target_flext_oracle._converters import (
    NonFinite,
    Reject,
    compile_row_builder,
    make_converter,
)
from target_flext_oracle._logical import Kind, LogicalType

TS = LogicalType(Kind.TIMESTAMP)
JSON = LogicalType(Kind.JSON)


def _sqlite_builder(kind: LogicalType) -> Any:
    finish = SqliteConnector.adapter(SqliteConnector.__new__(SqliteConnector), kind)
    conv = make_converter("f", kind, kind, strict=True, finish=finish)
    return compile_row_builder([("f", kind, kind, conv, finish)], strict=True)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T00:00:07.746169+00:00",
        "2024-01-01T00:00:07.000000+00:00",
        "2024-01-01T00:00:07.746169-00:00",
        "2024-01-01T00:00:07.746169Z",
        "2024-01-01 00:00:07.746169+00:00",
        "2024-01-01T00:00:07,746169+00:00",
        "2024-W01-1T00:00:07.746169+00:00",
        "2024-01-01T00:00:07.746+00:00",
        "2024-01-01T00:00:07.746169-05:30",
        "2024-01-01T00:00:07+00:00",
        "20240101T000007.746169+0000",
        "2024-01-01T00:00Z",
        "20240101T00Z",
        "2024-01-01T00:00:07-00:00",
        "2024-01-01T00:00:07+00:00:30",
    ],
)
def test_sqlite_timestamp_text_is_isoformat_of_the_parsed_value(text: str) -> None:
    """SQLite stores d.isoformat() whatever ISO layout came in (canonical text kept as is)."""
    assert _sqlite_builder(TS)({"f": text}) == (dt.datetime.fromisoformat(text).isoformat(),)


#: Aware datetimes at any whole-minute offset, and the layouts isoformat() writes.
_AWARE = st.datetimes(
    timezones=st.builds(
        dt.timezone, st.integers(-1439, 1439).map(lambda m: dt.timedelta(minutes=m))
    )
)
_TIMESPECS = st.sampled_from(["auto", "milliseconds", "microseconds"])


@given(_AWARE, _TIMESPECS)
def test_sqlite_timestamp_fast_path_matches_isoformat(value: dt.datetime, spec: str) -> None:
    """Any aware timestamp text is stored as its parsed value's isoformat()."""
    text = value.isoformat(timespec=spec)
    assert _sqlite_builder(TS)({"f": text}) == (dt.datetime.fromisoformat(text).isoformat(),)


def test_bad_timestamps_are_still_rejected() -> None:
    """Invalid or naive-free-of-zone texts still go through the converter's checks."""
    with pytest.raises(Reject, match="ISO 8601"):
        _sqlite_builder(TS)({"f": "2024-13-01T00:00:07.746169+00:00"})


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ([], "[]"),
        ({}, "{}"),
    ],
)
def test_json_fast_path_encodes_compactly(value: Any, stored: str) -> None:
    """Objects and arrays are stored as compact JSON text."""
    assert _sqlite_builder(JSON)({"f": value}) == (stored,)


@pytest.mark.parametrize("value", [[1, "\x00"], {"k": {"n": "a\x00b"}}, {"x": NonFinite("NaN")}])
def test_json_fast_path_still_rejects(value: Any) -> None:
    """NUL characters and unencodable values in JSON are rejected with a reason."""
    with pytest.raises(Reject) as info:
        _sqlite_builder(JSON)({"f": value})
    assert info.value.field == "f"
    assert info.value.reason


def _pg_builder(kind: LogicalType) -> Any:
    finish = PostgresConnector.adapter(PostgresConnector.__new__(PostgresConnector), kind)
    conv = make_converter("f", kind, kind, strict=True, finish=finish)
    return compile_row_builder([("f", kind, kind, conv, finish)], strict=True)


@given(_AWARE, _TIMESPECS)
def test_postgres_timestamps_go_to_copy_as_utc_iso_text(value: dt.datetime, spec: str) -> None:
    """PostgreSQL gets the instant as UTC ISO text (equal instants give equal keys)."""
    text = value.isoformat(timespec=spec)
    (stored,) = _pg_builder(TS)({"f": text})
    parsed = dt.datetime.fromisoformat(text)
    assert dt.datetime.fromisoformat(stored) == parsed
    if dt.datetime(1, 2, 1, tzinfo=dt.UTC) < parsed < dt.datetime(9999, 12, 1, tzinfo=dt.UTC):
        assert stored == parsed.astimezone(dt.UTC).isoformat()


def test_postgres_dates_and_bad_timestamps() -> None:
    """Dates go as ISO text; bad timestamps are rejected; calendar ends keep their offset."""
    edge = "0001-01-01T00:00:00+05:00"
    assert _pg_builder(TS)({"f": edge}) == (edge,)
    assert _pg_builder(LogicalType(Kind.DATE))({"f": "2024-02-29"}) == ("2024-02-29",)
    with pytest.raises(Reject, match="ISO 8601"):
        _pg_builder(TS)({"f": "2024-02-30T00:00:00+00:00"})


@pytest.mark.parametrize("text", ["2024-02-29", "2024-W09-4", "20240229"])
def test_sqlite_dates_are_stored_as_yyyy_mm_dd(text: str) -> None:
    """Every accepted date layout is stored as YYYY-MM-DD."""
    assert _sqlite_builder(LogicalType(Kind.DATE))({"f": text}) == ("2024-02-29",)


def test_required_fields_reject_missing_and_null_but_not_falsy_values() -> None:
    """A required field that is absent or null rejects the record; 0, False and "" do not."""
    kinds = [LogicalType(Kind.INTEGER), LogicalType(Kind.BOOLEAN), LogicalType(Kind.STRING)]
    specs = [
        (f"f{i}", lt, lt, make_converter(f"f{i}", lt, lt, strict=True), None)
        for i, lt in enumerate(kinds)
    ]
    build = compile_row_builder(specs, strict=True, required=frozenset({"f0", "f1", "f2"}))
    assert build({"f0": 0, "f1": False, "f2": ""}) == (0, False, "")
    for record in ({"f0": 0, "f1": False}, {"f0": 0, "f1": None, "f2": ""}):
        with pytest.raises(Reject, match="required field is missing or null") as info:
            build(record)
        assert info.value.field in {"f1", "f2"} - {k for k, v in record.items() if v is not None}
