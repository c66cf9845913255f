"""Database connection killed mid-batch: ``pg_terminate_backend`` on the target's open transaction.

A watcher thread finds the target's backend while a batch transaction is open
(it holds locks on the test schema's table) and terminates it. The batch must
roll back; the run either retries or fails clearly, naming the stream, the
batch and the cause; no partial batch may remain; a rerun from the last STATE,
after the source changed 400 records and added 250, completes the table exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

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
from tests.reliability._pg import TxWatcher
from tests.reliability._pipeline import run_pipeline
from tests.reliability.conftest import PG_DSN, PG_URL, tap_config, target_config

ENTITY = "allocation"
RECORDS = 40_000
BATCH = 5_000
#: The batch transaction (counted as the watcher sees them) whose connection is cut.
CUT_AT = 2
#: What psycopg / PostgreSQL say when the server ends the session.
CAUSES = (
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "consuming input failed",
    "connection is closed",
    "the connection is lost",
)


pytestmark = pytest.mark.postgres


@pytest.fixture
def api() -> Iterator[SampleApi]:
    """A sample API with 40,000 allocations."""
    counts = {"allocation": RECORDS, "order_hdr": 10, "order_dtl": 10}
    with SampleApi(counts=counts, username=USER, password=PASSWORD) as served:
        yield served


def test_terminated_connection_rolls_back_the_batch(
    tmp_path: Path, api: SampleApi, pg_schema: str
) -> None:
    """pg_terminate_backend mid-batch: rollback, a clear failure or a retry, exact rerun."""
    watcher = TxWatcher(PG_DSN, pg_schema)

    def cut(ordinal: int, pid: int) -> bool:
        return ordinal >= CUT_AT and watcher.terminate(pid)

    tap_cfg = tap_config(api)
    tgt_cfg = target_config(tmp_path, PG_URL, pg_schema, BATCH)
    try:
        first = run_pipeline(
            tmp_path, tap_cfg, tgt_cfg, tx_probe=watcher.open_tx, on_tx=cut, label="cut"
        )
    finally:
        watcher.close()
    assert not first.hung, f"the run hung after its connection was cut\n{first.describe()}"
    assert watcher.terminated, f"no batch transaction was seen to cut\n{first.describe()}"

    with Table(PG_URL, pg_schema, ENTITY) as table:
        rows, distinct = table.counts()
        assert rows == distinct, f"{rows - distinct} duplicate rows"
        if first.target_rc != 0:
            # Failed clearly: non-zero, naming the stream, the batch and the cause.
            err = first.target_stderr
            assert f"stream '{ENTITY}'" in err and "rolled back" in err, first.describe()
            assert "batch of records" in err, first.describe()
            assert any(c in err for c in CAUSES), f"cause not named\n{first.describe()}"
        # No partial batch: exactly the rows of the batches the target says it committed.
        assert rows == first.committed_rows(), (rows, first.committed_rows())
        assert rows % BATCH == 0 or rows == RECORDS, f"{rows} rows: a partial batch remains"
        mark = bookmark_of(first.last_state, ENTITY)
        if mark is not None:
            covered = source_covered(api, ENTITY, mark)
            assert table.ids_up_to(covered) == covered, "STATE ahead of committed rows"
            assert rows >= covered

        # While the pipeline is down the source moves on: changed and new records.
        changed = api.modify_records(ENTITY, 400)
        added = api.add_records(ENTITY, 250)
        second = run_pipeline(tmp_path, tap_cfg, tgt_cfg, state=first.last_state, label="rerun")
        assert second.tap_rc == 0 and second.target_rc == 0, second.describe()
        total = RECORDS + len(added)
        spot = [*random.Random(3).sample(range(1, RECORDS + 1), 200), rows, rows + 1]
        spot += changed[::10] + added[::25]
        assert_table_equals_source(
            table, api, ENTITY, source_index(api, ENTITY), [i for i in spot if 0 < i <= total]
        )
