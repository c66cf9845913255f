"""Schema time: the logical column types every dialect maps, and how a stream's types evolve.

A JSON-schema property becomes a :class:`LogicalType` when a SCHEMA message
arrives; each dialect then turns the logical type into its SQL type
(``dialects/``), and :func:`compare` decides what an existing column must do to
hold a stream's (possibly changed) type. Nothing here runs per record: the
record-time converters live in :mod:`target_flext_oracle._converters`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


#: How a dialect wants a column on the columnar path: Arrow's native type, or
#: the exact text the per-record path would bind (SQLite stores ISO text and
#: decimal text).
Form = Literal["native", "text"]


class Kind(enum.StrEnum):
    """The logical column kinds every dialect maps."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    TIME = "time"
    JSON = "json"


@dataclass(frozen=True)
class LogicalType:
    """A column's logical type.

    Attributes:
        kind: The kind.
        length: For strings, the longest value in characters (None = unbounded).
        big: For integers, values may exceed 64 bits.
    """

    kind: Kind
    length: int | None = None
    big: bool = False

    def __str__(self) -> str:
        if self.kind is Kind.STRING:
            return f"string({self.length})" if self.length else "string(unbounded)"
        if self.kind is Kind.INTEGER and self.big:
            return "integer(big)"
        return self.kind.value


class Change(enum.Enum):
    """What an incoming type means for an existing column."""

    KEEP = "keep"  # the incoming values fit the column as it is
    WIDEN = "widen"  # the column must be widened (compatible)
    INCOMPATIBLE = "incompatible"  # the configured schema-change policy decides


def compare(existing: LogicalType, incoming: LogicalType) -> tuple[Change, LogicalType]:
    """Decide how ``existing`` must change to hold ``incoming`` values.

    Returns:
        The change and the column type to use afterwards.
    """
    ek, ik = existing.kind, incoming.kind
    if ek is Kind.STRING:
        if ik is Kind.STRING:
            if existing.length is None:
                return Change.KEEP, existing
            if incoming.length is None or incoming.length > existing.length:
                return Change.WIDEN, LogicalType(Kind.STRING, incoming.length)
            return Change.KEEP, existing
        # Non-string values are written as their text form into a string column.
        return Change.KEEP, existing
    if ek is ik:
        if ek is Kind.INTEGER and incoming.big and not existing.big:
            return Change.WIDEN, incoming
        return Change.KEEP, existing
    if ek is Kind.NUMBER and ik is Kind.INTEGER:
        return Change.KEEP, existing
    if ek is Kind.INTEGER and ik is Kind.NUMBER:
        return Change.WIDEN, LogicalType(Kind.NUMBER)
    if ek is Kind.TIMESTAMP and ik is Kind.DATE:
        return Change.KEEP, existing
    return Change.INCOMPATIBLE, existing


def from_jsonschema(prop: dict[str, Any]) -> tuple[LogicalType, bool]:
    """The logical type of one JSON-schema property, and whether it allows null."""
    types, nullable, fmt = _types_of(prop)
    if not types:
        return LogicalType(Kind.JSON), True
    if types & {"object", "array"}:
        return LogicalType(Kind.JSON), nullable
    if len(types) > 1:
        if types <= {"integer", "number"}:
            return LogicalType(Kind.NUMBER), nullable
        return LogicalType(Kind.STRING, None), nullable
    (only,) = types
    if only == "string":
        if fmt == "date-time":
            return LogicalType(Kind.TIMESTAMP), nullable
        if fmt == "date":
            return LogicalType(Kind.DATE), nullable
        if fmt == "time":
            return LogicalType(Kind.TIME), nullable
        if fmt in {"x-singer.decimal", "singer.decimal"}:
            return LogicalType(Kind.NUMBER), nullable
        length = prop.get("maxLength")
        return LogicalType(Kind.STRING, int(length) if length else None), nullable
    if only == "integer":
        big = any(
            isinstance(prop.get(b), int | float) and not _INT64_MIN <= prop[b] <= _INT64_MAX
            for b in ("minimum", "maximum")
        )
        return LogicalType(Kind.INTEGER, big=big), nullable
    if only == "number":
        return LogicalType(Kind.NUMBER), nullable
    if only == "boolean":
        return LogicalType(Kind.BOOLEAN), nullable
    return LogicalType(Kind.STRING, None), nullable


def _types_of(prop: dict[str, Any]) -> tuple[set[str], bool, str | None]:
    fmt: str | None = prop.get("format")
    nullable = False
    found: set[str] = set()
    raw = prop.get("type")
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list):
        for t in raw:
            if t == "null":
                nullable = True
            else:
                found.add(str(t))
    elif raw is None:
        nullable = True
    for key in ("anyOf", "oneOf"):
        for sub in prop.get(key, []) or []:
            sub_types, sub_null, sub_fmt = _types_of(sub)
            found |= sub_types
            nullable = nullable or sub_null
            fmt = fmt or sub_fmt
    return found, nullable, fmt
