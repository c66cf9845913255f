"""The columnar load path: RECORD lines decoded into checked Arrow columns, per stream and batch.

``pyarrow`` is imported with this package's ``_decode`` module, on the first
columnar batch, never at start-up. See ``docs/ARCHITECTURE.md`` for how a batch
flows: raw lines -> msgspec structs -> Arrow arrays -> vectorised checks (a
reason per rejected row) -> the dialect's bulk path; a refused batch goes
through the per-record path instead.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from target_flext_oracle.columnar._layout import ColumnSpec, column_specs, supports

if TYPE_CHECKING:
    from target_flext_oracle.columnar._decode import DecodedBatch, Refused, StreamDecoder

_LAZY = frozenset({"DecodedBatch", "Refused", "StreamDecoder"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("target_flext_oracle.columnar._decode"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ColumnSpec",
    "DecodedBatch",
    "Refused",
    "StreamDecoder",
    "column_specs",
    "supports",
]
