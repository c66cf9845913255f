"""Killed target: SIGKILL mid-load at seeded points, rerun from the last STATE, lose nothing.

200,000 ``allocation`` records go from the sample API through tap-flext-api into
target-flext-oracle (upsert, 10,000-row batches) as real subprocesses. The
SQLite chain kills the target three times at seeded points and the PostgreSQL
chain twice (five kill points; each target start costs about two CPU seconds,
so more points would make the file slow on a loaded machine), each rerun starting from
the last STATE the target printed (what Meltano saves), then runs to the end.
After every kill, every STATE printed so far must be covered by committed rows;
at the end the table must equal the source: same ids, same values, no duplicates.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import WMS_PREFIX, SampleApi
from tests.reliability._checks import (
    FULL_QUERY,
    PASSWORD,
    USER,
    Table,
    assert_table_equals_source,
    bookmark_of,
    source_covered,
    source_index,
)
from tests.reliability._pg import TxWatcher
from tests.reliability._pipeline import KillPoint, run_pipeline
from tests.reliability.conftest import PG_DSN, PG_URL, tap_config, target_config

pytestmark = pytest.mark.slow

ENTITY = "allocation"
RECORDS = 200_000
BATCH = 10_000
SEED = 8_2026


@pytest.fixture(scope="module")
def big_api() -> Iterator[tuple[SampleApi, dict[int, tuple[str, Any]]]]:
    """The sample API with 200,000 allocations (pages pre-rendered), and its source index."""
    counts = {"allocation": RECORDS, "order_hdr": 10, "order_dtl": 10}
    with SampleApi(counts=counts, username=USER, password=PASSWORD) as api:
        # The full read is served from the page cache, so the API is not what is measured.
        api.prerender(f"{WMS_PREFIX}{ENTITY}/", FULL_QUERY)
        yield api, source_index(api, ENTITY)


def _kill_points(kinds: list[str], rng: random.Random) -> list[tuple[str, float]]:
    """Seeded kill points: byte offsets as fractions of a run's input, state counts, tx ordinals."""
    points: list[tuple[str, float]] = []
    for kind in kinds:
        if kind == "bytes":
            # A fraction of the rerun's input; resolved against what is left when it runs.
            points.append(("bytes", rng.uniform(0.08, 0.35)))
        elif kind == "state":
            points.append(("state", rng.randint(1, 3)))
        else:
            points.append(("in_tx", rng.randint(1, 3)))
    return points


def _assert_states_covered(
    table: Table,
    api: SampleApi,
    states: list[dict[str, Any]],
    where: str,
    entity: str = ENTITY,
) -> list[int]:
    """Every STATE printed is covered by committed rows (STATE only after commit)."""
    covered = []
    for number, state in enumerate(states, 1):
        mark = bookmark_of(state, entity)
        if mark is None:
            continue
        n = source_covered(api, entity, mark)
        have = table.ids_up_to(n)
        assert have == n, (
            f"{where}: STATE #{number} says {entity} mod_ts <= {mark} is loaded ({n} records) but "
            f"only {have} of them are committed: STATE was emitted before its commit"
        )
        covered.append(n)
    return covered


def _chain(
    tmp_path: Path,
    api: SampleApi,
    source: dict[int, tuple[str, Any]],
    url: str | None,
    schema: str | None,
    kinds: list[str],
    seed: int,
    probe: Callable[[], Any] | None = None,
) -> None:
    rng = random.Random(seed)
    line_bytes = len(
        json.dumps({"type": "RECORD", "stream": ENTITY, "record": api.record(ENTITY, 1)})
    )
    plan = _kill_points(kinds, rng)
    tap_cfg = tap_config(api)
    tgt_cfg = target_config(tmp_path, url, schema, BATCH)
    state: dict[str, Any] | None = None
    log: list[str] = []
    spot: set[int] = set(rng.sample(range(1, RECORDS + 1), 300))
    with Table(tgt_cfg["sqlalchemy_url"], schema, ENTITY) as table:
        for step, (kind, raw) in enumerate(plan, 1):
            mark = bookmark_of(state, ENTITY)
            done = source_covered(api, ENTITY, mark) if mark else 0
            if kind == "bytes":
                # Never past the end of this run's input: line_bytes underestimates a line.
                point = KillPoint("bytes", int(raw * (RECORDS - done) * line_bytes))
            else:
                point = KillPoint(kind, int(raw))  # type: ignore[arg-type]
            result = run_pipeline(
                tmp_path,
                tap_cfg,
                tgt_cfg,
                state=state,
                kill=point,
                tx_probe=probe if kind == "in_tx" else None,
                label=f"kill{step}",
            )
            where = f"kill #{step} at {point} (from {mark or 'no state'})"
            assert not result.hung, f"{where}: hung\n{result.describe()}"
            assert result.killed, (
                f"{where}: the run ended before the kill point\n{result.describe()}"
            )
            assert result.target_rc == -9, f"{where}: target not SIGKILLed\n{result.describe()}"
            rows, distinct = table.counts()
            assert rows == distinct, f"{where}: {rows - distinct} duplicate rows"
            covered = _assert_states_covered(table, api, result.states, where)
            log.append(
                f"{where}: {result.seconds:.1f}s, fed {result.fed_bytes} B, "
                f"{len(result.states)} states, covered {covered[-1] if covered else done}, "
                f"rows {rows}"
            )
            spot.update(c + d for c in covered[-1:] for d in (-1, 0, 1, 2) if 0 < c + d <= RECORDS)
            state = result.last_state or state
        final = run_pipeline(tmp_path, tap_cfg, tgt_cfg, state=state, label="final")
        assert final.target_rc == 0 and final.tap_rc == 0, final.describe()
        log.append(f"final run from {bookmark_of(state, ENTITY)}: {final.seconds:.1f}s")
        print("\n".join(log))  # the kill points and timings, shown with -s
        assert_table_equals_source(table, api, ENTITY, source, spot)
        _assert_states_covered(table, api, final.states, "final run")
        assert bookmark_of(final.last_state, ENTITY) == source[RECORDS][0]


def test_killed_target_sqlite_resumes_exactly(
    tmp_path: Path, big_api: tuple[SampleApi, dict[int, tuple[str, Any]]]
) -> None:
    """SQLite: three seeded SIGKILLs (input offset, after a STATE, input offset), then equality."""
    api, source = big_api
    _chain(tmp_path, api, source, None, None, ["bytes", "state", "bytes"], SEED)


@pytest.mark.postgres
def test_killed_target_postgres_resumes_exactly(
    tmp_path: Path, big_api: tuple[SampleApi, dict[int, tuple[str, Any]]], pg_schema: str
) -> None:
    """PostgreSQL: SIGKILLs inside an open batch transaction and at an input offset."""
    api, source = big_api
    watcher = TxWatcher(PG_DSN, pg_schema)
    try:
        _chain(
            tmp_path,
            api,
            source,
            PG_URL,
            pg_schema,
            ["in_tx", "bytes"],
            SEED + 1,
            probe=watcher.open_tx,
        )
    finally:
        watcher.close()


WMS_COUNTS = {"allocation": 30_000, "order_hdr": 20_000, "order_dtl": 30_000}


def test_killed_target_three_entities_resumes_exactly(tmp_path: Path) -> None:
    """The WMS job's three entities in one run: kills mid-stream, resume, three exact tables."""
    entities = list(WMS_COUNTS)
    with SampleApi(counts=WMS_COUNTS, username=USER, password=PASSWORD) as api:
        tap_cfg = tap_config(api, entities=entities)
        tgt_cfg = target_config(tmp_path, None, None, 5_000)
        url = tgt_cfg["sqlalchemy_url"]
        # The three streams load at once (max_concurrency defaults to 4): after 3
        # STATEs every one is mid-stream; then half of what is left.
        points = [KillPoint("state", 3), KillPoint("bytes", 0)]
        state: dict[str, Any] | None = None
        for step, planned in enumerate(points, 1):
            point = planned
            if point.kind == "bytes":
                left = sum(
                    n - source_covered(api, e, m) if (m := bookmark_of(state, e)) else n
                    for e, n in WMS_COUNTS.items()
                )
                point = KillPoint("bytes", left * 400)  # under half: lines are ~800+ bytes
            result = run_pipeline(
                tmp_path, tap_cfg, tgt_cfg, state=state, kill=point, label=f"k{step}"
            )
            where = f"kill #{step} at {point}"
            assert result.killed and result.target_rc == -9, f"{where}\n{result.describe()}"
            for entity in entities:
                with Table(url, None, entity) as table:
                    rows, distinct = table.counts()
                    assert rows == distinct, f"{where}: {entity} has duplicates"
                    _assert_states_covered(table, api, result.states, where, entity)
            state = result.last_state or state
            print(where, {e: bookmark_of(state, e) for e in entities})  # shown with -s
        assert state is not None and len(state["bookmarks"]) >= 2, state
        final = run_pipeline(tmp_path, tap_cfg, tgt_cfg, state=state, label="final")
        assert final.target_rc == 0 and final.tap_rc == 0, final.describe()
        for entity, count in WMS_COUNTS.items():
            source = source_index(api, entity)
            assert len(source) == count
            spot = random.Random(entity).sample(range(1, count + 1), 100)
            with Table(url, None, entity) as table:
                assert_table_equals_source(table, api, entity, source, spot)


def test_killed_tap_mid_line_resumes_exactly(tmp_path: Path) -> None:
    """A tap SIGKILLed mid-write: the target fails on the cut line, a rerun loses nothing."""
    count = 40_000
    with SampleApi(
        counts={"allocation": count, "order_hdr": 10, "order_dtl": 10},
        username=USER,
        password=PASSWORD,
    ) as api:
        tap_cfg = tap_config(api)
        tgt_cfg = target_config(tmp_path, None, None, 5_000)
        point = KillPoint("tap_bytes", count * 300)  # about a third of the input
        cut = run_pipeline(tmp_path, tap_cfg, tgt_cfg, kill=point, label="tapkill")
        assert cut.killed and cut.tap_rc == -9, cut.describe()
        assert cut.target_rc not in (0, None), f"the cut input was accepted\n{cut.describe()}"
        assert "malformed JSON" in cut.target_stderr and "input line" in cut.target_stderr
        with Table(tgt_cfg["sqlalchemy_url"], None, ENTITY) as table:
            rows, distinct = table.counts()
            assert rows == distinct
            _assert_states_covered(table, api, cut.states, "tap killed")
            rerun = run_pipeline(tmp_path, tap_cfg, tgt_cfg, state=cut.last_state, label="rerun")
            assert rerun.tap_rc == 0 and rerun.target_rc == 0, rerun.describe()
            spot = random.Random(5).sample(range(1, count + 1), 100)
            assert_table_equals_source(table, api, ENTITY, source_index(api, ENTITY), spot)
