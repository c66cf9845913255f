"""What the benchmarks run against: the sample API, PostgreSQL schemas, SQLite files.

The sample API runs inside the harness process (its own threads). Its rendered
page cache is warmed before anything is timed, for exactly the URLs the
subjects are configured to fetch, so the timings measure the Singer processes
and not the server building pages. After a run, the request log tells whether
any page was fetched cold; if so the row says how many.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from flext_infra.testing import SampleApi

#: The sample API's generic stream used by every tap-side benchmark: page numbers
#: plus a ``has_more`` flag, a mode both tap-flext-api and tap-rest-api-msdk support.
GENERIC_PATH = "/generic/has_more/items"
PAGE_PARAM = "page"
SIZE_PARAM = "per_page"
PAGE_SIZE = 1000
#: Rendered bytes per record in the generic dataset, rounded up (for sizing the cache).
_BYTES_PER_RECORD = 450

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USER = "postgres"

PageKey = tuple[str, tuple[tuple[str, str], ...]]


def page_key(path: str, query: dict[str, str] | str) -> PageKey:
    """A request's identity for the page cache: the path and its sorted query."""
    items = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query.items()
    return path, tuple(sorted((str(k), str(v)) for k, v in items))


@dataclass
class WarmApi:
    """A started sample API with ``records`` generic items and a warmed page cache."""

    api: SampleApi
    records: int
    warmed: set[PageKey] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        """Where the API listens."""
        return str(self.api.base_url)

    def mark(self) -> int:
        """The request log's current length (pass to :meth:`cold_pages` after a run)."""
        return len(self.api.requests)

    def cold_pages(self, since: int) -> tuple[int, int]:
        """``(cold, total)`` data pages fetched since ``mark()``: cold ones were not warmed."""
        requests = list(self.api.requests)[since:]
        data = [r for r in requests if r.path == GENERIC_PATH]
        cold = sum(1 for r in data if page_key(r.path, r.query) not in self.warmed)
        return cold, len(data)

    def page_statuses(self, since: int) -> dict[int, int]:
        """How many answers of each HTTP status the API gave since ``mark()``."""
        counts: dict[int, int] = {}
        for r in list(self.api.requests)[since:]:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts


def page_queries(records: int, page_size: int = PAGE_SIZE) -> list[dict[str, str]]:
    """Every query a page-number client sends for ``records`` items, first page both ways.

    A client may ask for the first page with or without ``page=1``; both are warmed.
    """
    pages = max(1, math.ceil(records / page_size))
    size = {SIZE_PARAM: str(page_size)}
    return [size] + [{**size, PAGE_PARAM: str(p)} for p in range(1, pages + 1)]


@contextlib.contextmanager
def sample_api(records: int) -> Iterator[WarmApi]:
    """Start the sample API with ``records`` generic items and warm its page cache."""
    from flext_infra.testing import SampleApi

    cache = max(256 * 1024 * 1024, 2 * records * _BYTES_PER_RECORD + (64 << 20))
    api = SampleApi(records=1, counts={"items": records}, cache_max_bytes=cache)
    with api:
        warm = WarmApi(api, records)
        for query in page_queries(records):
            api.render(GENERIC_PATH, query)
            warm.warmed.add(page_key(GENERIC_PATH, query))
        yield warm


def pg_url(driver: str = "postgresql+psycopg") -> str:
    """The SQLAlchemy URL of the benchmark database (trust auth, no password)."""
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"


def pg_unavailable() -> str:
    """Why PostgreSQL cannot be used ('' when it can)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a project dependency
        return f"psycopg not importable: {exc}"
    try:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, dbname=PG_DATABASE, user=PG_USER, connect_timeout=5
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT}/{PG_DATABASE} unreachable: {exc}".strip()
    return ""


@contextlib.contextmanager
def pg_schema(name: str) -> Iterator[str]:
    """A throwaway PostgreSQL schema name: dropped before (if left over) and after use."""
    import psycopg
    from psycopg import sql

    def drop() -> None:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, dbname=PG_DATABASE, user=PG_USER, autocommit=True
        ) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    drop()
    try:
        yield name
    finally:
        drop()


def pg_row_count(schema: str, stream: str) -> int | None:
    """Rows in the table that a target made for ``stream`` in ``schema`` (None: no table).

    Targets may prefix or change the case of table names, so the one table whose
    name ends with the stream name (case-insensitive) is counted.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DATABASE, user=PG_USER) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        table = _pick_table(names, stream)
        if table is None:
            return None
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def sqlite_row_count(path: Path, stream: str) -> int | None:
    """Rows in the table that a target made for ``stream`` in the SQLite file (None: no table)."""
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        table = _pick_table(names, stream)
        if table is None:
            return None
        quoted = '"' + table.replace('"', '""') + '"'
        return int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])


def _pick_table(names: list[str], stream: str) -> str | None:
    wanted = stream.lower()
    exact = [n for n in names if n.lower() == wanted]
    if exact:
        return exact[0]
    suffixed = [n for n in names if n.lower().endswith(wanted)]
    return suffixed[0] if len(suffixed) == 1 else None
