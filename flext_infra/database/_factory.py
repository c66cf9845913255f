"""``create_database_manager``: the right manager for a URL or settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra.database._errors import DatabaseConfigurationError
from flext_infra.database._manager import DatabaseManager, normalize_url
from flext_infra.database._oracle import OracleConnectionManager
from flext_infra.settings import DatabaseSettings, FlextSettings, OracleSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

#: Either manager; both have ``dialect``, ``target``, ``acquire()``, ``engine()``,
#: ``health()`` and ``dispose()``.
AnyManager = OracleConnectionManager | DatabaseManager


def _oracle_from_url(url: URL) -> OracleConnectionManager:
    # SQLAlchemy's convention: /name is a SID, ?service_name=... a service.
    options: dict[str, Any] = {
        "host": url.host,
        "port": url.port or 1521,
        "user": url.username,
        "password": url.password,
    }
    query = dict(url.query)
    service = query.pop("service_name", None)
    if service:
        options["service_name"] = service
    elif url.database:
        options["sid"] = url.database
    for key, value in query.items():
        if key in OracleSettings.model_fields:
            options[key] = value
    return OracleConnectionManager(**{k: v for k, v in options.items() if v is not None})


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


def create_database_manager(
    source: str | URL | OracleSettings | DatabaseSettings | FlextSettings,
    *,
    data_dir: Path | None = None,
) -> AnyManager:
    """Pick and build the manager for ``source``.

    - an ``oracle+oracledb://`` URL or :class:`OracleSettings`: :class:`OracleConnectionManager`;
    - any other URL or :class:`DatabaseSettings`: :class:`DatabaseManager`;
    - :class:`FlextSettings`: Oracle when configured, else ``FLEXT_DATABASE_URL``,
      else an SQLite file (``sqlite_file``) under ``data_dir`` (default: the settings' one).

    Raises:
        DatabaseConfigurationError: nothing usable is configured.
    """
    if isinstance(source, OracleSettings):
        return OracleConnectionManager(source)
    if isinstance(source, DatabaseSettings):
        if source.url is None:
            raise DatabaseConfigurationError(f"{DatabaseSettings.variable('url')}: not set")
        return create_database_manager_from_url(source.url.get_secret_value(), source)
    if isinstance(source, FlextSettings):
        if source.oracle.configured:
            return OracleConnectionManager(source.oracle)
        if source.database.url is not None:
            return create_database_manager_from_url(
                source.database.url.get_secret_value(), source.database
            )
        directory = data_dir if data_dir is not None else source.data_dir
        return DatabaseManager(sqlite_url(directory / source.database.sqlite_file), source.database)
    return create_database_manager_from_url(source)


def create_database_manager_from_url(
    url: str | URL, settings: DatabaseSettings | None = None
) -> AnyManager:
    """The manager for one URL: Oracle URLs get the oracledb pool manager."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "oracle":
        return _oracle_from_url(parsed)
    return DatabaseManager(parsed, settings)
