"""The columnar load path leaves what the per-record path leaves: tables and reject stores.

Every test runs the same input twice into fresh databases, once with
``columnar: false`` (the per-record path, the reference) and once with the
columnar path, on SQLite and PostgreSQL, and compares the loaded rows and the
reject store line for line (run ids and timestamps aside).
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from benchmarks._dataset import iter_messages
from target_flext_oracle import TargetFlextOracle
from tests.target.conftest import (
    BAD,
    PG_URL,
    pg_available,
    pg_schema,
    rec,
    schema_msg,
    singer,
    state,
)

#: Bad-input files whose run loads (the others end the run with an error).
LOADING = [
    "wrong_types",
    "nan_infinity",
    "nul_chars",
    "oversized_strings",
    "empty_string_key",
    "missing_required",
    "rejects_between_states",
    "unknown_field",
    "column_names",
]
FAILING = [
    "malformed_json",
    "truncated_last_line",
    "not_an_object",
    "unknown_message_type",
    "record_before_schema",
    "missing_key_property",
    "key_not_in_schema",
]


@contextlib.contextmanager
def _database(kind: str, tmp: Path) -> Iterator[tuple[dict[str, Any], sa.Engine, str | None]]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'target.db'}"
        engine = sa.create_engine(url, poolclass=NullPool)
        yield {"sqlalchemy_url": url, "reject_path": str(tmp / "rejects")}, engine, None
        engine.dispose()
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    with pg_schema("flext_col") as name:
        engine = sa.create_engine(PG_URL, poolclass=NullPool)
        config = {
            "sqlalchemy_url": PG_URL,
            "default_target_schema": name,
            "reject_path": str(tmp / "rejects"),
        }
        yield config, engine, name
        engine.dispose()


def _tables(engine: sa.Engine, schema: str | None) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, with values in comparable form."""
    inspector = sa.inspect(engine)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in sorted(inspector.get_table_names(schema=schema)):
            table = f'"{schema}"."{name}"' if schema else f'"{name}"'
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            out[name] = sorted((tuple(_comparable(v) for v in r) for r in rows), key=repr)
    return out


def _comparable(value: Any) -> Any:
    # numeric(…) scale: 1234.50 and 1234.5 are the same number (see ARCHITECTURE.md).
    if isinstance(value, Decimal):
        return value.normalize() if value.is_finite() else value
    return value


def _rejects(config: dict[str, Any]) -> list[str]:
    lines = []
    for path in sorted(Path(config["reject_path"]).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            row.pop("run_id", None)
            row.pop("rejected_at", None)
            lines.append(json.dumps(row, sort_keys=True, default=str))
    return sorted(lines)


def _run(config: dict[str, Any], text: str) -> tuple[list[str], str | None]:
    """STATE lines and the error (type and message) of one run."""
    target = TargetFlextOracle(config=config)
    out = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out):
            target.listen(io.StringIO(text))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        target.close()
    return out.getvalue().splitlines(), error


def _both(kind: str, tmp: Path, text: str, **settings: Any) -> tuple[Any, Any]:
    """(per-record result, columnar result): tables, rejects, states, error."""
    results = []
    for columnar in (False, True):
        where = tmp / f"{columnar}-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        with _database(kind, where) as (base, engine, schema):
            config = {**base, **settings, "columnar": columnar}
            states, error = _run(config, text)
            results.append((_tables(engine, schema), _rejects(config), states, error))
    return results[0], results[1]


DBS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _benchmark_text(n: int) -> str:
    return singer(*iter_messages(n))


@pytest.mark.parametrize("kind", DBS)
@pytest.mark.parametrize("load_method", ["append-only", "upsert"])
def test_the_benchmark_file_loads_identically_on_both_paths(
    kind: str, load_method: str, tmp_path: Path
) -> None:
    """The benchmark's 16 mixed fields over several batches give the same table either way."""
    # Ids 1-300 come again in a later batch: upsert keeps their last version.
    extra = [m for m in iter_messages(300) if m["type"] == "RECORD"]
    for m in extra:
        m["record"]["name"] = "second version"
    text = _benchmark_text(2500) + singer(*extra)
    per_record, columnar = _both(kind, tmp_path, text, batch_size_rows=700, load_method=load_method)
    assert columnar[3] is None
    assert columnar == per_record
    rows = next(iter(columnar[0].values()))
    assert len(rows) == 2500 + (300 if load_method == "append-only" else 0)


@pytest.mark.parametrize("kind", DBS)
@pytest.mark.parametrize("name", LOADING)
def test_bad_input_that_loads_gives_the_same_rows_and_rejects(
    kind: str, name: str, tmp_path: Path
) -> None:
    """Each loading bad-input file leaves identical tables, reject stores and STATE."""
    text = (BAD / f"{name}.singer").read_text()
    per_record, columnar = _both(kind, tmp_path, text, load_method="upsert")
    assert per_record[3] is None
    assert columnar == per_record


@pytest.mark.parametrize("kind", DBS)
@pytest.mark.parametrize("name", FAILING)
def test_bad_input_that_fails_fails_the_same_way(kind: str, name: str, tmp_path: Path) -> None:
    """Each failing bad-input file ends with the same error and leaves the same rows."""
    text = (BAD / f"{name}.singer").read_text()
    per_record, columnar = _both(kind, tmp_path, text, load_method="upsert")
    assert per_record[3] is not None
    assert columnar == per_record


ITEM = {
    "id": {"type": "integer"},
    "qty": {"type": ["integer", "null"]},
    "name": {"type": ["string", "null"], "maxLength": 8},
    "at": {"type": ["string", "null"], "format": "date-time"},
}


@pytest.mark.parametrize("kind", DBS)
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"id": 50, "qty": "many"}, "expected integer, got str 'many'"),
        ({"id": 50, "at": "yesterday"}, "expected ISO 8601 date-time"),
        ({"id": 50, "name": "much too long"}, "exceeds maxLength 8"),
        ({"id": 50, "name": "nul\u0000"}, "NUL character"),
        ({"id": None}, "key is null"),
    ],
)
def test_a_batch_with_one_bad_record_loads_all_the_others(
    kind: str, bad: dict[str, Any], reason: str, tmp_path: Path
) -> None:
    """One bad record in a columnar batch is rejected with its reason; the other 99 load."""
    records = [
        rec("t", {"id": i, "qty": i, "name": f"n{i}", "at": "2024-01-01T00:00:00Z"})
        for i in range(1, 101)
    ]
    records[49] = rec("t", bad)
    text = singer(schema_msg("t", ITEM, ["id"]), *records, state({"done": True}))
    where = tmp_path / "db"
    where.mkdir()
    with _database(kind, where) as (config, engine, schema):
        states, error = _run({**config, "batch_size_rows": 1000}, text)
        assert error is None
        ids = [r[0] for r in _tables(engine, schema)["t"]]
        rejected = [json.loads(line) for line in _rejects(config)]
    assert sorted(ids) == [i for i in range(1, 101) if i != 50]
    assert len(rejected) == 1
    assert reason in rejected[0]["reason"]
    assert rejected[0]["reason"].startswith("input line 51: ")
    assert states == ['{"done": true}']


@pytest.mark.parametrize("kind", DBS)
def test_an_unknown_field_is_reported_once_and_later_batches_stay_columnar(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A field outside the schema sends one batch per record (warned); the next are columnar."""
    caplog.set_level("INFO")
    records = [rec("t", {"id": i, "qty": i, "extra": i}) for i in range(1, 31)]
    text = singer(schema_msg("t", ITEM, ["id"]), *records)
    where = tmp_path / "db"
    where.mkdir()
    with _database(kind, where) as (config, engine, schema):
        _, error = _run({**config, "batch_size_rows": 10}, text)
        assert error is None
        assert len(_tables(engine, schema)["t"]) == 30
    messages = [r.getMessage() for r in caplog.records]
    assert sum("target.field_not_in_schema" in m for m in messages) == 1
    assert sum("target.batch_per_record" in m for m in messages) == 1
    assert sum("'path': 'columnar'" in m for m in messages) == 2


@pytest.mark.parametrize("kind", DBS)
def test_record_lines_in_other_layouts_load_the_same(kind: str, tmp_path: Path) -> None:
    """Compact, spaced, and reordered RECORD lines (not routed raw) give the same table."""
    schema = json.dumps(schema_msg("t", ITEM, ["id"]))
    compact = '{"type":"RECORD","stream":"t","record":{"id":1,"qty":1}}'
    spaced = '{"type": "RECORD", "stream": "t", "record": {"id": 2, "qty": 2}}'
    reordered = '{"record": {"id": 3, "qty": 3}, "stream": "t", "type": "RECORD"}'
    extra_keys = (
        '{"type":"RECORD","stream":"t","record":{"id":4,"qty":4},'
        '"time_extracted":"2024-01-01T00:00:00+00:00","version":7}'
    )
    text = "\n".join([schema, compact, spaced, reordered, extra_keys]) + "\n"
    per_record, columnar = _both(kind, tmp_path, text)
    assert columnar == per_record
    assert [r[0] for r in columnar[0]["t"]] == [1, 2, 3, 4]


class _Trickle(io.BytesIO):
    """Binary input handed over at most ``size`` bytes per ``read1``, as a slow pipe does."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read1(self, n: int = -1) -> bytes:
        return super().read1(self.size if n < 0 else min(n, self.size))


@pytest.mark.parametrize("kind", DBS)
@pytest.mark.parametrize("size", [1, 97, 1 << 20])
def test_input_read_in_blocks_of_any_size_loads_as_line_by_line(
    kind: str, size: int, tmp_path: Path
) -> None:
    """Lines cut anywhere by the blocks, two streams interleaved, STATE between, a blank
    line and a last line without a newline: the same tables, rejects, STATE and batches."""
    t_records = [rec("t", {"id": i, "qty": i, "name": f"n{i}"}) for i in range(1, 121)]
    u_records = [rec("u", {"id": i, "qty": -i}) for i in range(1, 41)]
    t_records[60] = rec("t", {"id": 61, "name": "much too long"})
    messages: list[Any] = [schema_msg("t", ITEM, ["id"]), *t_records[:50], state({"at": 50})]
    messages += [schema_msg("u", ITEM, ["id"])]
    for i in range(40):  # interleaved: runs of two t lines, then one u line
        messages += [*t_records[50 + 2 * i : 52 + 2 * i], u_records[i]]
    messages += [*t_records[130:], state({"at": "end"})]
    text = singer(*messages).replace("\n", "\n\n", 1).rstrip("\n")
    results = []
    for columnar, source in ((False, None), (True, size)):
        where = tmp_path / f"{columnar}-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        with _database(kind, where) as (base, engine, schema):
            config = {**base, "batch_size_rows": 30, "columnar": columnar}
            target = TargetFlextOracle(config=config)
            out = io.StringIO()
            data = text.encode()
            try:
                with contextlib.redirect_stdout(out):
                    target.listen(io.StringIO(text) if source is None else _Trickle(data, source))
            finally:
                target.close()
            results.append((_tables(engine, schema), _rejects(config), out.getvalue()))
    assert results[1] == results[0]
    tables, rejects, states = results[1]
    assert len(tables["t"]) == 119 and len(tables["u"]) == 40
    assert len(rejects) == 1 and '"input line 70: ' in rejects[0]
    assert states.splitlines() == ['{"at": 50}', '{"at": "end"}']


@pytest.mark.parametrize("kind", DBS)
def test_a_line_with_two_records_fails_as_on_the_per_record_path(kind: str, tmp_path: Path) -> None:
    """Two JSON values on one RECORD line: the columnar batch is refused, and the run ends
    with the per-record path's error and rows (newline-delimited decoding would take both)."""
    records = [
        json.dumps(rec("t", {"id": i, "qty": i}), separators=(",", ":")) for i in range(1, 41)
    ]
    records[20] += " " + records[21]
    text = "\n".join([json.dumps(schema_msg("t", ITEM, ["id"])), *records]) + "\n"
    per_record, columnar = _both(kind, tmp_path, text, batch_size_rows=100, columnar_min_rows=1)
    assert per_record[3] is not None and "input line 22" in per_record[3]
    assert columnar == per_record
