"""Database connections: the Oracle pool manager and SQLAlchemy-URL managers.

``OracleConnectionManager`` (service ``oracle_manager``, its pool also
``connection_pool``) and ``DatabaseManager`` (service ``database``) share one
interface (:class:`ConnectionManager`): ``acquire()``, ``engine()``,
``health()``, ``dispose()``. Every error is a :class:`DatabaseError`.
"""

from flext_infra.database._base import ConnectionManager, DatabaseHealth
from flext_infra.database._errors import (
    ConnectConfigurationError,
    ConnectionClosedError,
    DatabaseConfigurationError,
    DatabaseDisposedError,
    DatabaseError,
    DatabaseTimeoutError,
    FatalDatabaseError,
    InvalidCredentialsError,
    ListenerUnreachableError,
    RetriableDatabaseError,
    UnknownServiceError,
    WalletError,
    translate_error,
)
from flext_infra.database._factory import (
    AnyManager,
    create_database_manager,
    create_database_manager_from_url,
    sqlite_url,
)
from flext_infra.database._facts import ServerFacts, parse_version
from flext_infra.database._manager import DatabaseManager, normalize_url
from flext_infra.database._oracle import OracleConnectionManager
from flext_infra.database._oracle_params import (
    build_pool_params,
    describe_target,
    oracle_settings,
    session_statement,
)
from flext_infra.database._sqlite import adapt_sqlite_value

__all__ = [
    "AnyManager",
    "ConnectConfigurationError",
    "ConnectionClosedError",
    "ConnectionManager",
    "DatabaseConfigurationError",
    "DatabaseDisposedError",
    "DatabaseError",
    "DatabaseHealth",
    "DatabaseManager",
    "DatabaseTimeoutError",
    "FatalDatabaseError",
    "InvalidCredentialsError",
    "ListenerUnreachableError",
    "OracleConnectionManager",
    "RetriableDatabaseError",
    "ServerFacts",
    "UnknownServiceError",
    "WalletError",
    "adapt_sqlite_value",
    "build_pool_params",
    "create_database_manager",
    "create_database_manager_from_url",
    "describe_target",
    "normalize_url",
    "oracle_settings",
    "parse_version",
    "session_statement",
    "sqlite_url",
    "translate_error",
]
