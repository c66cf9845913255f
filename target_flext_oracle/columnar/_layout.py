"""A stream's columnar layout: the msgspec struct its RECORD lines decode into, field by field.

Each field gets the narrowest msgspec type that still lets the per-record
converters have the last word:

* integers, booleans and strings decode to Python values (msgspec refuses
  anything else, and a refused batch falls back to the per-record path);
* numbers and JSON values decode to ``msgspec.Raw``, their exact text, which
  Arrow then parses (decimals) or keeps (JSON) without a Python object per value;
* date-times, dates and times decode to ``str`` and are checked as columns.

Key fields default to ``UNSET`` so a missing key (a run error) is told apart
from a null one (a reject).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from target_flext_oracle._logical import Kind, LogicalType

#: Default of a Raw field whose key is absent (a JSON value is never empty).
RAW_MISSING = msgspec.Raw(b"")

#: How a dialect wants a column: Arrow's native type, or the exact text the
#: per-record path would bind (SQLite stores ISO text and decimal text).
Form = Literal["native", "text"]

_TYPED: dict[Kind, Any] = {
    Kind.INTEGER: int,
    Kind.BOOLEAN: bool,
    Kind.STRING: str,
    Kind.TIMESTAMP: str,
    Kind.DATE: str,
    Kind.TIME: str,
}


@dataclass(frozen=True)
class ColumnSpec:
    """One field of the stream as the columnar path loads it."""

    field: str
    column: str
    logical: LogicalType
    form: Form
    #: Missing or null rejects the record ("required field is missing or null").
    required: bool
    #: maxLength checked (strict mode), else None.
    max_length: int | None
    #: The per-record converter (with the dialect's finishing step): the reference
    #: for every value the column checks cannot settle.
    convert: Callable[[Any], Any]
    #: The same converter without the finishing step (native columns re-parse its text).
    parse: Callable[[Any], Any]

    @property
    def kind(self) -> Kind:
        return self.logical.kind

    @property
    def raw(self) -> bool:
        """Decoded as ``msgspec.Raw`` (numbers and JSON values)."""
        return self.kind in {Kind.NUMBER, Kind.JSON}


def supports(logical: LogicalType, column: LogicalType) -> bool:
    """True when the columnar path loads this field as the per-record path would.

    The stream's type and the column's must be the same kind (an integer stream
    into a number column is the one widening it handles); text columns holding
    another kind, and integers beyond 64 bits, stay on the per-record path.
    """
    if logical.kind is Kind.INTEGER and logical.big:
        return False
    if logical.kind is column.kind:
        return True
    return logical.kind is Kind.INTEGER and column.kind is Kind.NUMBER


def record_struct(
    specs: Sequence[ColumnSpec], keys: Iterable[str], ignored: Iterable[str] = ()
) -> type[msgspec.Struct]:
    """The struct one record decodes into; unknown fields are refused.

    Args:
        specs: The stream's fields.
        keys: Key fields (missing is told apart from null).
        ignored: Fields not in the schema that were already reported; decoded as
            Raw and dropped, so they no longer refuse a batch.
    """
    key_set = set(keys)
    fields: list[tuple[str, Any, Any]] = []
    for i, spec in enumerate(specs):
        name = msgspec.field(name=spec.field, default=_default(spec, spec.field in key_set))
        if spec.raw:
            fields.append((f"f{i}", msgspec.Raw, name))
        elif spec.field in key_set:
            fields.append((f"f{i}", _TYPED[spec.kind] | None | msgspec.UnsetType, name))
        else:
            fields.append((f"f{i}", _TYPED[spec.kind] | None, name))
    for j, extra in enumerate(ignored):
        fields.append((f"x{j}", msgspec.Raw, msgspec.field(name=extra, default=RAW_MISSING)))
    return msgspec.defstruct("Record", fields, forbid_unknown_fields=True, gc=False)


def line_struct(record: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """A RECORD message: its ``record``; ``type``, ``stream`` and the rest are skipped."""
    return msgspec.defstruct("RecordLine", [("record", record)], gc=False)


def _default(spec: ColumnSpec, key: bool) -> Any:
    if spec.raw:
        return RAW_MISSING
    return msgspec.UNSET if key else None
