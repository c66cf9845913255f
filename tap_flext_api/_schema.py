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


_KINDS: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    decimal.Decimal: "number",
    str: "string",
    dict: "object",
    list: "array",
}


def _kind_of(value: Any) -> str:
    """The JSON type of a value whose exact type is not in ``_KINDS``."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | decimal.Decimal):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"  # str subclasses and anything else (stored as text)


class _Node:
    """What was seen at one position: JSON types, string formats, children."""

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.formats: set[str | None] = set()
        self.properties: dict[str, _Node] = {}
        self.items: _Node | None = None

    def add(self, value: Any) -> None:
        kind = _KINDS.get(type(value))
        if kind is None:  # subclasses and anything unexpected
            kind = _kind_of(value)
        self.types.add(kind)
        if kind == "string":
            formats = self.formats
            # Only a single format survives into the schema: once a plain string
            # or two different formats were seen, further checks cannot matter.
            if len(formats) > 1 or None in formats or not isinstance(value, str):
                formats.add(None)
            elif _DATETIME.match(value):
                formats.add("date-time")
            elif _DATE.match(value):
                formats.add("date")
            else:
                formats.add(None)
        elif kind == "object":
            properties = self.properties
            for key, item in value.items():
                node = properties.get(key)
                if node is None:
                    node = properties[key] = _Node()
                node.add(item)
        elif kind == "array":
            if self.items is None:
                self.items = _Node()
            add = self.items.add
            for item in value:
                add(item)

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
