"""STATE is emitted only after the batches holding earlier records have committed."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
import sqlalchemy as sa

from target_flext_oracle import BatchLoadError, TargetFlextOracle
from tests.target.conftest import Db, rec, run_target, schema_msg, singer, state

ITEM = {"id": {"type": "integer"}, "qty": {"type": ["integer", "null"]}}


def test_state_waits_for_the_batch_holding_earlier_records(db: Db) -> None:
    """A STATE is released when every batch with records before it has committed."""
    config = {**db.config, "batch_size_rows": 3, "columnar": False}
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        state({"s": 0}),
        rec("a", {"id": 1, "qty": 1}),
        state({"s": 1}),
        rec("a", {"id": 2, "qty": 1}),
        state({"s": 2}),
        rec("a", {"id": 3, "qty": 1}),
        state({"s": 3}),
        rec("a", {"id": 4, "qty": 1}),
        state({"s": 4}),
    )
    target = TargetFlextOracle(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.StringIO(text))
        emitted_before_end = [json.loads(x) for x in out.getvalue().splitlines()]
        target.process_endofpipe()
    everything = [json.loads(x) for x in out.getvalue().splitlines()]
    # {"s": 0} had nothing pending; {"s": 1}/{"s": 2} waited for the first batch (ids 1-3);
    # it committed when record 3 filled it, before {"s": 3} arrived with nothing pending.
    assert emitted_before_end == [{"s": 0}, {"s": 2}, {"s": 3}]
    assert everything == [*emitted_before_end, {"s": 4}]


def test_columnar_batches_load_in_the_background_and_state_still_waits(db: Db) -> None:
    """With batches loading on the loader thread, STATE comes out in order, each after its rows.

    Which intermediate STATE messages are written depends on when the background
    commits land (a newer ready STATE supersedes an older one); none is written
    before the batch holding its records committed, and the last one always is.
    """
    config = {**db.config, "batch_size_rows": 3}
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        state({"s": 0}),
        *[m for i in range(1, 10) for m in (rec("a", {"id": i, "qty": 1}), state({"s": i}))],
    )
    target = TargetFlextOracle(config=config)
    seen: list[tuple[int, int]] = []
    gate = target.state_gate
    write = gate._emit

    def emit(text: str) -> None:
        # Rows committed at the moment each STATE is written.
        with db.engine.connect() as conn:
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {db.table('a')}").scalar()
        seen.append((json.loads(text)["s"], int(count or 0)))
        write(text)

    gate._emit = emit  # type: ignore[method-assign]
    with db.engine.begin() as conn:  # the table exists so the probe can count from the start
        if db.schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"')
        conn.exec_driver_sql(f"CREATE TABLE {db.table('a')} (id BIGINT, qty BIGINT)")
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(io.StringIO(text))
    numbers = [s for s, _ in seen]
    assert numbers == sorted(numbers)
    assert numbers[-1] == 9
    # {"s": i} covers records 1..i: they had all committed when it was written.
    assert all(count >= s for s, count in seen)


def test_failed_batch_rolls_back_and_its_state_is_never_emitted(db: Db) -> None:
    """A batch the database refuses is rolled back; the run fails naming stream, range and cause."""
    with db.engine.begin() as conn:
        if db.schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"')
        conn.exec_driver_sql(
            f"CREATE TABLE {db.table('a')} (id BIGINT, qty BIGINT CHECK (qty >= 0))"
        )
    config = {**db.config, "batch_size_rows": 2}
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        rec("a", {"id": 1, "qty": 1}),
        rec("a", {"id": 2, "qty": 2}),
        state({"s": "after batch 1"}),
        rec("a", {"id": 3, "qty": 3}),
        rec("a", {"id": 4, "qty": -4}),
        state({"s": "after batch 2"}),
    )
    target = TargetFlextOracle(config=config)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(BatchLoadError) as info:
        target.process_lines(io.StringIO(text))
    message = str(info.value)
    assert "stream 'a'" in message
    assert "records 3-4" in message
    assert "input lines 5-6" in message
    assert "CHECK" in message.upper() or "check" in message
    assert [json.loads(x) for x in out.getvalue().splitlines()] == [{"s": "after batch 1"}]
    assert [r["id"] for r in db.rows("a")] == [1, 2]


def test_multiple_state_messages_are_relayed_in_order(db: Db) -> None:
    """States covering committed batches come out in order, each once."""
    config = {**db.config, "batch_size_rows": 1}
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        *[m for i in range(1, 4) for m in (rec("a", {"id": i, "qty": i}), state({"s": i}))],
    )
    run = run_target(config, text)
    assert run.states == [{"s": 1}, {"s": 2}, {"s": 3}]


def test_sqlite_loads_ddl_and_rows_in_one_transaction(tmp_path: object) -> None:
    """On SQLite a failed first batch leaves no table behind: DDL rolled back with the rows."""
    from pathlib import Path

    base = Path(str(tmp_path))
    url = f"sqlite:///{base / 't.db'}"
    config = {"sqlalchemy_url": url, "reject_path": str(base / "rej"), "load_method": "upsert"}
    text = singer(schema_msg("a", ITEM, ["id"]), rec("a", {"id": 1, "qty": 1}))
    target = TargetFlextOracle(config=config)
    connector = target.target_connector

    def boom(*args: object, **kwargs: object) -> None:
        # The load step fails after CREATE TABLE ran in the same transaction.
        raise RuntimeError("disk on fire")

    connector.upsert_rows = boom  # type: ignore[method-assign]
    connector.load_arrow = boom  # type: ignore[method-assign]
    with redirect_stdout(io.StringIO()), pytest.raises(BatchLoadError, match="disk on fire"):
        target.listen(io.StringIO(text))
    engine = sa.create_engine(url)
    assert not sa.inspect(engine).has_table("a")
    engine.dispose()


def test_a_batch_rejected_entirely_releases_its_state(db: Db) -> None:
    """When the validator rejects every row of a batch, the STATE after it is not held back."""
    config = {
        **db.config,
        "batch_size_rows": 2,
        "validation": {"streams": {"a": {"fields": {"qty": {"min": 0}}}}},
    }
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        rec("a", {"id": 1, "qty": -1}),
        state({"s": 1}),  # waits for the batch holding record 1
        rec("a", {"id": 2, "qty": -2}),  # fills the batch: both rows rejected at drain
        rec("a", {"id": 3, "qty": 3}),
    )
    target = TargetFlextOracle(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.StringIO(text))
        before_end = [json.loads(x) for x in out.getvalue().splitlines()]
        target.process_endofpipe()
    assert before_end == [{"s": 1}]
    assert [r["id"] for r in db.rows("a")] == [3]


def test_state_waiting_on_a_finished_streams_partial_batch_is_released(db: Db) -> None:
    """A STATE held only by another stream's partial batch is released once other batches commit."""
    config = {**db.config, "batch_size_rows": 5000}
    text = singer(
        schema_msg("a", ITEM, ["id"]),
        schema_msg("b", ITEM, ["id"]),
        rec("a", {"id": 1, "qty": 1}),
        state({"s": "a done"}),
        *(rec("b", {"id": i, "qty": i}) for i in range(1, 12_001)),
    )
    target = TargetFlextOracle(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.StringIO(text))
        emitted_before_end = [json.loads(x) for x in out.getvalue().splitlines()]
        # The STATE went out only after stream a's row had committed.
        assert [r["id"] for r in db.rows("a")] == [1]
        target.process_endofpipe()
    assert emitted_before_end == [{"s": "a done"}]
    assert len(db.rows("b")) == 12_000
