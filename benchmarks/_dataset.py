"""The target benchmark's workload: a deterministic Singer file with 16 mixed-type fields.

Every value is a pure function of the record id (a small integer hash, no global
random state), so two runs with the same size write byte-identical files and the
benchmark can reuse a file it generated earlier.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

#: Bump when the record layout changes so cached files are regenerated.
DATASET_VERSION = 1
STREAM = "bench_items"
KEY_PROPERTIES = ("id",)

_NULLABLE = ("null",)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer"]},
        "sku": {"type": ["string"]},
        "name": {"type": ["string", *_NULLABLE]},
        "city": {"type": ["string", *_NULLABLE]},
        "price": {"type": ["number", *_NULLABLE]},
        "weight_kg": {"type": ["number", *_NULLABLE]},
        "quantity": {"type": ["integer", *_NULLABLE]},
        "active": {"type": ["boolean"]},
        "is_gift": {"type": ["boolean", *_NULLABLE]},
        "created_at": {"type": ["string"], "format": "date-time"},
        "updated_at": {"type": ["string", *_NULLABLE], "format": "date-time"},
        "ship_date": {"type": ["string", *_NULLABLE], "format": "date"},
        "discount": {"type": ["number", *_NULLABLE]},
        "notes": {"type": ["string", *_NULLABLE]},
        "attributes": {
            "type": ["object", *_NULLABLE],
            "properties": {
                "color": {"type": ["string", *_NULLABLE]},
                "size": {"type": ["integer", *_NULLABLE]},
                "fragile": {"type": ["boolean", *_NULLABLE]},
            },
        },
        "tags": {"type": ["array", *_NULLABLE], "items": {"type": ["string"]}},
    },
    "required": ["id", "sku", "active", "created_at"],
}
FIELD_NAMES: tuple[str, ...] = tuple(SCHEMA["properties"])

_BASE_TS = datetime(2024, 1, 1, tzinfo=UTC)
_BASE_DATE = date(2024, 1, 1)
# Non-ASCII on purpose: Latin diacritics, CJK, Cyrillic, and an astral-plane emoji
# (4 bytes in UTF-8) exercise the targets' encoding and string-length paths.
_CITIES = ("Lisboa", "São Paulo", "Zürich", "Kraków", "東京", "Москва", "Reykjavík", "Åre 🌲")
_NAMES = ("widget", "gadget", "doohickey", "thingamajig", "gizmo", "contraption")
_COLORS = ("red", "green", "blue", "čierna", None)
_TAGS = ("new", "sale", "eco", "bulk", "import", "fragile", "größe-xl")


def _mix(value: int, salt: int) -> int:
    """A cheap deterministic 32-bit hash of ``value`` (same result on every run and platform)."""
    x = (value * 0x9E3779B1 + salt * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    x = (x * 0x297A2D39) & 0xFFFFFFFF
    return x ^ (x >> 15)


def make_record(record_id: int) -> dict[str, Any]:
    """The benchmark record with this id: 16 fields, the same on every call.

    Nulls, zeros, ``False`` and empty strings all occur, so a target that confuses
    them shows up in the loaded data.
    """
    h = _mix(record_id, 1)
    g = _mix(record_id, 2)
    created = _BASE_TS + timedelta(seconds=record_id * 7, microseconds=h % 1_000_000)
    tag_count = g % 4
    return {
        "id": record_id,
        "sku": f"SKU-{record_id:09d}",
        "name": None if record_id % 17 == 0 else f"{_NAMES[h % len(_NAMES)]} {record_id}",
        "city": (
            ""
            if record_id % 13 == 0
            else None
            if record_id % 23 == 0
            else _CITIES[(h >> 3) % len(_CITIES)]
        ),
        "price": (h % 10_000_000) / 100,
        "weight_kg": None if record_id % 11 == 0 else (g % 1_000_000) / 1000,
        "quantity": 0 if record_id % 9 == 0 else (h >> 5) % 5000,
        "active": record_id % 3 != 0,
        "is_gift": None if record_id % 5 == 0 else (g >> 4) % 2 == 1,
        "created_at": created.isoformat(timespec="microseconds"),
        "updated_at": (
            None
            if record_id % 7 == 0
            else (created + timedelta(hours=(g >> 6) % 5000)).isoformat(timespec="seconds")
        ),
        "ship_date": None
        if record_id % 4 == 0
        else (_BASE_DATE + timedelta(days=g % 900)).isoformat(),
        "discount": None if record_id % 2 else ((h >> 7) % 5000) / 100,
        "notes": None,
        "attributes": (
            None
            if record_id % 19 == 0
            else {
                "color": _COLORS[(g >> 9) % len(_COLORS)],
                "size": (g >> 11) % 50,
                "fragile": (h >> 13) % 4 == 0,
            }
        ),
        "tags": [_TAGS[(g >> (2 * i)) % len(_TAGS)] for i in range(tag_count)],
    }


def iter_messages(n_records: int) -> Iterator[dict[str, Any]]:
    """SCHEMA, then ``n_records`` RECORD messages (ids 1..n), then one final STATE."""
    yield {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": SCHEMA,
        "key_properties": list(KEY_PROPERTIES),
    }
    for record_id in range(1, n_records + 1):
        yield {"type": "RECORD", "stream": STREAM, "record": make_record(record_id)}
    yield {"type": "STATE", "value": {"bookmarks": {STREAM: {"last_id": n_records}}}}


def write_singer_file(path: Path, n_records: int) -> Path:
    """Write the dataset to ``path`` atomically (a partial file never has the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    buffer = bytearray()
    with tmp.open("wb") as out:
        for message in iter_messages(n_records):
            encoder.encode_into(message, buffer, -1)
            buffer.extend(b"\n")
            if len(buffer) >= 1 << 20:
                out.write(buffer)
                buffer.clear()
        out.write(buffer)
    tmp.replace(path)
    return path


def dataset_path(directory: Path, n_records: int) -> Path:
    """Where the dataset of this size lives; the name changes with the layout version."""
    return directory / f"{STREAM}-v{DATASET_VERSION}-{n_records}.singer"


def ensure_dataset(directory: Path, n_records: int) -> Path:
    """The dataset file of this size, generated only if it is not already there."""
    path = dataset_path(directory, n_records)
    if not path.exists():
        write_singer_file(path, n_records)
    return path


def file_digest(path: Path) -> str:
    """SHA-256 of a file, for checking that generation is deterministic."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
