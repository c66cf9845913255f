"""Bad input: a clear error or a reject with its reason, never a silent loss (tests/data/bad)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import pytest
from singer_sdk.exceptions import RecordsWithoutSchemaException

from target_flext_oracle import (
    InputLineError,
    OracleConnector,
    PostgresConnector,
    SqliteConnector,
    TargetFlextOracle,
)
from tests.target.conftest import BAD, Db, rejects, run_target


def _reasons(config: dict[str, Any], stream: str = "t") -> dict[Any, str]:
    return {
        (r["key"].get("id") if isinstance(r["key"], dict) else r["key"]): r["reason"]
        for r in rejects(config, stream)
    }


def test_malformed_json_line_names_its_line_number(db: Db) -> None:
    """A line that is not JSON fails the run with its line number."""
    with pytest.raises(InputLineError, match=r"input line 3: malformed JSON") as info:
        run_target(db.config, BAD / "malformed_json.singer")
    assert info.value.line_number == 3


def test_record_before_schema_is_an_error_naming_the_line(db: Db) -> None:
    """A RECORD before its SCHEMA fails the run, naming the line and the stream."""
    with pytest.raises(RecordsWithoutSchemaException, match=r"input line 1: .*'t'"):
        run_target(db.config, BAD / "record_before_schema.singer")


def test_wrong_types_are_rejected_with_reasons(db: Db) -> None:
    """Values of the wrong type go to the reject store with the field and reason."""
    run_target(db.config, BAD / "wrong_types.singer")
    assert [r["id"] for r in db.rows("t")] == [1]
    reasons = _reasons(db.config)
    assert set(reasons) == {2, 3, 4, 5, 6, 7, "8x"}
    assert "expected integer, got str 'many'" in reasons[2]
    assert "expected boolean" in reasons[3]
    assert "ISO 8601 date-time" in reasons[4]
    assert "ISO 8601 date" in reasons[5]
    assert "expected integer" in reasons[6]
    assert "expected integer, got bool" in reasons[7]
    assert all(r["rule"] == "target" for r in rejects(db.config, "t"))


def test_lenient_mode_coerces_what_it_can(db: Db) -> None:
    """validate_records=false coerces numeric text and 0/1 booleans, still rejects nonsense."""
    run_target({**db.config, "validate_records": False}, BAD / "wrong_types.singer")
    ids = [r["id"] for r in db.rows("t")]
    assert 1 in ids and 2 not in ids  # "many" is still not an integer


def test_oversized_strings_are_rejected_against_max_length(db: Db) -> None:
    """A string longer than maxLength (in characters, not bytes) is rejected."""
    run_target(db.config, BAD / "oversized_strings.singer")
    assert [r["code"] for r in db.rows("t")] == ["12345", "ÄÖÜäö"]
    assert "6 characters exceeds maxLength 5" in _reasons(db.config)[2]


def test_nul_characters_are_rejected(db: Db) -> None:
    """NUL characters (which PostgreSQL and Oracle refuse) are rejected, not stripped."""
    run_target(db.config, BAD / "nul_chars.singer")
    assert [r["id"] for r in db.rows("t")] == [1]
    reasons = _reasons(db.config)
    assert "NUL" in reasons[2] and "NUL" in reasons[3]


def test_nan_and_infinity_are_rejected(db: Db) -> None:
    """NaN/Infinity tokens and "NaN" strings are rejected; 0 and 1.25 load."""
    run_target(db.config, BAD / "nan_infinity.singer")
    assert [r["id"] for r in db.rows("t")] == [1, 7]
    assert float(db.rows("t")[1]["x"]) == 0
    reasons = _reasons(db.config)
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "NaN" in reasons[2] and "Infinity" in reasons[3] and "-Infinity" in reasons[4]


def test_null_key_is_rejected_with_reason(db: Db) -> None:
    """A null key goes to the reject store; '' is a value where the database keeps it."""
    run_target({**db.config, "load_method": "upsert"}, BAD / "empty_string_key.singer")
    assert sorted(r["code"] for r in db.rows("t", order="code")) == ["", "A"]
    reasons = [r["reason"] for r in rejects(db.config, "t")]
    assert len(reasons) == 1 and "key is null" in reasons[0]


class _EmptyIsNullSqlite(SqliteConnector):
    """SQLite told to behave like a database that stores '' as NULL (Oracle's capability)."""

    empty_string_is_null = True


def test_empty_string_key_is_rejected_where_empty_means_null(
    sqlite_config: dict[str, Any],
) -> None:
    """With empty_string_is_null (Oracle) an '' key is rejected, saying why."""
    assert OracleConnector.empty_string_is_null
    assert not PostgresConnector.empty_string_is_null
    assert not SqliteConnector.empty_string_is_null
    config = {**sqlite_config, "load_method": "upsert"}
    target = TargetFlextOracle(config=config)
    target._target_connector = _EmptyIsNullSqlite(config)
    with redirect_stdout(io.StringIO()):
        target.listen(io.StringIO((BAD / "empty_string_key.singer").read_text()))
    reasons = sorted(r["reason"] for r in rejects(config, "t"))
    assert len(reasons) == 2
    assert "empty string key" in reasons[0] and "stores '' as NULL" in reasons[0]
    assert "key is null" in reasons[1]


def test_reserved_long_and_unicode_column_names_load(db: Db) -> None:
    """Reserved words, over-long and unicode names become valid, distinct columns."""
    run_target(db.config, BAD / "column_names.singer")
    columns = set(db.columns("t"))
    for name in (
        "date",
        "level",
        "size",
        "comment",
        "user",
        "_sdc_like",
        "größe",
        "名前",
        "order_number",
    ):
        assert name in columns, name
    long_names = [c for c in columns if c.startswith("a_really_long")]
    assert len(long_names) == 2
    if db.name == "postgres":
        assert all(len(c.encode()) <= 63 for c in long_names)
    row = db.rows("t")[0]
    assert row["user"] == "u" and row["größe"] == "XL" and row["名前"] == "太郎"
