"""target-flext-oracle: a Singer SQL target for Oracle, PostgreSQL and SQLite.

Run it as ``target-flext-oracle --config config.json < messages.singer``; the
class is :class:`TargetFlextOracle`. Each database has its connector class
(``OracleConnector``, ``PostgresConnector``, ``SqliteConnector``) built on
:class:`FlextConnector`.
"""

from target_flext_oracle._errors import (
    BatchLoadError,
    InputLineError,
    NameCollisionError,
    SchemaChangeError,
    TargetConfigError,
    TargetError,
)
from target_flext_oracle._names import IdentifierPolicy
from target_flext_oracle._rejects import RejectSink
from target_flext_oracle._settings import LoadMethod, SchemaChangePolicy, TargetSettings
from target_flext_oracle._types import Kind, LogicalType
from target_flext_oracle.connector import FlextConnector, TableRef
from target_flext_oracle.dialects import (
    OracleConnector,
    PostgresConnector,
    SqliteConnector,
    oracle_dialect,
)
from target_flext_oracle.sinks import FlextSink
from target_flext_oracle.target import TargetFlextOracle

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
