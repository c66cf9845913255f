"""Replay .singer files and check the data in the database, not just the exit code."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from tests.target.conftest import DATA, Db, run_target


def _num(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _json(value: object) -> object:
    return value if not isinstance(value, str) else json.loads(value)


def test_replay_loads_values_types_and_nulls(db: Db) -> None:
    """Row counts, values and types land exactly; NULL stays distinct from 0, False and ''."""
    run = run_target(db.config, DATA / "wms_orders.singer")
    assert run.states == [
        {"bookmarks": {"order_hdr": {"replication_key_value": "2024-05-01T11:30:00Z"}}}
    ]
    rows = db.rows("order_hdr")
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    one, two, three, four = rows
    assert one["ord_nbr"] == "ORD-0001"
    assert one["note"] == "Müller & Łódź 東京"
    assert _num(one["price"]) == Decimal("12.5")
    assert bool(one["is_active"]) is True
    assert _json(one["facility_id"]) == {"id": 7, "key": "FAC7"}
    assert _json(one["lines"]) == [1, 2, 3]
    # Zero, False and "" are values.
    assert two["ord_nbr"] == ""
    assert two["note"] == ""
    assert two["qty"] == 0
    assert _num(two["price"]) == 0
    assert two["is_active"] is not None
    assert bool(two["is_active"]) is False
    assert _json(two["lines"]) == []
    # NULLs are NULL.
    for column in ("ord_nbr", "qty", "price", "is_active", "note", "mod_ts", "facility_id"):
        assert three[column] is None, column
    if db.name == "postgres":
        # Decimals keep every digit.
        assert _num(four["price"]) == Decimal("123456789012345678.123456789")
    else:
        # SQLite's NUMERIC affinity stores a REAL (about 15 significant digits).
        assert float(four["price"]) == float("123456789012345678.123456789")
    # Timestamps are normalised to UTC instants.
    ts = two["mod_ts"]
    parsed = ts if isinstance(ts, dt.datetime) else dt.datetime.fromisoformat(ts)
    assert parsed == dt.datetime(2024, 5, 1, 9, 30, 0, 250000, tzinfo=dt.UTC)
    shipped = one["ship_date"]
    assert str(shipped) == "2024-05-03"


def test_replay_declares_typed_columns(db: Db) -> None:
    """Columns get the dialect's types from the one logical mapping."""
    run_target(db.config, DATA / "wms_orders.singer")
    types = {k: v.upper() for k, v in db.columns("order_hdr").items()}
    expected = {
        "sqlite": {
            "id": "BIGINT",
            "qty": "BIGINT",
            "price": "NUMERIC",
            "is_active": "BOOLEAN",
            "mod_ts": "TIMESTAMP",
            "ship_date": "DATE",
            "facility_id": "JSON",
            "ord_nbr": "VARCHAR(20)",
            "note": "TEXT",
        },
        "postgres": {
            "id": "BIGINT",
            "qty": "BIGINT",
            "price": "NUMERIC",
            "is_active": "BOOLEAN",
            "mod_ts": "TIMESTAMP WITH TIME ZONE",
            "ship_date": "DATE",
            "facility_id": "JSONB",
            "ord_nbr": "TEXT",
            "note": "TEXT",
        },
    }[db.name]
    for column, sql_type in expected.items():
        assert types[column] == sql_type, column
