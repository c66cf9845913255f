"""JSON Schema inference from sampled records.

Used when a stream gives no schema: the tap reads a few pages through the real
HTTP client and infers one. Every inferred property is nullable, because a
sample cannot prove a field is never null; ISO 8601 strings get the
``date-time`` or ``date`` format so targets type them as timestamps.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


class _Node:
    """What was seen at one position: JSON types, string formats, children."""

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.formats: set[str | None] = set()
        self.properties: dict[str, _Node] = {}
        self.items: _Node | None = None

    def add(self, value: Any) -> None:
        if value is None:
            self.types.add("null")
        elif isinstance(value, bool):
            self.types.add("boolean")
        elif isinstance(value, int):
            self.types.add("integer")
        elif isinstance(value, float | decimal.Decimal):
            self.types.add("number")
        elif isinstance(value, str):
            self.types.add("string")
            if _DATETIME.match(value):
                self.formats.add("date-time")
            elif _DATE.match(value):
                self.formats.add("date")
            else:
                self.formats.add(None)
        elif isinstance(value, dict):
            self.types.add("object")
            for key, item in value.items():
                self.properties.setdefault(key, _Node()).add(item)
        elif isinstance(value, list):
            self.types.add("array")
            if self.items is None:
                self.items = _Node()
            for item in value:
                self.items.add(item)
        else:
            self.types.add("string")
            self.formats.add(None)

    def schema(self) -> dict[str, Any]:
        types = set(self.types)
        if {"integer", "number"} <= types:
            types.discard("integer")
        types.add("null")
        ordered = [*sorted(types - {"null"}), "null"]
        out: dict[str, Any] = {"type": ordered}
        if "string" in types and len(self.formats) == 1:
            (fmt,) = self.formats
            if fmt is not None:
                out["format"] = fmt
        if "object" in types:
            out["properties"] = {k: v.schema() for k, v in self.properties.items()}
        if "array" in types:
            out["items"] = self.items.schema() if self.items and self.items.types else {}
        return out


def infer_schema(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A JSON Schema covering every record in ``records``.

    Raises:
        ValueError: no record was sampled (nothing to infer from).
    """
    root = _Node()
    seen = 0
    for record in records:
        root.add(record)
        seen += 1
    if not seen:
        raise ValueError("no records to infer a schema from")
    schema = root.schema()
    return {"type": "object", "properties": schema.get("properties", {})}
