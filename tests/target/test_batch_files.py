"""BATCH messages: the target reads the files they name the RECORD way (rejects included)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from target_flext_oracle._batch_files import BatchFileError
from tests.target.conftest import rejects, run_target, schema_msg, singer

SCHEMA = schema_msg("items", {"id": {"type": "integer"}, "qty": {"type": "integer"},
                              "price": {"type": "number"}}, ["id"])  # fmt: skip
GZIP = {"format": "jsonl", "compression": "gzip"}


def _file(path: Path, records: list[dict[str, Any]], *, compress: bool = True) -> str:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path.as_uri()


def _batch(encoding: dict[str, Any], *urls: str) -> dict[str, Any]:
    return {"type": "BATCH", "stream": "items", "encoding": encoding, "manifest": list(urls)}


def test_records_of_batch_files_are_converted_and_rejected_as_records_are(
    tmp_path: Path, sqlite_config: dict[str, Any], sqlite_db: sa.Engine
) -> None:
    """A bad value in a BATCH file is rejected with its key, field and reason; the rest loads."""
    first = _file(tmp_path / "a.json.gz", [{"id": 1, "qty": 2, "price": 1.25},
                                          {"id": 2, "qty": "many", "price": 0}])  # fmt: skip
    second = _file(tmp_path / "b.json", [{"id": 3, "qty": 0, "price": 2.5}], compress=False)
    state = {"type": "STATE", "value": {"bookmarks": {"items": {"id": 3}}}}
    run = run_target(
        sqlite_config,
        singer(SCHEMA, _batch(GZIP, first), _batch({"format": "jsonl"}, second), state),
    )
    with sqlite_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, qty, price FROM items ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 2, 1.25), (3, 0, 2.5)]
    [bad] = rejects(sqlite_config, "items")
    assert (bad["key"], bad["field"]) == ({"id": 2}, "qty")
    assert run.states[-1] == state["value"]


@pytest.mark.parametrize(
    ("encoding", "make", "message"),
    [({"format": "parquet"}, False, "not supported"),
     (GZIP, False, "could not be read"),
     ({"format": "jsonl"}, True, "not a JSON object")],
)  # fmt: skip
def test_an_unreadable_batch_file_fails_the_run_naming_it(
    tmp_path: Path, sqlite_config: dict[str, Any], encoding: dict[str, Any], make: bool,
    message: str,
) -> None:  # fmt: skip
    """A missing file, a line that is not an object, or an unknown format is a named error."""
    path = tmp_path / "missing.json.gz"
    if make:
        path.write_text('{"id": 1, "qty": 1, "price": 1}\n[1, 2]\n')
    with pytest.raises(BatchFileError, match=message) as caught:
        run_target(sqlite_config, singer(SCHEMA, _batch(encoding, path.as_uri())))
    if encoding["format"] == "jsonl":
        assert path.name in str(caught.value)
