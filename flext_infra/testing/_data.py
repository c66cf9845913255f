"""Seeded, deterministic datasets for the sample API.

Records are never stored: each one is computed from ``(id, revision)`` when a
page is rendered, so a million-record dataset costs a few arrays (``mod_ts`` and
the revision per id), not a million dicts. Only the ordering by ``mod_ts`` is
kept as a list of ids, because modified records move to its end.

``mod_ts`` only moves forward: a new or modified record gets one second more
than the newest ``mod_ts`` of its entity, so incremental sync on
``mod_ts__gte`` always sees it.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

FieldType = Literal[
    "integer", "decimal", "string", "boolean", "date", "datetime", "fk", "object", "array"
]

#: 2024-01-01T00:00:00Z in microseconds since the epoch: the first record's ``create_ts``.
BASE_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
_SECOND = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BASE_DATE = date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an entity, as the describe endpoint reports it."""

    name: str
    type: FieldType
    nullable: bool = True
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    fk_entity: str | None = None

    def describe(self) -> dict[str, Any]:
        """The field's metadata as the describe endpoint sends it."""
        return {
            "name": self.name,
            "type": self.type,
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "nullable": self.nullable,
            "is_fk": self.type == "fk",
            "fk_entity": self.fk_entity,
        }


_DAYS: dict[int, str] = {}


def format_ts(us: int) -> str:
    """A ``mod_ts``-style timestamp: ISO 8601, microseconds, UTC offset.

    Built by hand from a per-day cache: this runs twice per record rendered,
    and ``datetime.isoformat`` was a third of the render time.
    """
    seconds, micro = divmod(us, 1_000_000)
    day, rest = divmod(seconds, 86_400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{prefix}T{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}+00:00"


def parse_ts(text: str) -> int:
    """Microseconds since the epoch from an ISO 8601 date or timestamp (naive means UTC).

    Raises:
        ValueError: the text is not an ISO 8601 date or timestamp.
    """
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _mix(record_id: int, rev: int, salt: int) -> int:
    """A cheap deterministic hash: the same inputs give the same value on every run."""
    x = (record_id * 0x9E3779B1 + rev * 0x85EBCA77 + salt * 0xC2B2AE3D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    return x ^ (x >> 12)


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """An entity's fields and how one record is computed."""

    name: str
    fields: tuple[FieldSpec, ...]
    #: ``make(id, rev, mod_ts_us, create_us, ctx) -> record``
    make: Callable[[int, int, int, int, RecordContext], dict[str, Any]]
    replication_key: str = "mod_ts"
    primary_key: tuple[str, ...] = ("id",)
    #: The ``code`` of a foreign key by record id, for LGF's related-field
    #: filters (``company_id__code=ACME``).
    codes: Mapping[str, Callable[[int], str]] = field(default_factory=dict)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in their order in a record."""
        return tuple(f.name for f in self.fields)

    def describe(self) -> dict[str, Any]:
        """The describe endpoint's body for this entity."""
        return {
            "name": self.name,
            "primary_key": list(self.primary_key),
            "replication_key": self.replication_key,
            "fields": [f.describe() for f in self.fields],
        }


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What a record needs from outside itself: URLs of related entities and their sizes."""

    entity_url: str
    counts: dict[str, int]
    _shared: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def fk(self, entity: str, fk_id: int, key: str) -> dict[str, Any]:
        """A foreign-key object as the LGF API nests it."""
        return {"id": fk_id, "key": key, "url": f"{self.entity_url}{entity}/{fk_id}/"}

    def shared_fk(self, entity: str, fk_id: int, key: str) -> dict[str, Any]:
        """A foreign-key object from a small domain (facility, item, …), built once.

        The same dict is returned every time; it is only ever encoded, never changed.
        """
        found = self._shared.get((entity, fk_id))
        if found is None:
            found = self._shared[(entity, fk_id)] = self.fk(entity, fk_id, key)
        return found


_STATUSES = (0, 10, 20, 30, 90)
_FACILITIES = ("FAC01", "FAC02", "DC-EAST")
_COMPANIES = ("COMP1", "ACME")


def _facility(rid: int) -> tuple[int, str]:
    """A record's facility: its id and code."""
    return rid % 3 + 1, _FACILITIES[rid % 3]


def _company(rid: int) -> tuple[int, str]:
    """A record's company: its id and code."""
    return rid % 2 + 1, _COMPANIES[rid % 2]


#: Related-field filters on the company and facility codes.
_SCOPE_CODES: dict[str, Callable[[int], str]] = {
    "facility_id": lambda rid: _facility(rid)[1],
    "company_id": lambda rid: _company(rid)[1],
}
_USERS = ("lgf_sync", "jdoe", "integration", "")
_CITIES = ("Lisboa", "Porto", "Madrid", "Austin", "São Paulo")


def _decimal(h: int, scale: int, lo: int, hi: int) -> float:
    """A decimal with ``scale`` digits, in [lo, hi)."""
    unit: int = 10**scale
    return ((h % ((hi - lo) * unit)) + lo * unit) / unit


def _day(offset: int) -> str:
    return (_BASE_DATE + timedelta(days=offset)).isoformat()


def _audit(rec: dict[str, Any], rid: int, rev: int, mod_us: int, create_us: int) -> None:
    rec["create_ts"] = format_ts(create_us)
    rec["mod_ts"] = format_ts(mod_us)
    rec["create_user"] = _USERS[rid % 3]
    rec["mod_user"] = _USERS[(rid + rev) % 4]


def _allocation(
    rid: int, rev: int, mod_us: int, create_us: int, c: RecordContext
) -> dict[str, Any]:
    h = _mix(rid, rev, 1)
    n_dtl = max(c.counts.get("order_dtl", 1), 1)
    dtl = (rid - 1) % n_dtl + 1
    item = h % 5000 + 1
    rec: dict[str, Any] = {
        "id": rid,
        "facility_id": c.shared_fk("facility", *_facility(rid)),
        "company_id": c.shared_fk("company", *_company(rid)),
        "order_dtl_id": c.fk("order_dtl", dtl, f"{dtl}"),
        "item_id": c.shared_fk("item", item, f"ITEM{item:06d}"),
        "task_id": None if rid % 5 == 0 else c.fk("task", rid // 4 + 1, f"T{rid // 4 + 1:08d}"),
        "alloc_qty": _decimal(h, 3, 1, 500),
        "packed_qty": 0 if rid % 4 == 0 else _decimal(h >> 3, 3, 0, 100),
        "status_id": _STATUSES[(h >> 5) % len(_STATUSES)],
        "is_picked": (h >> 7) % 3 == 0,
        "wave_nbr": "" if rid % 6 == 0 else f"W{(h >> 9) % 10000:05d}",
        "serial_nbr": None if rid % 2 else f"SN{h:010d}",
    }
    _audit(rec, rid, rev, mod_us, create_us)
    return rec


def _order_hdr(rid: int, rev: int, mod_us: int, create_us: int, c: RecordContext) -> dict[str, Any]:
    h = _mix(rid, rev, 2)
    ord_day = rid % 700
    rec: dict[str, Any] = {
        "id": rid,
        "facility_id": c.shared_fk("facility", *_facility(rid)),
        "company_id": c.shared_fk("company", *_company(rid)),
        "order_nbr": f"ORD{rid:09d}",
        "order_type_id": c.shared_fk(
            "order_type", rid % 4 + 1, ("STD", "RUSH", "XFER", "RTN")[rid % 4]
        ),
        "status_id": _STATUSES[h % len(_STATUSES)],
        "ord_date": _day(ord_day),
        "req_ship_date": None if rid % 7 == 0 else _day(ord_day + (h % 10)),
        "cust_name": f"Customer {h % 9973}",
        "cust_addr": "" if rid % 11 == 0 else f"{h % 999 + 1} Main Street",
        "cust_city": _CITIES[(h >> 4) % len(_CITIES)],
        "cust_zip": None if rid % 13 == 0 else f"{(h >> 6) % 100000:05d}",
        "total_orig_ord_qty": _decimal(h >> 2, 2, 0, 10000),
        "is_back_order": (h >> 8) % 5 == 0,
        "priority": (h >> 10) % 10,
        "ship_via_id": None
        if rid % 3 == 0
        else c.shared_fk("ship_via", rid % 5 + 1, f"CARRIER{rid % 5}"),
    }
    _audit(rec, rid, rev, mod_us, create_us)
    return rec


def _order_dtl(rid: int, rev: int, mod_us: int, create_us: int, c: RecordContext) -> dict[str, Any]:
    h = _mix(rid, rev, 3)
    n_hdr = max(c.counts.get("order_hdr", 1), 1)
    hdr = (rid - 1) % n_hdr + 1
    item = h % 5000 + 1
    qty = _decimal(h, 3, 1, 1000)
    rec: dict[str, Any] = {
        "id": rid,
        "order_id": c.fk("order_hdr", hdr, f"ORD{hdr:09d}"),
        "seq_nbr": (rid - 1) // n_hdr + 1,
        "item_id": c.shared_fk("item", item, f"ITEM{item:06d}"),
        "ord_qty": qty,
        "orig_ord_qty": qty,
        "alloc_qty": 0 if rid % 3 == 0 else _decimal(h >> 3, 3, 0, 1000),
        "unit_sale_price": None if rid % 9 == 0 else _decimal(h >> 5, 4, 0, 2000),
        "status_id": _STATUSES[(h >> 7) % len(_STATUSES)],
        "batch_number_id": None
        if rid % 2
        else c.shared_fk("batch_number", h % 300 + 1, f"B{h % 300:04d}"),
        "ref_txt": "" if rid % 4 else f"ref {h % 100}",
        "is_kit": rid % 10 == 0,
        "expiry_date": None if rid % 5 else _day(365 + h % 400),
    }
    _audit(rec, rid, rev, mod_us, create_us)
    return rec


def _item(rid: int, rev: int, mod_us: int, create_us: int, c: RecordContext) -> dict[str, Any]:
    """The generic-mode record: the 15-field mixed-type workload of the benchmarks."""
    h = _mix(rid, rev, 4)
    return {
        "id": rid,
        "name": f"item-{rid}",
        "description": None if rid % 10 == 0 else f"Description of item {rid}, rev {rev}",
        "price": _decimal(h, 2, 0, 10000),
        "quantity": 0 if rid % 8 == 0 else h % 1000,
        "active": rid % 3 != 0,
        "category": "" if rid % 7 == 0 else ("tools", "food", "books", "toys")[h % 4],
        "rating": round((h % 500) / 100, 2),
        "created_at": format_ts(create_us),
        "updated_at": format_ts(mod_us),
        "ship_date": _day(h % 900),
        "discount": None if rid % 2 else _decimal(h >> 4, 2, 0, 50),
        "dimensions": {"w": h % 100, "h": (h >> 3) % 100, "d": (h >> 6) % 100, "unit": "cm"},
        "tags": [f"t{h % 5}", f"t{(h >> 2) % 7}"][: rid % 3],
        "notes": None,
    }


def _fk(name: str, entity: str, nullable: bool = False) -> FieldSpec:
    return FieldSpec(name, "fk", nullable=nullable, fk_entity=entity)


_AUDIT = (
    FieldSpec("create_ts", "datetime", nullable=False),
    FieldSpec("mod_ts", "datetime", nullable=False),
    FieldSpec("create_user", "string", length=30),
    FieldSpec("mod_user", "string", length=30),
)

ENTITIES: dict[str, EntitySpec] = {
    "allocation": EntitySpec(
        "allocation",
        (
            FieldSpec("id", "integer", nullable=False),
            _fk("facility_id", "facility"),
            _fk("company_id", "company"),
            _fk("order_dtl_id", "order_dtl"),
            _fk("item_id", "item"),
            _fk("task_id", "task", nullable=True),
            FieldSpec("alloc_qty", "decimal", nullable=False, precision=12, scale=3),
            FieldSpec("packed_qty", "decimal", nullable=False, precision=12, scale=3),
            FieldSpec("status_id", "integer", nullable=False),
            FieldSpec("is_picked", "boolean", nullable=False),
            FieldSpec("wave_nbr", "string", length=20),
            FieldSpec("serial_nbr", "string", length=50),
            *_AUDIT,
        ),
        _allocation,
        codes=_SCOPE_CODES,
    ),
    "order_hdr": EntitySpec(
        "order_hdr",
        (
            FieldSpec("id", "integer", nullable=False),
            _fk("facility_id", "facility"),
            _fk("company_id", "company"),
            FieldSpec("order_nbr", "string", nullable=False, length=50),
            _fk("order_type_id", "order_type"),
            FieldSpec("status_id", "integer", nullable=False),
            FieldSpec("ord_date", "date", nullable=False),
            FieldSpec("req_ship_date", "date"),
            FieldSpec("cust_name", "string", length=100),
            FieldSpec("cust_addr", "string", length=256),
            FieldSpec("cust_city", "string", length=40),
            FieldSpec("cust_zip", "string", length=10),
            FieldSpec("total_orig_ord_qty", "decimal", precision=14, scale=2),
            FieldSpec("is_back_order", "boolean", nullable=False),
            FieldSpec("priority", "integer", nullable=False),
            _fk("ship_via_id", "ship_via", nullable=True),
            *_AUDIT,
        ),
        _order_hdr,
        codes=_SCOPE_CODES,
    ),
    "order_dtl": EntitySpec(
        "order_dtl",
        (
            FieldSpec("id", "integer", nullable=False),
            _fk("order_id", "order_hdr"),
            FieldSpec("seq_nbr", "integer", nullable=False),
            _fk("item_id", "item"),
            FieldSpec("ord_qty", "decimal", nullable=False, precision=12, scale=3),
            FieldSpec("orig_ord_qty", "decimal", nullable=False, precision=12, scale=3),
            FieldSpec("alloc_qty", "decimal", nullable=False, precision=12, scale=3),
            FieldSpec("unit_sale_price", "decimal", precision=14, scale=4),
            FieldSpec("status_id", "integer", nullable=False),
            _fk("batch_number_id", "batch_number", nullable=True),
            FieldSpec("ref_txt", "string", length=100),
            FieldSpec("is_kit", "boolean", nullable=False),
            FieldSpec("expiry_date", "date"),
            *_AUDIT,
        ),
        _order_dtl,
    ),
}

#: The generic-mode dataset (the paginator endpoints under ``/generic/``).
GENERIC_ENTITY = EntitySpec(
    "items",
    (
        FieldSpec("id", "integer", nullable=False),
        FieldSpec("name", "string", nullable=False, length=50),
        FieldSpec("description", "string", length=200),
        FieldSpec("price", "decimal", nullable=False, precision=10, scale=2),
        FieldSpec("quantity", "integer", nullable=False),
        FieldSpec("active", "boolean", nullable=False),
        FieldSpec("category", "string", length=20),
        FieldSpec("rating", "decimal", precision=3, scale=2),
        FieldSpec("created_at", "datetime", nullable=False),
        FieldSpec("updated_at", "datetime", nullable=False),
        FieldSpec("ship_date", "date"),
        FieldSpec("discount", "decimal", precision=5, scale=2),
        FieldSpec("dimensions", "object"),
        FieldSpec("tags", "array"),
        FieldSpec("notes", "string", length=200),
    ),
    _item,
    replication_key="updated_at",
)

#: Fields that filters and ordering accept, per entity: id, create time and mod time.
_TIME_FIELDS = {"mod_ts", "updated_at"}
_CREATE_FIELDS = {"create_ts", "created_at"}


class Table:
    """One entity's live data: its size, every record's revision and ``mod_ts``.

    Thread-safe: the server reads it from many threads while a test changes it.
    ``version`` grows with every change, so cached pages and views can tell
    they are stale.
    """

    def __init__(
        self, spec: EntitySpec, count: int, *, base_us: int = BASE_US, step_us: int = _SECOND
    ) -> None:
        self.spec = spec
        #: The first record's ``mod_ts`` and the gap between records (both in microseconds).
        self.base_us = base_us
        self.step_us = step_us
        self.lock = threading.RLock()
        self.version = 0
        self.count = 0
        # Index 0 is unused so that ids index the arrays directly.
        self.mod_us = array("q", [0])
        self.create_us = array("q", [0])
        self.rev = array("l", [0])
        # Ids in mod_ts order, and their mod_ts (for bisect): arrays, 8 bytes an entry.
        self.by_mod = array("q")
        self.by_mod_key = array("q")
        self._grow(count, initial=True)
        self._seq = 0
        #: Field values that replace the computed ones, by record id (``patch``).
        self.patches: dict[int, dict[str, Any]] = {}

    @property
    def max_mod_us(self) -> int:
        """The newest ``mod_ts`` of the entity (the base time when it is empty)."""
        return self.by_mod_key[-1] if self.by_mod_key else self.base_us

    def _grow(self, n: int, *, initial: bool = False) -> list[int]:
        start = self.count + 1
        new = list(range(start, start + n))
        if initial:
            stamps = [self.base_us + i * self.step_us for i in new]
        else:
            top = self.max_mod_us
            stamps = [top + (k + 1) * _SECOND for k in range(n)]
        self.mod_us.extend(stamps)
        self.create_us.extend(stamps)
        self.rev.extend([0] * n)
        self.by_mod.extend(new)
        self.by_mod_key.extend(stamps)
        self.count += n
        return new

    def add(self, n: int) -> list[int]:
        """Append ``n`` new records whose ``mod_ts`` is newer than any other; return their ids."""
        with self.lock:
            ids = self._grow(n)
            self.version += 1
            return ids

    def modify(self, n: int | None = None, ids: Iterable[int] | None = None) -> list[int]:
        """Change records (a new revision, ``mod_ts`` moved forward); return their ids.

        Without ``ids``, the ``n`` records picked are spread evenly over the id
        range, which is deterministic and touches old and new pages alike.
        """
        with self.lock:
            if ids is None:
                count = min(n or 0, self.count)
                step = self.count / count if count else 1
                chosen = sorted({int(k * step) + 1 for k in range(count)})
            else:
                chosen = sorted(set(ids))
                bad = [i for i in chosen if not 1 <= i <= self.count]
                if bad:
                    raise KeyError(f"{self.spec.name}: no record with id {bad[0]}")
            if not chosen:
                return []
            moved = set(chosen)
            top = self.max_mod_us
            keep = [i for i in self.by_mod if i not in moved]
            for k, rid in enumerate(chosen, start=1):
                self.rev[rid] += 1
                self.mod_us[rid] = top + k * _SECOND
            self.by_mod = array("q", keep + chosen)
            mod = self.mod_us
            self.by_mod_key = array("q", [mod[i] for i in self.by_mod])
            self.version += 1
            return chosen

    def patch(self, ids: Iterable[int], values: Mapping[str, Any]) -> list[int]:
        """Serve ``values`` in place of the computed fields of records ``ids`` (bad data, say).

        The records keep their revision and ``mod_ts``; returns the ids.
        """
        with self.lock:
            chosen = self._existing(ids)
            for rid in chosen:
                self.patches.setdefault(rid, {}).update(values)
            self.version += 1
            return chosen

    def _existing(self, ids: Iterable[int]) -> list[int]:
        """``ids`` sorted without repeats (lock held).

        Raises:
            KeyError: an id names no record.
        """
        chosen = sorted(set(ids))
        bad = [i for i in chosen if not 1 <= i <= self.count]
        if bad:
            raise KeyError(f"{self.spec.name}: no record with id {bad[0]}")
        return chosen

    def record(self, rid: int, ctx: RecordContext) -> dict[str, Any]:
        """The record with id ``rid`` as it is now."""
        made = self.spec.make(rid, self.rev[rid], self.mod_us[rid], self.create_us[rid], ctx)
        if self.patches and rid in self.patches:
            made = {**made, **self.patches[rid]}
        return made

    def retime(self, ids: Iterable[int], mod_us: int) -> list[int]:
        """Give records a new revision and exactly ``mod_us`` as ``mod_ts``; return their ids.

        For tests that need records on a given instant (several at once make
        ties), which ``modify`` never produces; ``mod_ts`` may move backwards here.
        """
        with self.lock:
            chosen = self._existing(ids)
            for rid in chosen:
                self.rev[rid] += 1
                self.mod_us[rid] = mod_us
            mod = self.mod_us
            self.by_mod = array("q", sorted(self.by_mod, key=lambda i: (mod[i], i)))
            self.by_mod_key = array("q", [mod[i] for i in self.by_mod])
            self.version += 1
            return chosen

    # ------------------------------------------------------------------ views
    def sort_key(self, ordering: str) -> Callable[[int], Any]:
        """The key that sorts ids in ``ordering`` (``id``, ``-id``, ``mod_ts``, ``mod_ts,id``, …).

        Several comma-separated fields sort by the first, then the next on
        ties. Ties left over are broken by id, so every key is unique (keyset
        cursors need that).
        """
        parts = [p.strip() for p in ordering.split(",") if p.strip()]
        if len(parts) > 1:
            keys = [self._field_key(p) for p in parts]
            return lambda i: (*(k(i) for k in keys), i)
        return self._field_key(ordering, tiebreak=True)

    def _field_key(self, ordering: str, *, tiebreak: bool = False) -> Callable[[int], Any]:
        desc = ordering.startswith("-")
        name = ordering.lstrip("-")
        if name == "id" or name in _CREATE_FIELDS:
            # create time grows with id, so it sorts like the id.
            return (lambda i: -i) if desc else (lambda i: i)
        if name in _TIME_FIELDS:
            mod = self.mod_us
            if not tiebreak:
                return (lambda i: -mod[i]) if desc else (lambda i: mod[i])
            return (lambda i: (-mod[i], -i)) if desc else (lambda i: (mod[i], i))
        raise ValueError(f"unsupported ordering {ordering!r}")

    def view(self, filters: Sequence[tuple[str, str, int | str]], ordering: str) -> Sequence[int]:
        """Ids matching ``filters`` (field, op, value), sorted by ``ordering``.

        Filters on the id (and create time, which grows with it) and on the
        modification time are answered by bisecting; anything else scans
        (a foreign key's ``code``, op ``"code"``).
        """
        with self.lock:
            first, _, rest = ordering.partition(",")
            name = first.strip().lstrip("-")
            desc = first.strip().startswith("-")
            id_lo, id_hi = 1, self.count
            time_filters = []
            code_filters: list[tuple[Callable[[int], str], Any]] = []
            for field, op, value in filters:
                if op == "code":
                    code_filters.append((self.spec.codes[field], value))
                    continue
                if not isinstance(value, int):
                    raise ValueError(f"filter {field}__{op} needs a number, got {value!r}")
                if field == "id":
                    id_lo, id_hi = _narrow(id_lo, id_hi, op, value)
                elif field in _CREATE_FIELDS:
                    lo = bisect_left(self.create_us, value, 1, self.count + 1)
                    hi = bisect_right(self.create_us, value, 1, self.count + 1)
                    id_lo, id_hi = _narrow_by_index(id_lo, id_hi, op, lo, hi)
                elif field in _TIME_FIELDS:
                    time_filters.append((op, value))
                else:
                    raise ValueError(f"unsupported filter on {field!r}")
            if name in _TIME_FIELDS:
                keys = self.by_mod_key
                lo, hi = 0, len(keys)
                for op, value in time_filters:
                    lo, hi = _narrow_sorted(keys, lo, hi, op, value)
                ids: Sequence[int] = self.by_mod[lo:hi]
                if id_lo > 1 or id_hi < self.count:
                    ids = [i for i in ids if id_lo <= i <= id_hi]
            else:
                ids = range(id_lo, id_hi + 1) if id_hi >= id_lo else range(0)
                if time_filters:
                    mod = self.mod_us
                    checks = [_compare(op, value) for op, value in time_filters]
                    ids = [i for i in ids if all(c(mod[i]) for c in checks)]
            if code_filters:
                ids = [i for i in ids if all(code(i) == want for code, want in code_filters)]
            if desc:
                ids = ids[::-1]
            if rest.strip() and rest.strip() not in ("id", "create_ts", "created_at"):
                # Ties ordered otherwise than by id: sort by the whole key.
                ids = sorted(ids, key=self.sort_key(ordering))
            return ids


def _compare(op: str, value: int) -> Callable[[int], bool]:
    if op == "gte":
        return lambda v: v >= value
    if op == "gt":
        return lambda v: v > value
    if op == "lte":
        return lambda v: v <= value
    if op == "lt":
        return lambda v: v < value
    return lambda v: v == value


def _narrow(lo: int, hi: int, op: str, value: int) -> tuple[int, int]:
    if op == "gte":
        return max(lo, value), hi
    if op == "gt":
        return max(lo, value + 1), hi
    if op == "lte":
        return lo, min(hi, value)
    if op == "lt":
        return lo, min(hi, value - 1)
    return max(lo, value), min(hi, value)


def _narrow_by_index(lo: int, hi: int, op: str, left: int, right: int) -> tuple[int, int]:
    """Narrow an id range with bisect positions ``left``/``right`` of a value in create time."""
    if op == "gte":
        return max(lo, left), hi
    if op == "gt":
        return max(lo, right), hi
    if op == "lte":
        return lo, min(hi, right - 1)
    if op == "lt":
        return lo, min(hi, left - 1)
    return max(lo, left), min(hi, right - 1)


def _narrow_sorted(keys: Sequence[int], lo: int, hi: int, op: str, value: int) -> tuple[int, int]:
    if op == "gte":
        return max(lo, bisect_left(keys, value, lo, hi)), hi
    if op == "gt":
        return max(lo, bisect_right(keys, value, lo, hi)), hi
    if op == "lte":
        return lo, min(hi, bisect_right(keys, value, lo, hi))
    if op == "lt":
        return lo, min(hi, bisect_left(keys, value, lo, hi))
    return max(lo, bisect_left(keys, value, lo, hi)), min(hi, bisect_right(keys, value, lo, hi))
