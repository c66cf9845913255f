"""A stream's columnar layout: the msgspec struct its RECORD lines decode into, field by field.

Integers and booleans decode to Python values (msgspec refuses anything else,
and a refused batch falls back to the per-record path). Every other field
decodes to ``msgspec.Raw``: its exact JSON text, sliced from the line without
building a Python object per value, which Arrow then checks and converts as a
column (numbers parsed as decimals, strings unquoted, JSON kept as text).

A missing field decodes to :data:`RAW_MISSING` (or ``UNSET`` for integer and
boolean keys), so a missing key (a run error) is told apart from a null one (a
reject).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from target_flext_oracle._converters import make_converter
from target_flext_oracle._logical import Form, Kind, LogicalType

if TYPE_CHECKING:
    from target_flext_oracle._plan import TablePlan
    from target_flext_oracle.connector import FlextConnector

#: Default of a Raw field whose key is absent (a JSON value is never empty).
RAW_MISSING = msgspec.Raw(b"")

_TYPED: dict[Kind, Any] = {Kind.INTEGER: int, Kind.BOOLEAN: bool}


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
        """Decoded as ``msgspec.Raw`` (all but integers and booleans)."""
        return self.kind not in _TYPED


def column_specs(plan: TablePlan, connector: FlextConnector, *, strict: bool) -> list[ColumnSpec]:
    """The columnar specs of a planned table, with the per-record converters of its dialect."""
    specs = []
    for fp in plan.fields:
        source = fp.source
        specs.append(
            ColumnSpec(
                field=fp.field,
                column=fp.column,
                logical=source,
                form=connector.columnar_form(source.kind),
                required=strict and not fp.nullable,
                max_length=source.length if strict and source.kind is Kind.STRING else None,
                convert=make_converter(
                    fp.field, source, fp.target, strict=strict, finish=connector.adapter(fp.target)
                ),
                parse=make_converter(fp.field, source, source, strict=strict),
            )
        )
    return specs


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
