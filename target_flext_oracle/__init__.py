"""target-flext-oracle: a Singer SQL target for Oracle, PostgreSQL and SQLite.

Run it as ``target-flext-oracle --config config.json < messages.singer``; the
class is :class:`TargetFlextOracle`. Each database has its connector class
(``OracleConnector``, ``PostgresConnector``, ``SqliteConnector``) built on
:class:`FlextConnector`.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
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
    from target_flext_oracle.dialects import (
        OracleConnector,
        PostgresConnector,
        SqliteConnector,
        oracle_dialect,
    )
    from target_flext_oracle.sinks import FlextSink
    from target_flext_oracle.target import TargetFlextOracle

# Every name is imported on first use: the console script (``_cli``) imports the
# target with the collector paused, and a run imports only its own database's
# dialect (SQLAlchemy's Oracle dialect is the largest import of a run).
_LAZY = {
    "BatchLoadError": "_errors",
    "InputLineError": "_errors",
    "NameCollisionError": "_errors",
    "SchemaChangeError": "_errors",
    "TargetConfigError": "_errors",
    "TargetError": "_errors",
    "Kind": "_logical",
    "LogicalType": "_logical",
    "IdentifierPolicy": "_names",
    "TableRef": "_plan",
    "RejectSink": "_rejects",
    "LoadMethod": "_settings",
    "SchemaChangePolicy": "_settings",
    "TargetSettings": "_settings",
    "FlextConnector": "connector",
    "OracleConnector": "dialects",
    "PostgresConnector": "dialects",
    "SqliteConnector": "dialects",
    "oracle_dialect": "dialects",
    "FlextSink": "sinks",
    "TargetFlextOracle": "target",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is not None:
        return getattr(_importlib.import_module(f"target_flext_oracle.{module}"), name)
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
