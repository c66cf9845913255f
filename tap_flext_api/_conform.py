"""Root-level type conformance for records decoded from JSON, compiled once per schema.

The SDK's ``conform_record_data_types`` walks every field of every record and
tests it for datetimes, bytes, timedeltas, NaN and booleans: most of the
tap's time on an untrusted schema. A record the tap decoded from JSON (msgspec,
numbers as ``Decimal``) can only hold str, int, Decimal, bool, None, list and
dict, and msgspec refuses NaN and Infinity, so at ``ROOT_ONLY`` level the
SDK's result reduces to:

- properties missing from the schema are dropped (unless
  ``additionalProperties``), with the SDK's own one-time warning;
- a property whose schema is exclusively boolean becomes ``value != 0``
  (``None`` and numbers with a fraction part, ``Decimal``, stay as they are,
  as in the SDK).

:class:`JsonConformer` does exactly that, with the field lists worked out once.
A property test checks it against the SDK function.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import msgspec
from singer_sdk.helpers._typing import _is_exclusive_boolean_type, _warn_unmapped_properties

__all__ = ["JsonConformer", "record_shape"]


def record_shape(
    schema: dict[str, Any], replication_key: str | None
) -> tuple[Any, str | None] | None:
    """A msgspec struct accepting only records ``ROOT_ONLY`` conformance leaves unchanged.

    One field per schema property: true/false/null only for exclusively
    boolean properties (conformance rewrites anything else there), the
    replication key decoded (the bookmark needs its value), every other value
    kept as its JSON text (``msgspec.Raw``). Absent properties stay absent
    (``UNSET``, omitted again on encoding). Unknown properties fail it unless
    the schema allows ``additionalProperties``. Returns the struct and the
    attribute holding the replication key (``None`` if the schema lacks it),
    or ``None`` when the schema cannot be expressed.
    """
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    key_attr: str | None = None
    for index, (name, prop) in enumerate(schema.get("properties", {}).items()):
        attr = f"f{index}"
        kind: Any = msgspec.Raw | msgspec.UnsetType
        if _is_exclusive_boolean_type(prop):
            kind = bool | None | msgspec.UnsetType
        elif name == replication_key:
            kind, key_attr = Any, attr
        fields.append((attr, kind, msgspec.UNSET))
        rename[attr] = name
    try:
        shape: Any = msgspec.defstruct(
            "RecordShape",
            fields,
            rename=rename,
            forbid_unknown_fields=not schema.get("additionalProperties"),
            # Cycles are impossible in decoded JSON; untracked structs keep the
            # collector quiet and the heap flat.
            gc=False,
        )
        msgspec.json.Decoder(shape)  # rejects a struct it cannot decode
    except (TypeError, ValueError):
        return None
    return shape, key_attr


class JsonConformer:
    """Conform JSON-decoded records to a schema, as the SDK's ``ROOT_ONLY`` level would.

    Args:
        stream: The stream name (for the unmapped-properties warning).
        schema: The stream's JSON Schema.
        logger: Where the warning goes.
    """

    def __init__(self, stream: str, schema: dict[str, Any], logger: logging.Logger) -> None:
        properties: dict[str, Any] = schema.get("properties", {})
        self.stream = stream
        self.logger = logger
        self.known = frozenset(properties)
        self.keep_extra = bool(schema.get("additionalProperties"))
        self.booleans = tuple(
            name for name, prop in properties.items() if _is_exclusive_boolean_type(prop)
        )

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """Conform ``record`` in place and return it."""
        if not self.keep_extra and not self.known.issuperset(record):
            unmapped = [k for k in record if k not in self.known]
            for key in unmapped:
                del record[key]
            _warn_unmapped_properties(self.stream, tuple(unmapped), self.logger)
        for name in self.booleans:
            if name in record:
                value = record[name]
                if value is not None and not isinstance(value, Decimal | float):
                    record[name] = value != 0
        return record
