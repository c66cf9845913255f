"""append-only, upsert and overwrite, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from target_flext_oracle import InputLineError
from tests.target.conftest import DATA, Db, rec, run_target, schema_msg, singer, state

ITEM = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "qty": {"type": ["integer", "null"]},
}


def test_upsert_twice_leaves_no_duplicates_and_updates_rows(db: Db) -> None:
    """Running upsert twice keeps one row per key, with the changed rows updated."""
    config = {**db.config, "load_method": "upsert"}
    run_target(config, DATA / "upsert_run1.singer")
    run_target(config, DATA / "upsert_run2.singer")
    rows = db.rows("item")
    assert [(r["id"], r["name"], r["qty"]) for r in rows] == [
        (1, "one", 1),
        (2, "two v3", 0),
        (3, "three", 3),
        (4, "four v2", 40),
    ]


def test_upsert_dedupes_keys_inside_one_batch_last_wins(db: Db) -> None:
    """Duplicate keys within a batch are merged before loading; the last record wins."""
    config = {**db.config, "load_method": "upsert"}
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        *[rec("item", {"id": i % 3, "name": f"v{i}", "qty": i}) for i in range(9)],
    )
    run = run_target(config, text)
    rows = db.rows("item")
    assert [(r["id"], r["name"]) for r in rows] == [(0, "v6"), (1, "v7"), (2, "v8")]
    sink = run.target._sinks_active["item"]
    assert sink._total_dupe_records_merged == 6


def test_append_only_keeps_every_record(db: Db) -> None:
    """append-only (also spelled append_only) writes every record, duplicates included."""
    config = {**db.config, "load_method": "append_only"}
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        rec("item", {"id": 1, "name": "a", "qty": 1}),
        rec("item", {"id": 1, "name": "b", "qty": 2}),
    )
    run_target(config, text)
    run_target(config, text)
    assert len(db.rows("item")) == 4


def test_overwrite_replaces_the_table_at_stream_end(db: Db) -> None:
    """overwrite loads a new table and swaps it in; old rows are gone afterwards."""
    run_target({**db.config, "load_method": "upsert"}, DATA / "upsert_run1.singer")
    config = {**db.config, "load_method": "overwrite"}
    run = run_target(config, DATA / "upsert_run2.singer")
    assert [(r["id"], r["name"]) for r in db.rows("item")] == [(2, "two v3"), (4, "four v2")]
    assert not db.exists("item__new")
    assert not db.exists("item__old")
    assert run.states == [{"run": 2}]


def test_overwrite_failing_midway_leaves_the_old_table_intact(db: Db) -> None:
    """A run that fails after loading part of the new table leaves the old table as it was."""
    run_target({**db.config, "load_method": "upsert"}, DATA / "upsert_run1.singer")
    before = db.rows("item")
    config = {**db.config, "load_method": "overwrite", "batch_size_rows": 2}
    text = (
        singer(
            schema_msg("item", ITEM, ["id"]),
            *[rec("item", {"id": i, "name": "new", "qty": i}) for i in range(10, 15)],
            state({"run": "overwrite"}),
        )
        + '{"type": "RECORD", "stream": "item", "record": {"id": 99\n'
    )
    with pytest.raises(InputLineError) as info:
        run_target(config, text)
    assert info.value.line_number == 8
    assert db.rows("item") == before
    # Batches did commit into the staging table, but STATE was held back.
    assert db.exists("item__new")
    # The next run drops that stale staging table and succeeds.
    run = run_target(config, DATA / "upsert_run2.singer")
    assert [r["id"] for r in db.rows("item")] == [2, 4]
    assert run.states == [{"run": 2}]
