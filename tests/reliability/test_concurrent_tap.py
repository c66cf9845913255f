"""The concurrent tap SIGKILLed at ten random moments, resumed each time: nothing lost.

tap-flext-api runs at ``max_concurrency: 8`` with three WMS entities read in
time windows, LGF paged mode, and a latency with jitter (pages and windows
finish out of order), piped into target-flext-oracle upserting into SQLite or
PostgreSQL, as ``meltano run`` pipes them. The *tap* is SIGKILLed at ten
seeded offsets of its output (mid-line: the target then fails on the cut line,
having committed what came before it), and each rerun starts from the last
STATE the target printed, which is what Meltano saves. After every kill, each
STATE printed is covered by committed rows; after the final run each table
equals the source exactly.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import SampleApi
from tests.reliability._checks import (
    PASSWORD,
    USER,
    Table,
    assert_table_equals_source,
    bookmark_of,
    source_covered,
    source_index,
)
from tests.reliability._pipeline import KillPoint, run_pipeline
from tests.reliability.conftest import PG_URL, target_config

pytestmark = pytest.mark.slow

ENTITIES = ("allocation", "order_hdr", "order_dtl")
RECORDS = 2_000
KILLS = 10
#: Under the size of a RECORD line of these entities (about 800 bytes on average).
LINE_BYTES = 700


def _api() -> SampleApi:
    now = dt.datetime.now(dt.UTC)
    first = now - dt.timedelta(days=2)
    return SampleApi(
        records=RECORDS,
        username=USER,
        password=PASSWORD,
        latency_ms=5,
        latency_jitter_ms=25,
        first_mod_ts=first.isoformat(),
        mod_ts_step_s=2 * 86400 / (RECORDS + 1),
    )


def _tap_config(api: SampleApi) -> dict[str, Any]:
    return {
        "profile": "oracle_wms",
        "base_url": api.base_url,
        "username": USER,
        "password": PASSWORD,
        "entities": list(ENTITIES),
        "page_size": 100,
        "page_mode": "paged",
        "max_concurrency": 8,
        "partition_window": "3 hours",
        "start_date": api.record("allocation", 1)["mod_ts"],
    }


def _assert_states_covered(
    api: SampleApi, url: str, schema: str | None, states: Any, where: str
) -> None:
    """Every STATE printed claims only committed rows (everything below each bookmark)."""
    for number, state in enumerate(states, 1):
        for entity in ENTITIES:
            mark = bookmark_of(state, entity)
            if mark is None:
                continue
            n = source_covered(api, entity, mark, inclusive=False)
            with Table(url, schema, entity) as table:
                have = table.ids_up_to(n)
            assert have == n, (
                f"{where}: STATE #{number} claims {entity} below {mark} ({n} records) "
                f"but only {have} are committed"
            )


def _chain(tmp_path: Path, url: str | None, schema: str | None, seed: int) -> None:
    rng = random.Random(seed)
    with _api() as api:
        tap_cfg = _tap_config(api)
        tgt_cfg = target_config(tmp_path, url, schema, 500)
        table_url = tgt_cfg["sqlalchemy_url"]
        state: dict[str, Any] | None = None
        log: list[str] = []
        kills = 0
        for step in range(1, KILLS + 1):
            left = sum(
                RECORDS
                - (
                    source_covered(api, e, mark, inclusive=False)
                    if (mark := bookmark_of(state, e))
                    else 0
                )
                for e in ENTITIES
            )
            if left <= 0:
                break
            point = KillPoint("tap_bytes", int(rng.uniform(0.1, 0.9) * left * LINE_BYTES))
            result = run_pipeline(
                tmp_path, tap_cfg, tgt_cfg, state=state, kill=point, label=f"kill{step}"
            )
            where = f"kill #{step} at {point}"
            assert not result.hung, f"{where}: hung\n{result.describe()}"
            assert result.killed and result.tap_rc == -9, f"{where}\n{result.describe()}"
            kills += 1
            for entity in ENTITIES:
                with Table(table_url, schema, entity) as table:
                    rows, distinct = table.counts()
                    assert rows == distinct, f"{where}: {entity} has {rows - distinct} duplicates"
            _assert_states_covered(api, table_url, schema, result.states, where)
            state = result.last_state or state
            log.append(
                f"{where}: {result.seconds:.1f}s {result.fed_bytes} B {len(result.states)} states"
            )
        final = run_pipeline(tmp_path, tap_cfg, tgt_cfg, state=state, label="final")
        assert final.tap_rc == 0 and final.target_rc == 0, final.describe()
        print("\n".join(log))  # shown with -s
        assert kills == KILLS
        for entity in ENTITIES:
            source = source_index(api, entity)
            spot = random.Random(entity).sample(range(1, RECORDS + 1), 50)
            with Table(table_url, schema, entity) as table:
                assert_table_equals_source(table, api, entity, source, spot)
            newest = max(source.values(), key=lambda v: v[0])[0]
            assert bookmark_of(final.last_state, entity) == newest


def test_a_concurrent_tap_killed_ten_times_resumes_exactly_into_sqlite(tmp_path: Path) -> None:
    """Ten SIGKILLs of the tap at concurrency 8, each resumed: SQLite tables equal the source."""
    _chain(tmp_path, None, None, seed=14_1)


def test_a_concurrent_tap_killed_ten_times_resumes_exactly_into_postgres(
    tmp_path: Path, pg_schema: str
) -> None:
    """The same chain into PostgreSQL (one schema per test)."""
    _chain(tmp_path, PG_URL, pg_schema, seed=14_2)
