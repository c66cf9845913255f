"""Inputs for the rows that are not Singer targets: the COPY floor and Sling.

* **The floor** is PostgreSQL's own bulk load: ``psql \\copy`` of the same rows,
  as CSV, into a table of the same shape (our target's table for the stream).
  The CSV and the column list are made once per size, untimed, by loading the
  dataset with our target into a scratch schema and copying the table out.
* **Sling** reads the same records as JSON lines (one record per line).

Both are cached next to the Singer files in ``benchmarks/results/data/``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec

from benchmarks import _services

#: The floor's table (the dataset's stream, as our target names it).
TABLE = "bench_items"


def records_jsonl(singer_file: Path) -> Path:
    """The dataset's records, one JSON object per line (Sling's input), made once."""
    path = singer_file.with_suffix(".records.jsonl")
    if path.exists():
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    decode = msgspec.json.decode
    encode = msgspec.json.encode
    with singer_file.open("rb") as source, tmp.open("wb") as out:
        for line in source:
            message = decode(line)
            if message.get("type") == "RECORD":
                out.write(encode(message["record"]) + b"\n")
    tmp.replace(path)
    return path


def copy_input(singer_file: Path, target: Path, scratch: Path) -> tuple[Path, str]:
    """``(csv file, column definitions)`` of our target's table for this dataset, made once.

    Args:
        singer_file: The dataset.
        target: Our target's console script (loads the dataset once, untimed).
        scratch: Where the one-off load keeps its config and rejects.
    """
    csv_path = singer_file.with_suffix(".csv")
    columns_path = singer_file.with_suffix(".columns.sql")
    if csv_path.exists() and columns_path.exists():
        return csv_path, columns_path.read_text(encoding="utf-8")
    import psycopg

    schema = f"flext_bench_floor_prep_{singer_file.stat().st_size % 100000}"
    with _services.pg_schema(schema):
        config = scratch / "floor-prep.json"
        config.write_text(
            msgspec.json.encode(
                {
                    "sqlalchemy_url": _services.pg_url(),
                    "default_target_schema": schema,
                    "reject_path": str(scratch / "floor-prep-rejects"),
                }
            ).decode(),
            encoding="utf-8",
        )
        with singer_file.open("rb") as stdin:
            subprocess.run(
                [str(target), "--config", str(config)],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=3600,
            )
        with psycopg.connect(_services.pg_url("postgresql")) as conn:
            columns = conn.execute(
                "SELECT string_agg(quote_ident(attname) || ' ' || "
                "format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
                "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped",
                (f'"{schema}"."{TABLE}"',),
            ).fetchone()
            tmp = csv_path.with_name(f".{csv_path.name}.tmp")
            with tmp.open("wb") as out, conn.cursor() as cursor:
                sql = f'COPY "{schema}"."{TABLE}" TO STDOUT WITH (FORMAT csv)'
                with cursor.copy(sql) as copy:
                    for chunk in copy:
                        out.write(chunk)
            tmp.replace(csv_path)
    assert columns is not None and columns[0]
    columns_path.write_text(columns[0], encoding="utf-8")
    return csv_path, columns[0]


def create_floor_table(schema: str, columns: str) -> None:
    """The floor's empty table, shaped like our target's (made before the clock starts)."""
    import psycopg

    with psycopg.connect(_services.pg_url("postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}"."{TABLE}" ({columns})')


def psql_copy_argv(schema: str, csv_path: Path) -> list[str]:
    """``psql \\copy`` of the CSV into the floor's table: what the floor row times."""
    return [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        _services.PG_HOST,
        "-p",
        str(_services.PG_PORT),
        "-U",
        _services.PG_USER,
        "-d",
        _services.PG_DATABASE,
        "-c",
        f'\\copy "{schema}"."{TABLE}" FROM \'{csv_path}\' WITH (FORMAT csv)',
    ]


def sling_argv(sling: Path, jsonl: Path, schema: str) -> list[str]:
    """Sling loading the JSON lines into PostgreSQL, nested objects flattened into columns."""
    return [
        str(sling),
        "run",
        "--src-stream",
        f"file://{jsonl}",
        "--src-options",
        '{"flatten": true}',
        "--tgt-conn",
        SLING_CONNECTION,
        "--tgt-object",
        f"{schema}.{TABLE}",
        "--mode",
        "full-refresh",
    ]


#: The environment variable naming Sling's PostgreSQL connection (a URL).
SLING_CONNECTION = "FLEXT_BENCH_PG"


def sling_env() -> dict[str, str]:
    """Sling's connection and no telemetry (nothing leaves this machine anyway)."""
    return {
        SLING_CONNECTION: _services.pg_url("postgresql") + "?sslmode=disable",
        "SLING_DISABLE_TELEMETRY": "true",
    }
