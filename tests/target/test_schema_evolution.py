"""Schema evolution: new columns, wider types, and the policy for incompatible changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from target_flext_oracle import SchemaChangeError
from tests.target.conftest import Db, rec, run_target, schema_msg, singer

V1 = {
    "id": {"type": "integer"},
    "qty": {"type": ["integer", "null"]},
    "code": {"type": ["string", "null"], "maxLength": 5},
}


def test_new_columns_are_added_and_old_rows_keep_nulls(db: Db) -> None:
    """A column that appears in a later SCHEMA is added; earlier rows read NULL there."""
    v2 = {**V1, "note": {"type": ["string", "null"]}, "ok": {"type": ["boolean", "null"]}}
    text = singer(
        schema_msg("t", V1, ["id"]),
        rec("t", {"id": 1, "qty": 1, "code": "a"}),
        schema_msg("t", v2, ["id"]),
        rec("t", {"id": 2, "qty": 2, "code": "b", "note": "n", "ok": False}),
    )
    run_target(db.config, text)
    rows = db.rows("t")
    assert rows[0]["note"] is None and rows[0]["ok"] is None
    assert rows[1]["note"] == "n" and rows[1]["ok"] is not None and not rows[1]["ok"]


def test_integer_widens_to_number_and_strings_get_longer(db: Db) -> None:
    """integer -> number and a longer maxLength widen the existing columns across runs."""
    run_target(
        db.config,
        singer(schema_msg("t", V1, ["id"]), rec("t", {"id": 1, "qty": 7, "code": "abcde"})),
    )
    v2 = {
        **V1,
        "qty": {"type": ["number", "null"]},
        "code": {"type": ["string", "null"], "maxLength": 50},
    }
    run_target(
        db.config,
        singer(schema_msg("t", v2, ["id"]), rec("t", {"id": 2, "qty": 7.25, "code": "x" * 40})),
    )
    rows = db.rows("t")
    assert Decimal(str(rows[0]["qty"])) == 7
    assert Decimal(str(rows[1]["qty"])) == Decimal("7.25")
    assert rows[1]["code"] == "x" * 40
    if db.name == "postgres":
        assert db.columns("t")["qty"] == "numeric"


INCOMPATIBLE = {**V1, "qty": {"type": ["string", "null"], "format": "date-time"}}


def _incompatible_run(db: Db, policy: str) -> None:
    config = {**db.config, "schema_change_policy": policy}
    run_target(config, singer(schema_msg("t", V1, ["id"]), rec("t", {"id": 1, "qty": 5})))
    run_target(
        config,
        singer(
            schema_msg("t", INCOMPATIBLE, ["id"]),
            rec("t", {"id": 2, "qty": "2024-01-01T00:00:00Z"}),
        ),
    )


def test_incompatible_change_fails_under_fail_policy(db: Db) -> None:
    """schema_change_policy=fail stops the run naming the column and both types."""
    with pytest.raises(SchemaChangeError, match=r"t\.qty is integer .* timestamp"):
        _incompatible_run(db, "fail")
    assert [r["id"] for r in db.rows("t")] == [1]


def test_incompatible_change_converts_the_column_to_text(db: Db) -> None:
    """schema_change_policy=text turns the column into text and keeps both values."""
    _incompatible_run(db, "text")
    rows = db.rows("t")
    assert str(rows[0]["qty"]) == "5"
    assert rows[1]["qty"].startswith("2024-01-01")
    if db.name == "postgres":
        assert db.columns("t")["qty"] == "text"


def test_incompatible_change_evolves_into_a_sibling_column(db: Db) -> None:
    """schema_change_policy=evolve keeps the old column and adds <column>__<kind>."""
    _incompatible_run(db, "evolve")
    rows = db.rows("t")
    assert rows[0]["qty"] == 5 and rows[0]["qty__timestamp"] is None
    assert rows[1]["qty"] is None and rows[1]["qty__timestamp"] is not None
