"""One connector per database: Oracle, PostgreSQL and SQLite, and the one registry that picks it.

The dialect modules are imported on first use: a run loads only its own
database's connector (SQLAlchemy's Oracle dialect is the largest import of a run).
The base class (``connector.FlextConnector``) knows nothing of its subclasses,
so the dependency points one way: dialects -> connector.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from target_flext_oracle._errors import TargetConfigError
from target_flext_oracle._settings import TargetSettings

if TYPE_CHECKING:
    from target_flext_oracle.connector import FlextConnector
    from target_flext_oracle.dialects.oracle import OracleConnector, oracle_dialect
    from target_flext_oracle.dialects.postgres import PostgresConnector
    from target_flext_oracle.dialects.sqlite import SqliteConnector

#: database family -> (module, connector class, other public names of that module).
_REGISTRY: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "oracle": ("target_flext_oracle.dialects.oracle", "OracleConnector", ("oracle_dialect",)),
    "postgresql": ("target_flext_oracle.dialects.postgres", "PostgresConnector", ()),
    "sqlite": ("target_flext_oracle.dialects.sqlite", "SqliteConnector", ()),
}
#: public name -> the module defining it (derived from the registry).
_MODULE_OF: dict[str, str] = {
    name: module for module, cls, extra in _REGISTRY.values() for name in (cls, *extra)
}


def connector_for_family(family: str) -> type[FlextConnector]:
    """The connector class for a database family, importing only its module.

    Raises:
        TargetConfigError: no connector for ``family``.
    """
    try:
        module, name, _ = _REGISTRY[family]
    except KeyError:
        raise TargetConfigError(f"no connector for {family!r}") from None
    cls: type[FlextConnector] = getattr(importlib.import_module(module), name)
    return cls


def connector_class_for(config: Mapping[str, Any]) -> type[FlextConnector]:
    """The connector class for the configured database.

    Raises:
        TargetConfigError: the URL names a database this target does not load.
    """
    return connector_for_family(TargetSettings.from_config(config).connection.family)


def __getattr__(name: str) -> Any:
    if name == "DIALECTS":
        return {family: connector_for_family(family) for family in _REGISTRY}
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DIALECTS",
    "OracleConnector",
    "PostgresConnector",
    "SqliteConnector",
    "connector_class_for",
    "connector_for_family",
    "oracle_dialect",
]
