"""The columnar path's "keep the text as it came" patterns agree with the per-record converters.

Each pattern in ``columnar/_text.py`` claims that a matching text is stored
unchanged by the per-record path (or parses to the same instant in Arrow as in
Python). Generated texts check each claim against the converters themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_flext_oracle._converters import make_converter
from target_flext_oracle._logical import Kind, LogicalType
from target_flext_oracle.columnar import _text

TS = LogicalType(Kind.TIMESTAMP)
DATE = LogicalType(Kind.DATE)


def _matches(pattern: str, text: str) -> bool:
    return bool(pc.match_substring_regex(pa.array([text]), pattern)[0].as_py())


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _arrow_instant(text: str) -> int | None:
    """Arrow's instant for ``text`` in microseconds since the epoch (``None``: refused).

    Compared as integers: an instant such as 0001-01-01T00:00+05:30 lies before
    ``datetime.min`` in UTC, which Arrow and the databases hold but Python cannot.
    """
    try:
        value = pc.cast(pa.array([text]), pa.timestamp("us", "UTC")).cast(pa.int64())[0]
    except pa.ArrowInvalid:
        return None
    return int(value.as_py())


def _micros(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


@st.composite
def timestamp_texts(draw: st.DrawFn) -> str:
    """Date-times in the layouts taps write, valid or not (out-of-range fields included)."""
    year = draw(st.integers(0, 10000))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour, minute, second = (
        draw(st.integers(0, 25)),
        draw(st.integers(0, 61)),
        draw(st.integers(0, 61)),
    )
    frac = draw(st.sampled_from(["", ".0", ".000000", ".123456", ".5", ".1234567", ".250"]))
    zone = draw(
        st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-08:00", "+23:59", "+24:00", "", "z"])
    )
    sep = draw(st.sampled_from(["T", " ", "t"]))
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}{zone}"


@settings(max_examples=400, deadline=None)
@given(timestamp_texts())
@example("0001-01-01T00:00:00+05:30")  # before datetime.min in UTC (found by a CI run)
@example("9999-12-31T23:00:00-08:00")  # after datetime.max in UTC
def test_a_date_time_arrow_parses_where_the_pattern_matches_is_pythons_instant(text: str) -> None:
    """INSTANT: Arrow's instant for a matching text is Python's (naive meaning UTC)."""
    if not _matches(_text.INSTANT, text):
        return
    arrow = _arrow_instant(text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        assert arrow is None, text
        return
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if arrow is not None:
        assert arrow == _micros(parsed), text


@settings(max_examples=400, deadline=None)
@given(timestamp_texts())
def test_a_date_time_kept_as_text_is_what_the_per_record_path_stores(text: str) -> None:
    """ISOFORMAT (minus ISOFORMAT_NOT), valid for Arrow: SQLite's per-record text is the input."""
    if not _matches(_text.ISOFORMAT, text) or _matches(_text.ISOFORMAT_NOT, text):
        return
    if _arrow_instant(text) is None:
        return  # the column cast refuses the batch: the per-record path decides
    convert = make_converter("f", TS, TS, strict=True, finish=dt.datetime.isoformat)
    assert convert(text) == text


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32))
def test_a_date_kept_as_text_is_a_date_python_reads_the_same_way(y: int, m: int, d: int) -> None:
    """DATE: a matching text Arrow accepts is a date Python accepts, stored unchanged."""
    text = f"{y:04d}-{m:02d}-{d:02d}"
    if not _matches(_text.DATE, text):
        return
    try:
        arrow = pc.cast(pa.array([text]), pa.date32())[0].as_py()
    except pa.ArrowInvalid:
        arrow = None
    try:
        python = dt.date.fromisoformat(text)
    except ValueError:
        assert arrow is None, text
        return
    assert arrow == python
    convert = make_converter("f", DATE, DATE, strict=True, finish=dt.date.isoformat)
    assert convert(text) == text


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.integers(-(10**30), 10**30).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(
            lambda f: msgspec.json.encode(f).decode()
        ),
        st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{1,9})?", fullmatch=True),
    )
)
def test_a_number_kept_as_text_is_what_str_decimal_gives(text: str) -> None:
    """PLAIN_NUMBER (minus PLAIN_NUMBER_NOT): str(Decimal(text)) is the text itself."""
    if _matches(_text.PLAIN_NUMBER, text) and not _matches(_text.PLAIN_NUMBER_NOT, text):
        assert str(Decimal(text)) == text


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(_json_values, st.sampled_from(["msgspec", "compact", "spaced", "ascii"]))
def test_json_kept_as_text_is_what_the_per_record_path_stores(value: object, style: str) -> None:
    """JSON text the pattern lets through re-encodes (as the per-record path does) to itself."""
    if style == "msgspec":
        text = msgspec.json.encode(value).decode()
    else:
        text = json.dumps(
            value,
            separators=(",", ":") if style != "spaced" else (", ", ": "),
            ensure_ascii=style == "ascii",
            default=str,
        )
    if _matches(_text.JSON_MAYBE_CHANGED, text):
        return
    convert = make_converter("f", LogicalType(Kind.JSON), LogicalType(Kind.JSON), strict=True)
    decoded = msgspec.json.Decoder(float_hook=Decimal).decode(text.encode())
    assert convert(decoded) == text
