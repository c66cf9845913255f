"""What the source holds and what the target table holds, and how to compare them.

The source is the sample API, read over HTTP like any client would; the table is
read with a fresh SQLAlchemy engine, so only committed rows are seen.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from flext_infra.testing import WMS_PREFIX, SampleApi

USER = "rel-user"
PASSWORD = "rel-pass"
#: The query the tap sends for a full read (page_size 1000, the WMS profile's order).
FULL_QUERY = {"page_size": "1000", "page_mode": "sequenced", "ordering": "mod_ts"}


#: The numeric field compared on every row of each entity (besides ``mod_ts``).
VALUE_FIELD = {"allocation": "alloc_qty", "order_hdr": "total_orig_ord_qty", "order_dtl": "ord_qty"}


def api_client(api: SampleApi) -> httpx.Client:
    """An httpx client on the sample API (basic auth, no retries: faults are off here)."""
    return httpx.Client(base_url=api.base_url, auth=(USER, PASSWORD), timeout=60)


def source_index(api: SampleApi, entity: str) -> dict[int, tuple[str, Any]]:
    """``id -> (mod_ts, value)`` for every record the API serves, read page by page.

    ``value`` is the entity's :data:`VALUE_FIELD`; only these fields are decoded.
    """
    row = msgspec.defstruct("Row", [("id", int), ("mod_ts", str), (VALUE_FIELD[entity], Any)])
    page_type = msgspec.defstruct("Page", [("results", list[row]), ("next_page", str | None)])  # type: ignore[valid-type]
    decoder = msgspec.json.Decoder(page_type)
    value = VALUE_FIELD[entity]
    out: dict[int, tuple[str, Any]] = {}
    with api_client(api) as client:
        url: str | None = f"{WMS_PREFIX}{entity}/"
        params: dict[str, str] | None = FULL_QUERY
        while url is not None:
            response = client.get(url, params=params)
            response.raise_for_status()
            page: Any = decoder.decode(response.content)
            for rec in page.results:
                out[rec.id] = (rec.mod_ts, getattr(rec, value))
            url, params = page.next_page, None
    return out


def source_covered(api: SampleApi, entity: str, bookmark: str, *, inclusive: bool = True) -> int:
    """How many source records have ``mod_ts <= bookmark`` (``<`` unless ``inclusive``);
    they are exactly ids 1..n.

    The sample API's initial records have ``mod_ts`` increasing with ``id``; the
    answer's newest id equalling the count checks that here rather than assuming it.
    """
    with api_client(api) as client:
        response = client.get(
            f"{WMS_PREFIX}{entity}/",
            params={
                "mod_ts__lte" if inclusive else "mod_ts__lt": bookmark,
                "ordering": "-id",
                "page_size": "1",
            },
        )
    if response.status_code == 404:  # LGF: a filter matching nothing answers 404
        return 0
    response.raise_for_status()
    body = response.json()
    count = int(body["result_count"])
    assert count == 0 or body["results"][0]["id"] == count, "ids 1..n are not the oldest n"
    return count


def bookmark_of(state: dict[str, Any] | None, stream: str) -> str | None:
    """The replication key value a STATE holds for ``stream``."""
    if not state:
        return None
    value = state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
    return str(value) if value is not None else None


class Table:
    """A loaded table, read through its own engine (committed data only)."""

    def __init__(self, url: str, schema: str | None, name: str) -> None:
        self.value_field = VALUE_FIELD[name]
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.dialect = self.engine.dialect.name
        self.ref = f'"{schema}"."{name}"' if schema and self.dialect != "sqlite" else f'"{name}"'

    def close(self) -> None:
        """Dispose of the engine."""
        self.engine.dispose()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exists(self) -> bool:
        """True once the target created the table."""
        name = self.ref.rsplit(".", 1)[-1].strip('"')
        schema = self.ref.split(".")[0].strip('"') if "." in self.ref else None
        return sa.inspect(self.engine).has_table(name, schema=schema)

    def scalar(self, sql: str, *params: Any) -> Any:
        """One value from ``sql`` (``{t}`` is the table)."""
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql.format(t=self.ref), tuple(params)).scalar()

    def counts(self) -> tuple[int, int]:
        """(rows, distinct ids); (0, 0) before the table exists."""
        if not self.exists():
            return 0, 0
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {self.ref}")
            rows, distinct = row.one()
        return int(rows), int(distinct)

    def ids_up_to(self, n: int) -> int:
        """How many rows have ``id <= n``."""
        if n == 0 or not self.exists():
            return 0
        mark = "?" if self.dialect == "sqlite" else "%(n)s"
        with self.engine.connect() as conn:
            params: Any = (n,) if self.dialect == "sqlite" else {"n": n}
            result = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {self.ref} WHERE id <= {mark}", params
            )
            return int(result.scalar_one())

    def index(self) -> Iterator[tuple[int, Any, Any]]:
        """``(id, mod_ts, value)`` for every row (the entity's :data:`VALUE_FIELD`)."""
        with self.engine.connect() as conn:
            sql = f'SELECT id, mod_ts, "{self.value_field}" FROM {self.ref}'
            result = conn.exec_driver_sql(sql)
            for row in result:
                yield int(row[0]), row[1], row[2]

    def rows(self, ids: Sequence[int], columns: Iterable[str]) -> dict[int, dict[str, Any]]:
        """Full rows for ``ids`` (by id)."""
        cols = list(columns)
        select = sa.text(
            "SELECT " + ", ".join(f'"{c}"' for c in cols) + f" FROM {self.ref} WHERE id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            found = conn.execute(select, {"ids": list(ids)}).mappings().all()
        return {int(r["id"]): dict(r) for r in found}


def norm_ts(value: Any) -> dt.datetime | None:
    """A timestamp from JSON text or a database value, as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace(" ", "T", 1))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def norm_num(value: Any) -> Decimal | None:
    """A number from JSON or a database value, exact and without trailing zeros."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Decimal(int(value))
    return Decimal(str(value)).normalize()


def norm_value(source: Any, stored: Any) -> tuple[Any, Any]:
    """Both sides of one field in comparable form, led by the source's JSON type."""
    if source is None or stored is None:
        return source, stored
    if isinstance(source, bool):
        return source, bool(stored)
    if isinstance(source, int | float | Decimal):
        return norm_num(source), norm_num(stored)
    if isinstance(source, dict | list):
        return source, json.loads(stored) if isinstance(stored, str | bytes) else stored
    if isinstance(source, str) and isinstance(stored, dt.datetime | dt.date):
        if isinstance(stored, dt.datetime):
            return norm_ts(source), norm_ts(stored)
        return dt.date.fromisoformat(source), stored
    if isinstance(source, str) and len(source) >= 19 and source[10:11] == "T":
        try:
            return norm_ts(source), norm_ts(stored)
        except ValueError:
            return source, stored
    return source, stored


def diff_record(source: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """Fields whose stored value differs from the source (empty when equal)."""
    problems = []
    for name, value in source.items():
        if name not in stored:
            problems.append(f"{name}: column missing")
            continue
        left, right = norm_value(value, stored[name])
        if left != right:
            problems.append(f"{name}: source {left!r} != stored {right!r}")
    return problems


def assert_table_equals_source(
    table: Table,
    api: SampleApi,
    entity: str,
    source: dict[int, tuple[str, Any]],
    spot_ids: Iterable[int],
) -> None:
    """Same ids, no duplicates, same mod_ts and value on every row, all fields on spot ids."""
    rows, distinct = table.counts()
    assert rows == distinct, f"{rows - distinct} duplicate rows"
    stored = {int(i): (m, q) for i, m, q in table.index()}
    missing = source.keys() - stored.keys()
    extra = stored.keys() - source.keys()
    assert not missing, f"{len(missing)} source records lost, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} rows not in the source, e.g. {sorted(extra)[:5]}"
    wrong = [
        i
        for i, (mod, qty) in source.items()
        if norm_ts(mod) != norm_ts(stored[i][0]) or norm_num(qty) != norm_num(stored[i][1])
    ]
    assert not wrong, f"{len(wrong)} rows differ from the source, e.g. ids {wrong[:5]}"
    ids = sorted(set(spot_ids))
    columns = list(api.record(entity, ids[0]).keys())
    found = table.rows(ids, columns)
    for rid in ids:
        problems = diff_record(api.record(entity, rid), found[rid])
        assert not problems, f"id {rid}: {problems}"
