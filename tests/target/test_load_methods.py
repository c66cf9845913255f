"""append-only, upsert and overwrite, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from target_flext_oracle import InputLineError, TargetError
from tests.target.conftest import DATA, Db, rec, rejects, run_target, schema_msg, singer, state

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


def test_overwrite_survives_a_schema_change_mid_stream(db: Db) -> None:
    """A new SCHEMA during an overwrite run evolves the staging table and still swaps once."""
    run_target({**db.config, "load_method": "upsert"}, DATA / "upsert_run1.singer")
    wider = {**ITEM, "note": {"type": ["string", "null"]}}
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        rec("item", {"id": 7, "name": "a", "qty": 1}),
        schema_msg("item", wider, ["id"]),
        rec("item", {"id": 8, "name": "b", "qty": 2, "note": "n"}),
        state({"run": "x"}),
    )
    run = run_target({**db.config, "load_method": "overwrite"}, text)
    assert [(r["id"], r["note"]) for r in db.rows("item")] == [(7, None), (8, "n")]
    assert run.states == [{"run": "x"}]


def test_upsert_into_a_table_without_primary_key_adds_a_unique_key(db: Db) -> None:
    """An append-only table switched to upsert gets a unique index on the keys first."""
    run_target(db.config, DATA / "upsert_run1.singer")
    run_target({**db.config, "load_method": "upsert"}, DATA / "upsert_run2.singer")
    assert [r["id"] for r in db.rows("item")] == [1, 2, 3, 4]


def test_hard_delete_removes_rows_marked_deleted(db: Db) -> None:
    """With hard_delete, a record whose _sdc_deleted_at is set deletes its row."""
    config = {
        **db.config,
        "load_method": "upsert",
        "add_record_metadata": True,
        "hard_delete": True,
    }
    run_target(config, DATA / "upsert_run1.singer")
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        rec("item", {"id": 2, "name": "gone", "qty": 0, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        rec("item", {"id": 3, "name": "three v2", "qty": 3}),
    )
    run_target(config, text)
    assert [(r["id"], r["name"]) for r in db.rows("item")] == [(1, "one"), (3, "three v2")]


def test_activate_version_soft_deletes_older_versions(db: Db) -> None:
    """ACTIVATE_VERSION marks rows of older table versions deleted (or deletes them)."""
    config = {**db.config, "add_record_metadata": True}

    def versioned(version: int, ids: list[int]) -> str:
        return singer(
            schema_msg("item", ITEM, ["id"]),
            *[{**rec("item", {"id": i, "name": "v", "qty": i}), "version": version} for i in ids],
            {"type": "ACTIVATE_VERSION", "stream": "item", "version": version},
        )

    run_target(config, versioned(1, [1, 2]))
    run_target(config, versioned(2, [3]))
    rows = db.rows("item")
    assert [(r["id"], r["_sdc_deleted_at"] is not None) for r in rows] == [
        (1, True),
        (2, True),
        (3, False),
    ]
    run_target({**config, "hard_delete": True}, versioned(3, [4]))
    assert [r["id"] for r in db.rows("item")] == [4]


def test_max_rejects_fails_the_run(db: Db) -> None:
    """More rejects than max_rejects fails the run."""
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        *[rec("item", {"id": i, "name": "x", "qty": "bad"}) for i in range(3)],
    )
    with pytest.raises(TargetError, match=r"3 records rejected \(max_rejects=2\)"):
        run_target({**db.config, "max_rejects": 2}, text)


@pytest.mark.parametrize("columnar", [False, True])
def test_reflection_is_cached_no_catalog_queries_per_batch(
    sqlite_config: dict[str, Any], columnar: bool
) -> None:
    """After the table is known, batches send only their own statements: no catalog queries."""
    import io
    from contextlib import redirect_stdout

    import sqlalchemy as sa

    from target_flext_oracle import TargetFlextOracle

    config = {**sqlite_config, "batch_size_rows": 2, "columnar": columnar}
    target = TargetFlextOracle(config=config)
    seen: list[str] = []
    sa.event.listen(
        target.target_connector._engine,
        "before_cursor_execute",
        lambda *args: seen.append(args[2]),
    )
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        *[rec("item", {"id": i, "name": "n", "qty": i}) for i in range(10)],
    )
    with redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(text))
    catalog = [i for i, s in enumerate(seen) if "PRAGMA" in s.upper() or "sqlite_master" in s]
    if columnar:
        # Batches go through the bulk (ADBC) connection: the engine only reflected once.
        assert catalog and seen.count("BEGIN") == 1
        assert not any(s.startswith(("CREATE", "INSERT")) for s in seen)
        return
    creates = [i for i, s in enumerate(seen) if s.startswith("CREATE TABLE")]
    # The table is reflected once when the stream starts; the five batches add no
    # catalog queries (each is BEGIN + its own statements).
    assert catalog and len(creates) == 1 and max(catalog) < creates[0]
    assert seen.count("BEGIN") == 1 + 5  # the reflection, then one per batch


def test_validation_rules_reject_through_the_data_validator(db: Db) -> None:
    """Configured rules run in flext_infra.quality's validator; its rejects carry the rule."""
    rules = {"streams": {"item": {"fields": {"qty": {"min": 0}, "name": {"enum": ["a", "b"]}}}}}
    text = singer(
        schema_msg("item", ITEM, ["id"]),
        rec("item", {"id": 1, "name": "a", "qty": 1}),
        rec("item", {"id": 2, "name": "b", "qty": -5}),
        rec("item", {"id": 3, "name": "zzz", "qty": 3}),
        state({"s": 1}),
    )
    run = run_target({**db.config, "validation": rules}, text)
    assert [r["id"] for r in db.rows("item")] == [1]
    found = {r["key"]["id"]: r["rule"] for r in rejects(db.config, "item")}
    assert found == {2: "range", 3: "enum"}
    assert run.states == [{"s": 1}]


def test_validation_thresholds_fail_the_run(db: Db) -> None:
    """A broken threshold (too few records) fails the run after the data is committed."""
    from flext_infra.quality import ThresholdBreachError

    rules = {"defaults": {"min_records": 5}}
    text = singer(schema_msg("item", ITEM, ["id"]), rec("item", {"id": 1, "name": "a", "qty": 1}))
    with pytest.raises(ThresholdBreachError):
        run_target({**db.config, "validation": rules}, text)
    assert [r["id"] for r in db.rows("item")] == [1]
