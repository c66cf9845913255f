"""One logical mapping, three dialects side by side; identifier normalisation properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from flext_infra.database import ServerFacts
from target_flext_oracle import (
    IdentifierPolicy,
    Kind,
    LogicalType,
    NameCollisionError,
    OracleConnector,
    PostgresConnector,
    SqliteConnector,
)
from target_flext_oracle._logical import Change, compare, from_jsonschema

LOGICAL = [
    LogicalType(Kind.INTEGER),
    LogicalType(Kind.INTEGER, big=True),
    LogicalType(Kind.NUMBER),
    LogicalType(Kind.BOOLEAN),
    LogicalType(Kind.STRING, 50),
    LogicalType(Kind.STRING, None),
    LogicalType(Kind.TIMESTAMP),
    LogicalType(Kind.DATE),
    LogicalType(Kind.TIME),
    LogicalType(Kind.JSON),
]

#: logical type -> (Oracle 19c, Oracle 23ai, PostgreSQL, SQLite)
EXPECTED = {
    "integer": ("NUMBER(19, 0)", "NUMBER(19, 0)", "BIGINT", "BIGINT"),
    "integer(big)": ("NUMBER(38, 0)", "NUMBER(38, 0)", "NUMERIC(38, 0)", "NUMERIC(38, 0)"),
    "number": ("NUMBER", "NUMBER", "NUMERIC", "NUMERIC"),
    "boolean": ("NUMBER(1, 0)", "BOOLEAN", "BOOLEAN", "BOOLEAN"),
    "string(50)": ("VARCHAR2(50 CHAR)", "VARCHAR2(50 CHAR)", "TEXT", "VARCHAR(50)"),
    "string(unbounded)": ("CLOB", "CLOB", "TEXT", "TEXT"),
    "timestamp": (
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP",
    ),
    "date": ("DATE", "DATE", "DATE", "DATE"),
    "time": ("VARCHAR2(64 CHAR)", "VARCHAR2(64 CHAR)", "TEXT", "TEXT"),
    "json": ("CLOB", "JSON", "JSONB", "JSON"),
}


def _connectors() -> list[Any]:
    return [
        OracleConnector({}, facts=ServerFacts.for_version((19, 0))),
        OracleConnector({}, facts=ServerFacts.for_version((23, 4))),
        PostgresConnector({}, dialect=postgresql.dialect()),  # type: ignore[no-untyped-call]
        SqliteConnector({}, dialect=sqlite.dialect()),  # type: ignore[no-untyped-call]
    ]


def test_one_logical_mapping_side_by_side() -> None:
    """Every logical type maps to the expected type in Oracle 19c/23ai, PostgreSQL and SQLite."""
    connectors = _connectors()
    table = {str(lt): tuple(c.compile_type(lt) for c in connectors) for lt in LOGICAL}
    assert table == EXPECTED


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"type": "integer"}, LogicalType(Kind.INTEGER)),
        ({"type": ["integer", "null"], "maximum": 2**70}, LogicalType(Kind.INTEGER, big=True)),
        ({"type": ["number", "integer"]}, LogicalType(Kind.NUMBER)),
        ({"type": "string", "format": "date-time"}, LogicalType(Kind.TIMESTAMP)),
        (
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            LogicalType(Kind.TIMESTAMP),
        ),
        ({"type": "string", "format": "date"}, LogicalType(Kind.DATE)),
        ({"type": "string", "format": "time"}, LogicalType(Kind.TIME)),
        ({"type": "string", "maxLength": 12}, LogicalType(Kind.STRING, 12)),
        ({"type": ["object", "null"]}, LogicalType(Kind.JSON)),
        ({"type": "array"}, LogicalType(Kind.JSON)),
        ({}, LogicalType(Kind.JSON)),
        ({"type": ["string", "integer"]}, LogicalType(Kind.STRING)),
    ],
)
def test_jsonschema_properties_map_to_logical_types(
    prop: dict[str, Any], expected: LogicalType
) -> None:
    """JSON-schema properties become the logical type the three dialects share."""
    assert from_jsonschema(prop)[0] == expected


@pytest.mark.parametrize(
    ("existing", "incoming", "change"),
    [
        (LogicalType(Kind.INTEGER), LogicalType(Kind.NUMBER), Change.WIDEN),
        (LogicalType(Kind.NUMBER), LogicalType(Kind.INTEGER), Change.KEEP),
        (LogicalType(Kind.STRING, 10), LogicalType(Kind.STRING, 20), Change.WIDEN),
        (LogicalType(Kind.STRING, 10), LogicalType(Kind.STRING, None), Change.WIDEN),
        (LogicalType(Kind.STRING, None), LogicalType(Kind.INTEGER), Change.KEEP),
        (LogicalType(Kind.INTEGER), LogicalType(Kind.STRING), Change.INCOMPATIBLE),
        (LogicalType(Kind.BOOLEAN), LogicalType(Kind.INTEGER), Change.INCOMPATIBLE),
        (LogicalType(Kind.TIMESTAMP), LogicalType(Kind.DATE), Change.KEEP),
    ],
)
def test_type_changes_are_classified(
    existing: LogicalType, incoming: LogicalType, change: Change
) -> None:
    """Compatible changes keep or widen; the rest are left to the schema-change policy."""
    assert compare(existing, incoming)[0] is change


POLICIES = [
    IdentifierPolicy(max_bytes=30, fold_upper=True, quote_leading_underscore=True),
    IdentifierPolicy(max_bytes=63),
    IdentifierPolicy(max_bytes=128, fold_upper=True),
]


@given(name=st.text(min_size=0, max_size=200))
def test_normalised_names_fit_are_stable_and_nonempty(name: str) -> None:
    """Any field name becomes a non-empty name within the byte limit, the same every time."""
    for policy in POLICIES:
        out = policy.normalize(name)
        assert out
        assert len(out.encode()) <= policy.max_bytes
        assert out == policy.normalize(name)
        assert not out[0].isdigit()


@given(a=st.text(min_size=40, max_size=80), b=st.text(min_size=40, max_size=80))
def test_shortened_names_of_different_fields_differ(a: str, b: str) -> None:
    """Two long names sharing a prefix get different hashes, or a collision is reported."""
    policy = POLICIES[0]
    if policy.normalize(a) == policy.normalize(b) and a != b:
        with pytest.raises(NameCollisionError):
            policy.column_names([a, b])


def test_name_collisions_are_detected() -> None:
    """Fields that normalise to one column name are refused, naming both."""
    with pytest.raises(NameCollisionError, match="'Order-Id' and 'order_id'"):
        POLICIES[1].column_names(["Order-Id", "order_id"])


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    # What the reader can produce: finite Decimals (JSON has no NaN/Infinity numbers).
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "12.50"]),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00",
            "2024-05-01",
            "2024-13-45",
            "10:00:00",
            "x\x00",
        ]
    ),
    st.lists(st.integers(), max_size=3),
)


@pytest.mark.parametrize("dialect", ["sqlite", "oracle19", "postgres"])
@given(values=st.lists(_VALUES, min_size=9, max_size=9))
def test_generated_row_builder_matches_the_converters(dialect: str, values: list[Any]) -> None:
    """The generated fast path gives exactly what the field converters give, rejects included."""
    from target_flext_oracle._converters import compile_row_builder, make_converter

    connector = {
        "sqlite": lambda: SqliteConnector({}, dialect=sqlite.dialect()),  # type: ignore[no-untyped-call]
        "oracle19": lambda: OracleConnector({}, facts=ServerFacts.for_version((19, 0))),
        "postgres": lambda: PostgresConnector({}, dialect=postgresql.dialect()),  # type: ignore[no-untyped-call]
    }[dialect]()
    types = [
        LogicalType(Kind.INTEGER),
        LogicalType(Kind.NUMBER),
        LogicalType(Kind.BOOLEAN),
        LogicalType(Kind.STRING, 5),
        LogicalType(Kind.STRING),
        LogicalType(Kind.TIMESTAMP),
        LogicalType(Kind.DATE),
        LogicalType(Kind.TIME),
        LogicalType(Kind.JSON),
    ]
    for strict in (True, False):
        specs = []
        for i, lt in enumerate(types):
            finish = connector.adapter(lt)
            conv = make_converter(f"f{i}", lt, lt, strict=strict, finish=finish)
            specs.append((f"f{i}", lt, lt, conv, finish))
        record = {f"f{i}": v for i, v in enumerate(values)}

        build = compile_row_builder(specs, strict=strict)
        assert _outcome(build, record) == _outcome(_loop(specs), record)


def _loop(specs: list[Any]) -> Any:
    def convert(record: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(None if record[f] is None else c(record[f]) for f, _, _, c, _ in specs)

    return convert


def _outcome(fn: Any, record: dict[str, Any]) -> Any:
    from target_flext_oracle._converters import Reject

    try:
        return ("ok", fn(record))
    except Reject as rej:
        return ("reject", rej.field)
