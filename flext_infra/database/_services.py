"""Database services per environment: ``oracle_manager``, ``connection_pool``, ``database``.

| Environment         | ``database`` is                                                   |
|---------------------|-------------------------------------------------------------------|
| staging, production | ``oracle_manager`` itself (Oracle must be configured)             |
| development         | ``oracle_manager`` if configured, else ``FLEXT_DATABASE_URL``,    |
|                     | else SQLite ``<data_dir>/flext.db``; the choice is logged         |
| test                | PostgreSQL at ``FLEXT_TEST_POSTGRES_URL`` if set, else SQLite in  |
|                     | the temporary ``data_dir``                                        |

When Oracle backs ``database``, ``database`` *is* the ``oracle_manager``
instance (same interface), not a second pool, and only ``oracle_manager``'s
cleanup closes it. The container creates ``oracle_manager`` before
``database`` and everything that depends on either, so it is disposed after
all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flext_infra._environment import Environment
from flext_infra.container._container import Resolver
from flext_infra.database._errors import DatabaseConfigurationError
from flext_infra.database._factory import AnyManager, sqlite_url
from flext_infra.database._manager import DatabaseManager
from flext_infra.database._oracle import OracleConnectionManager
from flext_infra.environments._profiles import ALL, ServiceSpec
from flext_infra.observability import get_logger
from flext_infra.settings import FlextSettings, OracleSettings

_log = get_logger("flext.database")

DEPLOYED = frozenset({Environment.STAGING, Environment.PRODUCTION})

#: Seconds the container lets a manager's dispose run (grace + pool close).
CLEANUP_TIMEOUT = 60.0


def _not_configured(env: Environment | str, problems: list[str]) -> str:
    return (
        f"Oracle is required in {env} but not configured: "
        + "; ".join(problems)
        + f" (set {OracleSettings.variable('host')}, {OracleSettings.variable('port')}, "
        f"{OracleSettings.variable('service_name')}, {OracleSettings.variable('user')}, "
        f"{OracleSettings.variable('password')}, or {OracleSettings.variable('dsn')})"
    )


def oracle_check(settings: FlextSettings) -> list[str]:
    """Configuration problems that stop ``oracle_manager`` in staging and production."""
    problems = settings.oracle.problems()
    if not problems:
        return []
    return [f"oracle_manager: {_not_configured(settings.environment, problems)}"]


def _oracle_manager(settings: FlextSettings) -> OracleConnectionManager:
    problems = settings.oracle.problems()
    if problems:
        raise DatabaseConfigurationError(_not_configured(settings.environment, problems))
    return OracleConnectionManager(settings.oracle)


def _dispose(manager: Any) -> None:
    manager.dispose()


def _connection_pool(oracle_manager: OracleConnectionManager) -> Any:
    return oracle_manager.pool


def _deployed_database(oracle_manager: OracleConnectionManager) -> OracleConnectionManager:
    # No cleanup here: oracle_manager's own cleanup closes the pool, after its dependents.
    return oracle_manager


def _owned(manager: DatabaseManager) -> Iterator[AnyManager]:
    try:
        yield manager
    finally:
        manager.dispose()


def _development_database(
    settings: FlextSettings, data_dir: Path, container: Resolver
) -> Iterator[AnyManager]:
    if settings.oracle.configured:
        oracle = container.resolve("oracle_manager")
        _log.info("database.selected", kind="oracle", target=oracle.target)
        yield oracle
        return
    if settings.database.url is not None:
        manager = DatabaseManager(settings.database.url.get_secret_value(), settings.database)
        kind = manager.dialect
    else:
        path = data_dir / settings.database.sqlite_file
        manager = DatabaseManager(sqlite_url(path), settings.database)
        kind = "sqlite"
    _log.info(
        "database.selected",
        kind=kind,
        target=manager.target,
        why="FLEXT_ORACLE_* not configured",
    )
    yield from _owned(manager)


def _test_database(settings: FlextSettings, data_dir: Path) -> Iterator[AnyManager]:
    url = settings.database.test_postgres_url
    if url is not None:
        manager = DatabaseManager(url.get_secret_value(), settings.database)
    else:
        manager = DatabaseManager(
            sqlite_url(data_dir / settings.database.sqlite_file), settings.database
        )
    _log.info("database.selected", kind=manager.dialect, target=manager.target)
    yield from _owned(manager)


_NOT_DEPLOYED = ALL - DEPLOYED

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "oracle_manager",
        _oracle_manager,
        environments=DEPLOYED,
        aliases=(OracleConnectionManager,),
        cleanup=_dispose,
        cleanup_timeout=CLEANUP_TIMEOUT,
        check=oracle_check,
    ),
    ServiceSpec(
        "oracle_manager",
        _oracle_manager,
        environments=_NOT_DEPLOYED,
        aliases=(OracleConnectionManager,),
        cleanup=_dispose,
        cleanup_timeout=CLEANUP_TIMEOUT,
    ),
    ServiceSpec("connection_pool", _connection_pool),
    ServiceSpec("database", _deployed_database, environments=DEPLOYED),
    ServiceSpec(
        "database",
        _development_database,
        environments=frozenset({Environment.DEVELOPMENT}),
        cleanup_timeout=CLEANUP_TIMEOUT,
    ),
    ServiceSpec(
        "database",
        _test_database,
        environments=frozenset({Environment.TEST}),
        cleanup_timeout=CLEANUP_TIMEOUT,
    ),
)
