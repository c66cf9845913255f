"""One connector per database: Oracle, PostgreSQL and SQLite.

The dialect modules are imported on first use: a run loads only its own
database's connector (SQLAlchemy's Oracle dialect alone costs ~65 ms of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from target_flext_oracle.connector import FlextConnector
    from target_flext_oracle.dialects.oracle import OracleConnector, oracle_dialect
    from target_flext_oracle.dialects.postgres import PostgresConnector
    from target_flext_oracle.dialects.sqlite import SqliteConnector

#: (module, connector class) per database family.
_CONNECTORS: dict[str, tuple[str, str]] = {
    "oracle": ("target_flext_oracle.dialects.oracle", "OracleConnector"),
    "postgresql": ("target_flext_oracle.dialects.postgres", "PostgresConnector"),
    "sqlite": ("target_flext_oracle.dialects.sqlite", "SqliteConnector"),
}
_NAMES: dict[str, str] = {
    "OracleConnector": "target_flext_oracle.dialects.oracle",
    "oracle_dialect": "target_flext_oracle.dialects.oracle",
    "PostgresConnector": "target_flext_oracle.dialects.postgres",
    "SqliteConnector": "target_flext_oracle.dialects.sqlite",
}


def connector_for_family(family: str) -> type[FlextConnector]:
    """The connector class for a database family, importing only its module.

    Raises:
        KeyError: no connector for ``family``.
    """
    module, name = _CONNECTORS[family]
    cls: type[FlextConnector] = getattr(importlib.import_module(module), name)
    return cls


def __getattr__(name: str) -> Any:
    if name == "DIALECTS":
        return {family: connector_for_family(family) for family in _CONNECTORS}
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DIALECTS",
    "OracleConnector",
    "PostgresConnector",
    "SqliteConnector",
    "connector_for_family",
    "oracle_dialect",
]
