"""target-flext-oracle: a Singer SQL target for Oracle, PostgreSQL and SQLite.

Run it as ``target-flext-oracle --config config.json < messages.singer``; the
class is :class:`TargetFlextOracle`. Each database has its connector class
(``OracleConnector``, ``PostgresConnector``, ``SqliteConnector``) built on
:class:`FlextConnector`.
"""

import importlib as _importlib
import typing as _typing

from target_flext_oracle._errors import (
    BatchLoadError,
    InputLineError,
    NameCollisionError,
    SchemaChangeError,
    TargetConfigError,
    TargetError,
)
from target_flext_oracle._logical import Kind, LogicalType
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._plan import TableRef
from target_flext_oracle._rejects import RejectSink
from target_flext_oracle._settings import LoadMethod, SchemaChangePolicy, TargetSettings
from target_flext_oracle.connector import FlextConnector
from target_flext_oracle.sinks import FlextSink
from target_flext_oracle.target import TargetFlextOracle

if _typing.TYPE_CHECKING:
    from target_flext_oracle.dialects import (
        OracleConnector,
        PostgresConnector,
        SqliteConnector,
        oracle_dialect,
    )

# The connectors are imported on first use, so a run imports only its own
# database's dialect (SQLAlchemy's Oracle dialect is the largest import of a run).
_LAZY = frozenset({"OracleConnector", "PostgresConnector", "SqliteConnector", "oracle_dialect"})


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        return getattr(_importlib.import_module("target_flext_oracle.dialects"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BatchLoadError",
    "FlextConnector",
    "FlextSink",
    "IdentifierPolicy",
    "InputLineError",
    "Kind",
    "LoadMethod",
    "LogicalType",
    "NameCollisionError",
    "OracleConnector",
    "PostgresConnector",
    "RejectSink",
    "SchemaChangeError",
    "SchemaChangePolicy",
    "SqliteConnector",
    "TableRef",
    "TargetConfigError",
    "TargetError",
    "TargetFlextOracle",
    "TargetSettings",
    "oracle_dialect",
]
