"""Must hold 6: tap -> BATCH files (JSONL + gzip) on S3 -> target gives the RECORD path's table.

Both plugins run as processes, as Meltano runs them. The same extract is sent
once as RECORD messages and once as BATCH messages naming files on the
SeaweedFS server (or a local root); each goes into its own schema of the same
database, and the two tables must be identical, row for row and value for value.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from flext_infra.testing import SampleApi
from tests._seaweedfs import S3Server
from tests.tap.conftest import PASSWORD, USER, wms_config
from tests.target.conftest import PG_URL, pg_available, pg_schema

BIN = Path(sys.executable).parent
ENTITIES = ("allocation", "order_hdr")
BATCH_SIZE = 40


@pytest.fixture(scope="module")
def api() -> Iterator[SampleApi]:
    """The sample WMS API: mixed types, nulls, nested objects, decimals and timestamps."""
    with SampleApi(counts={"allocation": 130, "order_hdr": 55}, username=USER,
                   password=PASSWORD) as server:  # fmt: skip
        yield server


def _env(extra: dict[str, str], tmp: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXT_", "AWS_"))}
    return {**base, "FLEXT_ENVIRONMENT": "test", "FLEXT_DATA_DIR": str(tmp / "data"), **extra}


def _tap(config: dict[str, Any], env: dict[str, str], tmp: Path) -> bytes:
    path = tmp / f"tap-{len(list(tmp.glob('tap-*')))}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([str(BIN / "tap-flext-api"), "--config", str(path)],
                          capture_output=True, env=env, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout


def _target(config: dict[str, Any], stdin: bytes, env: dict[str, str], tmp: Path) -> list[str]:
    path = tmp / f"target-{len(list(tmp.glob('target-*')))}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([str(BIN / "target-flext-oracle"), "--config", str(path)],
                          input=stdin, capture_output=True, env=env, timeout=180,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout.decode().splitlines()


def _tables(
    url: str, schema: str | None, entities: tuple[str, ...] = ENTITIES
) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            out = {}
            for entity in entities:
                table = sa.Table(entity, sa.MetaData(schema=schema), autoload_with=conn)
                columns = sorted(table.c, key=lambda c: c.name)
                rows = conn.execute(sa.select(*columns).order_by(table.c.id)).all()
                out[entity] = [tuple(r) for r in rows]
            return out
    finally:
        engine.dispose()


def _batch_config(root: str) -> dict[str, Any]:
    return {"encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": root, "prefix": "extract-"}, "batch_size": BATCH_SIZE}  # fmt: skip


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_batch_files_on_s3_load_the_same_table_as_record_messages(
    api: SampleApi, s3_server: S3Server, s3_root: str, tmp_path: Path, database: str
) -> None:
    """The BATCH run stores gzip JSONL objects on S3 and loads tables equal to the RECORD run's."""
    if database == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    env = _env(s3_server.env(), tmp_path)
    config = wms_config(api, entities=list(ENTITIES))
    records = _tap(config, env, tmp_path)
    batches = _tap({**config, "batch_config": _batch_config(f"{s3_root}/batches")}, env, tmp_path)

    messages = [json.loads(line) for line in batches.splitlines()]
    assert not [m for m in messages if m["type"] == "RECORD"]
    manifest = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert manifest and all(url.startswith(f"{s3_root}/batches/extract-") for url in manifest)
    fs = s3_server.filesystem()
    first = gzip.decompress(fs.cat_file(manifest[0].removeprefix("s3://"))).splitlines()
    assert len(first) == BATCH_SIZE and json.loads(first[0])["id"] == 1

    with ExitStack() as stack:
        if database == "sqlite":
            urls = [f"sqlite:///{tmp_path / f'{kind}.db'}" for kind in ("records", "batches")]
            targets = [({"sqlalchemy_url": u}, u, None) for u in urls]
        else:
            schemas = [stack.enter_context(pg_schema("flext_batch")) for _ in range(2)]
            targets = [({"sqlalchemy_url": PG_URL, "default_target_schema": s}, PG_URL, s)
                       for s in schemas]  # fmt: skip
        loaded = []
        for (target_config, url, schema), stdin in zip(targets, (records, batches), strict=True):
            states = _target(target_config, stdin, env, tmp_path)
            loaded.append((_tables(url, schema), json.loads(states[-1])))
    (by_record, record_state), (by_batch, batch_state) = loaded
    assert [len(by_record[e]) for e in ENTITIES] == [130, 55]
    assert by_batch == by_record
    assert batch_state["bookmarks"] == record_state["bookmarks"]


def test_batch_files_from_a_local_root_load_the_same_table(api: SampleApi, tmp_path: Path) -> None:
    """A file:// root works the same way (workers sharing a volume)."""
    env = _env({}, tmp_path)
    config = wms_config(api, entities=["allocation"])
    records = _tap(config, env, tmp_path)
    root = (tmp_path / "shared" / "batches").as_uri()
    batches = _tap({**config, "batch_config": _batch_config(root)}, env, tmp_path)
    assert list((tmp_path / "shared" / "batches").glob("extract-*.json.gz"))
    urls = [f"sqlite:///{tmp_path / f'{kind}.db'}" for kind in ("records", "batches")]
    for url, stdin in zip(urls, (records, batches), strict=True):
        _target({"sqlalchemy_url": url}, stdin, env, tmp_path)
    first, second = (_tables(url, None, ("allocation",))["allocation"] for url in urls)
    assert second == first and len(first) == 130
