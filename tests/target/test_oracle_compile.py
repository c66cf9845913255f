"""Oracle SQL compiled with SQLAlchemy's Oracle dialect for 12.1, 19c and 23ai, against snapshots.

No Oracle server runs here: these tests check the statements the target would
send (DDL, ALTER, MERGE, type mapping, identifiers), compared with reviewed
snapshot files in tests/target/snapshots/. Regenerate them with
FLEXT_UPDATE_SNAPSHOTS=1 and review the diff before committing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flext_infra.database import ServerFacts
from target_flext_oracle import Kind, LogicalType, OracleConnector, TableRef
from target_flext_oracle._plan import FieldPlan, TablePlan

SNAPSHOTS = Path(__file__).parent / "snapshots"
VERSIONS = {"12.1": (12, 1), "19c": (19, 0), "23ai": (23, 4)}
RESERVED_FIELDS = ("date", "level", "size", "comment", "user", "_sdc_batched_at")
LONG_FIELD = "allocation_destination_location_barcode_identifier"

FIELDS: list[tuple[str, LogicalType]] = [
    ("id", LogicalType(Kind.INTEGER)),
    ("ord_nbr", LogicalType(Kind.STRING, 20)),
    ("qty", LogicalType(Kind.INTEGER)),
    ("big_counter", LogicalType(Kind.INTEGER, big=True)),
    ("price", LogicalType(Kind.NUMBER)),
    ("is_active", LogicalType(Kind.BOOLEAN)),
    ("mod_ts", LogicalType(Kind.TIMESTAMP)),
    ("ship_date", LogicalType(Kind.DATE)),
    ("ship_time", LogicalType(Kind.TIME)),
    ("facility_id", LogicalType(Kind.JSON)),
    ("note", LogicalType(Kind.STRING, 1000)),
    ("long_text", LogicalType(Kind.STRING, None)),
    ("date", LogicalType(Kind.STRING, 64)),
    ("level", LogicalType(Kind.INTEGER)),
    ("size", LogicalType(Kind.INTEGER)),
    ("comment", LogicalType(Kind.STRING, 255)),
    ("user", LogicalType(Kind.STRING, 64)),
    ("_sdc_batched_at", LogicalType(Kind.TIMESTAMP)),
    (LONG_FIELD, LogicalType(Kind.STRING, 64)),
]


def connector(version: tuple[int, ...]) -> OracleConnector:
    """An Oracle connector compiling offline for ``version`` (no server, no engine)."""
    return OracleConnector({"load_method": "upsert"}, facts=ServerFacts.for_version(version))


def statements(version: tuple[int, ...]) -> str:
    """Every statement kind the target sends to Oracle, for one server version."""
    c = connector(version)
    names = c.policy.column_names([f for f, _ in FIELDS])
    plans = [FieldPlan(f, names[f], lt, lt) for f, lt in FIELDS]
    ref = c.table_ref("wms_owner", "WMS_order_hdr")
    plan = TablePlan(ref, plans, ("id",))
    out: list[str] = []
    out.append("-- type mapping")
    for logical in sorted({lt for _, lt in FIELDS}, key=str):
        out.append(f"-- {logical}: {c.compile_type(logical)}")
    out.append("-- create table (upsert: primary key on the stream keys)")
    out += c.create_table_sql(ref, plans, ("id",))
    out.append("-- add columns")
    added = [
        FieldPlan("order", "order", LogicalType(Kind.STRING, 255), LogicalType(Kind.STRING, 255)),
        FieldPlan("payload", "payload", LogicalType(Kind.JSON), LogicalType(Kind.JSON)),
        FieldPlan("shipped", "shipped", LogicalType(Kind.BOOLEAN), LogicalType(Kind.BOOLEAN)),
    ]
    out += c.add_columns_sql(ref, added)
    out.append("-- widen integer -> number")
    out += c.widen_column_sql(ref, "qty", LogicalType(Kind.INTEGER), LogicalType(Kind.NUMBER))
    out.append("-- widen varchar2(20) -> varchar2(255)")
    out += c.widen_column_sql(
        ref, "ord_nbr", LogicalType(Kind.STRING, 20), LogicalType(Kind.STRING, 255)
    )
    out.append("-- widen varchar2 -> clob (copy, since MODIFY cannot)")
    out += c.widen_column_sql(
        ref, "comment", LogicalType(Kind.STRING, 255), LogicalType(Kind.STRING, None)
    )
    out.append("-- incompatible change under schema_change_policy=text")
    out += c.to_text_sql(ref, "mod_ts", LogicalType(Kind.TIMESTAMP), LogicalType(Kind.STRING))
    out.append("-- upsert: staging table and MERGE")
    stage = c.stage_ref(ref)
    out += c.create_stage_sql(ref)
    out.append(c.merge_sql(ref, stage, plan))
    out.append("-- upsert when every column is a key")
    out.append(c.merge_sql(ref, stage, TablePlan(ref, plans[:1], ("id",))))
    out.append("-- append-only insert (array DML)")
    out.append(c.insert_sql(ref, plan.columns))
    out.append("-- overwrite swap")
    new = c.derived_ref(ref, "new")
    old = c.derived_ref(ref, "old")
    out.append(c.rename_table_sql(ref, old.name))
    out.append(c.rename_table_sql(new, ref.name))
    out.append(c.drop_table_sql(old))
    out.append("-- schema statements (Oracle: none, a schema is a user)")
    out += c.schema_sql("wms_owner") or ["-- (none)"]
    return "\n".join(s.strip() for s in out) + "\n"


@pytest.mark.parametrize("label", list(VERSIONS))
def test_oracle_statements_match_the_reviewed_snapshot(label: str) -> None:
    """DDL, ALTER, MERGE and the type mapping compile as in the reviewed snapshot."""
    text = statements(VERSIONS[label])
    path = SNAPSHOTS / f"oracle_{label}.sql"
    if os.environ.get("FLEXT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("label", list(VERSIONS))
def test_oracle_never_creates_schemas_and_quotes_reserved_words(label: str) -> None:
    """No CREATE SCHEMA; reserved words and leading underscores are quoted in upper case."""
    text = statements(VERSIONS[label])
    assert "CREATE SCHEMA" not in text.upper()
    for word in ("DATE", "LEVEL", "SIZE", "COMMENT", "USER", "_SDC_BATCHED_AT", "ORDER"):
        assert f'"{word}"' in text, word
    assert "wms_owner.wms_order_hdr" in text.lower()
    assert '"date"' not in text  # never a case-sensitive lower-case name


@pytest.mark.parametrize(("label", "limit"), [("12.1", 30), ("19c", 128), ("23ai", 128)])
def test_oracle_identifiers_fit_the_version_byte_limit(label: str, limit: int) -> None:
    """Every identifier fits the server's byte limit; shortened names carry a stable hash."""
    c = connector(VERSIONS[label])
    names = c.policy.column_names([f for f, _ in FIELDS])
    for column in names.values():
        assert len(column.encode()) <= limit
    text = statements(VERSIONS[label])
    for token in re.findall(r'"([^"]+)"', text):
        assert len(token.encode()) <= limit, token
    if limit == 30:
        short = names[LONG_FIELD]
        assert short != LONG_FIELD and re.search(r"_[0-9a-f]{8}$", short)
        assert connector(VERSIONS[label]).policy.normalize(LONG_FIELD) == short


def test_oracle_types_follow_the_server_version() -> None:
    """JSON on 21c+, BOOLEAN on 23ai+, CLOB IS JSON and NUMBER(1) with a check before."""
    old, new = statements((19, 0)), statements((23, 4))
    assert "CLOB" in old and "IS JSON" in old and "IN (0, 1)" in old
    assert "facility_id JSON" in new and "is_active BOOLEAN" in new
    assert "IS JSON" not in new
    extended = OracleConnector(
        {}, facts=ServerFacts.for_version((19, 0), max_string_size_extended=True)
    )
    assert extended.compile_type(LogicalType(Kind.STRING, 10000)) == "VARCHAR2(10000 CHAR)"
    assert connector((19, 0)).compile_type(LogicalType(Kind.STRING, 10000)) == "CLOB"


def test_oracle_ref_names_are_upper_case_unquoted_when_simple() -> None:
    """Plain names stay unquoted (Oracle folds them to upper case)."""
    c = connector((19, 0))
    assert c.qt(TableRef("wms_owner", "order_hdr")) == "wms_owner.order_hdr"
    assert c.q("date") == '"DATE"'
    assert c.q("größe") == '"GRÖSSE"'


def test_oracle_bind_values_are_shaped_for_python_oracledb() -> None:
    """Timestamps bind as UTC wall clock (oracledb drops tzinfo); booleans 0/1 before 23ai."""
    import datetime as dt

    from target_flext_oracle._converters import make_converter

    c19, c23 = connector((19, 0)), connector((23, 4))
    ts = LogicalType(Kind.TIMESTAMP)
    convert = make_converter("ts", ts, ts, strict=True, finish=c19.adapter(ts))
    assert convert("2024-05-01T11:30:00.25+02:00") == dt.datetime(2024, 5, 1, 9, 30, 0, 250000)
    flag = LogicalType(Kind.BOOLEAN)
    assert make_converter("b", flag, flag, strict=True, finish=c19.adapter(flag))(False) == 0
    assert make_converter("b", flag, flag, strict=True, finish=c23.adapter(flag))(False) is False


def test_oracle_array_dml_declares_input_sizes_per_column() -> None:
    """setinputsizes gets one entry per column: NUMBER, TIMESTAMP_TZ, DATE, lengths, CLOB."""
    import oracledb

    c = connector((19, 0))
    fields = [FieldPlan(f, f, lt, lt) for f, lt in FIELDS[:12]]
    sizes = c.input_sizes(fields)
    assert sizes == [
        oracledb.DB_TYPE_NUMBER,
        20,
        oracledb.DB_TYPE_NUMBER,
        oracledb.DB_TYPE_NUMBER,
        oracledb.DB_TYPE_NUMBER,
        oracledb.DB_TYPE_NUMBER,
        oracledb.DB_TYPE_TIMESTAMP_TZ,
        oracledb.DB_TYPE_DATE,
        64,
        oracledb.DB_TYPE_CLOB,
        1000,
        oracledb.DB_TYPE_CLOB,
    ]


class _RecordingConnection:
    """Stands in for the batch transaction and records the SQL sent (no database)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, sql: str) -> None:
        self.sql.append(sql)


def test_oracle_batch_ddl_sequence_for_upsert() -> None:
    """First batch creates table and MERGE stage; later batches none; new columns rebuild it."""
    c = connector((19, 0))
    ref = c.table_ref(None, "item")
    c._states[ref] = None  # the table does not exist yet (as reflection would say)
    c._states[c.stage_ref(ref)] = None
    specs = [
        ("id", "id", LogicalType(Kind.INTEGER), False),
        ("name", "name", LogicalType(Kind.STRING, 10), True),
    ]
    plan = c.plan_table(ref, specs, ["id"])
    first = _RecordingConnection()
    c.apply_plan(first, plan, need_unique=True)
    c.plan_applied(plan, unique=True)
    assert first.sql[0].startswith("CREATE TABLE item (")
    assert first.sql[1] == (
        "CREATE GLOBAL TEMPORARY TABLE item__stg ON COMMIT DELETE ROWS "
        "AS SELECT * FROM item WHERE 1 = 0"
    )
    assert len(first.sql) == 2
    second = _RecordingConnection()
    c.apply_plan(second, c.plan_table(ref, specs, ["id"]), need_unique=True)
    assert second.sql == []
    wider = [*specs, ("qty", "qty", LogicalType(Kind.INTEGER), True)]
    third = _RecordingConnection()
    c.apply_plan(third, c.plan_table(ref, wider, ["id"]), need_unique=True)
    assert third.sql[0] == "ALTER TABLE item ADD (qty NUMBER(19, 0))"
    assert third.sql[1] == "DROP TABLE item__stg PURGE"
    assert third.sql[2].startswith("CREATE GLOBAL TEMPORARY TABLE item__stg")
    assert not any("CREATE SCHEMA" in s for s in first.sql + second.sql + third.sql)
