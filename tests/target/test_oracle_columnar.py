"""Oracle's columnar path without a server: the frames, statements and binds it would send.

No Oracle runs here. These tests build the Arrow frame a batch becomes for
each server version and check its column types; hand it to python-oracledb's
own Arrow conversion (``oracledb.from_arrow``, no connection needed); and run
the load through a recording stand-in for the connection to check the
statement text, the number of binds and the direct path arguments. That the
server accepts them is for the live suite (``test_oracle_live.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec
import oracledb
import pyarrow as pa
import pytest

from benchmarks._dataset import SCHEMA, iter_messages
from flext_infra.database import ServerFacts
from target_flext_oracle import OracleConnector
from target_flext_oracle._logical import Kind, LogicalType, from_jsonschema
from target_flext_oracle._plan import TablePlan
from target_flext_oracle.columnar import StreamDecoder, column_specs
from target_flext_oracle.dialects.oracle import OracleBulkSession

VERSIONS = {"12.1": (12, 1), "19c": (19, 0), "23ai": (23, 4)}


def _connector(version: tuple[int, ...], **settings: Any) -> OracleConnector:
    return OracleConnector(settings, facts=ServerFacts.for_version(version))


def _plan(c: OracleConnector) -> TablePlan:
    props = SCHEMA["properties"]
    names = c.policy.column_names(list(props))
    specs = []
    for field, prop in props.items():
        logical, nullable = from_jsonschema(prop)
        specs.append((field, names[field], logical, nullable and field not in SCHEMA["required"]))
    c._states[c.table_ref(None, "bench_items")] = None  # a new table (no reflection)
    return c.plan_table(c.table_ref(None, "bench_items"), specs, [names["id"]])


def _lines(n: int) -> list[bytes]:
    return [msgspec.json.encode(m) for m in iter_messages(n) if m["type"] == "RECORD"]


def _frame(c: OracleConnector, n: int = 50) -> tuple[TablePlan, pa.Table]:
    plan = _plan(c)
    decoder = StreamDecoder(column_specs(plan, c, strict=True), ["id"])
    decoded = decoder.decode(_lines(n))
    assert decoded.rejects == []
    return plan, c.oracle_frame(decoded.table, plan)


@pytest.mark.parametrize("label", list(VERSIONS))
def test_the_oracle_frame_has_the_types_python_oracledb_binds_for_each_version(
    label: str,
) -> None:
    """Timestamps are UTC wall clock, booleans follow the version, CLOB text is large_string."""
    c = _connector(VERSIONS[label])
    plan, frame = _frame(c)
    types = {f.name: f.type for f in frame.schema}
    assert types["id"] == pa.int64()
    assert pa.types.is_decimal(types["price"])
    assert types["created_at"] == pa.timestamp("us")  # UTC wall clock, no zone
    assert types["ship_date"] == pa.date32()
    assert types["active"] == (pa.bool_() if label == "23ai" else pa.int64())
    assert types["attributes"] == pa.large_string()  # JSON / CLOB text
    assert types["sku"] in (pa.string(), pa.large_string())
    # python-oracledb's own Arrow conversion takes the frame as it is.
    df = oracledb.from_arrow(frame)
    assert df.num_columns() == len(plan.columns)
    assert df.num_rows() == 50


def test_timestamps_reach_oracle_as_the_per_record_paths_utc_wall_clock() -> None:
    """The frame's naive timestamp is the UTC wall-clock value the per-record path binds."""
    c = _connector((19, 0))
    _, frame = _frame(c, 3)
    record = next(m for m in iter_messages(1) if m["type"] == "RECORD")["record"]
    bind = c.adapter(LogicalType(Kind.TIMESTAMP))
    assert bind is not None
    expected = bind(dt.datetime.fromisoformat(record["created_at"]))
    assert frame.column("created_at")[0].as_py() == expected


class _Cursor:
    def __init__(self, calls: list[tuple[str, Any, Any]]) -> None:
        self.calls = calls

    def executemany(self, sql: str, data: Any, *, batch_size: int) -> None:
        self.calls.append((sql, data, batch_size))

    def close(self) -> None:
        pass


class _Raw:
    """Records what the columnar path asks of python-oracledb's connection."""

    username = "LOADER"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.direct: list[dict[str, Any]] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self.calls)

    def direct_path_load(self, **kwargs: Any) -> None:
        self.direct.append(kwargs)


class _Conn:
    """Stands in for the batch's SQLAlchemy connection."""

    def __init__(self, raw: _Raw) -> None:
        self.connection = type("Pool", (), {"driver_connection": raw})()
        self.sql: list[str] = []

    def exec_driver_sql(self, sql: str, *args: Any) -> None:
        self.sql.append(sql)


def _session(c: OracleConnector) -> tuple[OracleBulkSession, _Raw, _Conn]:
    raw = _Raw()
    conn = _Conn(raw)
    return OracleBulkSession(c, conn), raw, conn  # type: ignore[arg-type]


@pytest.mark.parametrize("rows", [10, 100_000])
def test_large_batches_bind_one_placeholder_per_column_never_one_per_value(rows: int) -> None:
    """Why ORA-01745 cannot happen: one INSERT with a bind per column, the rows as arrays.

    airbytehq/airbyte#38870 built one INSERT with rows x columns binds and passed
    Oracle's 65,535-bind limit. Here the statement text is the same for 10 rows or
    100,000 (16 columns, 1.6 million values): 16 binds, the frame bound as arrays in
    ``oracle_array_size`` rows per round trip.
    """
    c = _connector((19, 0), oracle_array_size=5000)
    plan, frame = _frame(c, 10)
    big = pa.concat_tables([frame] * (rows // 10))
    session, raw, _ = _session(c)
    c.load_arrow(session, plan.ref, plan, big, upsert=False)
    ((sql, data, batch_size),) = raw.calls
    binds = re.findall(r":\d+", sql)
    assert binds == [f":{i}" for i in range(1, len(plan.columns) + 1)]
    assert len(binds) == 16  # one per column (Oracle allows 1,000 columns), not per value
    assert data.num_rows == rows
    assert batch_size == 5000
    assert sql.startswith("INSERT INTO bench_items (")


def test_upsert_ingests_the_frame_into_the_stage_then_merges() -> None:
    """The MERGE staging table takes the frame through executemany, then one MERGE runs."""
    c = _connector((19, 0))
    plan, frame = _frame(c, 20)
    session, raw, conn = _session(c)
    c.load_arrow(session, plan.ref, plan, frame, upsert=True)
    ((sql, data, _),) = raw.calls
    assert sql.startswith("INSERT INTO bench_items__stg (")
    assert data.num_rows == 20
    assert len(conn.sql) == 1 and conn.sql[0].startswith("MERGE INTO bench_items t USING")


def test_direct_path_load_gets_the_frame_and_upper_case_names() -> None:
    """direct_path_load: the Arrow frame as data, schema/table/columns as Oracle stores them."""
    c = _connector((19, 0), direct_path_load=True, oracle_array_size=2000)
    plan, frame = _frame(c, 20)
    session, raw, conn = _session(c)
    c.load_arrow(session, plan.ref, plan, frame, upsert=False)
    assert raw.calls == [] and conn.sql == []
    (call,) = raw.direct
    assert call["schema_name"] == "LOADER"
    assert call["table_name"] == "BENCH_ITEMS"
    assert call["column_names"][0] == "ID"
    assert len(call["column_names"]) == frame.num_columns
    assert call["data"] is not None and call["data"].num_rows == 20
    assert call["batch_size"] == 2000
    oracledb.from_arrow(call["data"])  # python-oracledb converts it without complaint
