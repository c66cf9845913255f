"""The row builder's inline fast paths store exactly what the converters would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_flext_oracle import SqliteConnector
from target_flext_oracle._types import (
    Kind,
    LogicalType,
    NonFinite,
    Reject,
    compile_row_builder,
    make_converter,
)

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
    ],
)
def test_sqlite_timestamp_text_is_isoformat_of_the_parsed_value(text: str) -> None:
    """SQLite stores d.isoformat() whatever ISO layout came in (canonical text kept as is)."""
    assert _sqlite_builder(TS)({"f": text}) == (dt.datetime.fromisoformat(text).isoformat(),)


@given(
    st.datetimes(
        timezones=st.builds(
            dt.timezone, st.integers(-1439, 1439).map(lambda m: dt.timedelta(minutes=m))
        )
    ),
    st.sampled_from(["auto", "milliseconds", "microseconds"]),
)
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
