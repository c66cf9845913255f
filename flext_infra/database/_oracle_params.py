"""Pure functions turning Oracle settings into ``oracledb.create_pool`` arguments.

Kept free of I/O so the arguments can be tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from flext_infra._lazy import lazy_module
from flext_infra.database._errors import DatabaseConfigurationError, WalletError
from flext_infra.settings import OracleSettings

if TYPE_CHECKING:
    import oracledb
else:
    oracledb = lazy_module("oracledb")

#: pool_getmode setting -> the name of python-oracledb's constant.
_GETMODES: dict[str, str] = {
    "wait": "POOL_GETMODE_WAIT",
    "nowait": "POOL_GETMODE_NOWAIT",
    "forceget": "POOL_GETMODE_FORCEGET",
    "timedwait": "POOL_GETMODE_TIMEDWAIT",
}

_SIMPLE_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")


class _ExplicitOracleSettings(OracleSettings):
    """OracleSettings validated from keyword arguments only (no environment, no .env)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def oracle_settings(settings: OracleSettings | None = None, **options: Any) -> OracleSettings:
    """Settings from a group, explicit keyword arguments, or both (arguments win).

    Keyword arguments are the :class:`OracleSettings` field names (``host``,
    ``service_name``, ``password``, ``wallet_location``, ...). They are
    validated the same way, but the environment is not read for them.

    Raises:
        DatabaseConfigurationError: an argument is unknown or invalid.
    """
    if "username" in options and "user" not in options:
        # The upstream target's oracle_config says "username".
        options["user"] = options.pop("username")
    unknown = sorted(set(options) - set(OracleSettings.model_fields))
    if unknown:
        raise DatabaseConfigurationError(f"unknown Oracle option(s): {', '.join(unknown)}")
    if settings is not None and not options:
        return settings
    values = settings.model_dump() if settings is not None else {}
    values.update(options)
    try:
        return _ExplicitOracleSettings(**values)
    except ValueError as exc:  # pydantic.ValidationError; secrets are not echoed
        lines = []
        for err in getattr(exc, "errors", list)():
            field = str(err["loc"][0]) if err["loc"] else "*"
            lines.append(f"{OracleSettings.variable(field)}: {err['msg']}")
        raise DatabaseConfigurationError(lines or [str(exc)]) from None


def _is_descriptor(dsn: str) -> bool:
    return dsn.lstrip().startswith("(")


def _is_tns_alias(dsn: str) -> bool:
    # Easy Connect always has a host part with ':' or '/', a descriptor starts with '('.
    return not _is_descriptor(dsn) and not any(ch in dsn for ch in ":/@")


def effective_config_dir(s: OracleSettings) -> Path | None:
    """Where tnsnames.ora is read: ``config_dir``, else the wallet directory (ADB wallets)."""
    if s.config_dir is not None:
        return s.config_dir
    if s.dsn and _is_tns_alias(s.dsn) and s.wallet_location is not None:
        return s.wallet_location
    return None


def describe_target(s: OracleSettings) -> str:
    """The database as operators name it, never with a password.

    ``db.example:1521/ORCLPDB1``, ``tcps://adb.example:1522/x_high``,
    ``db.example:1521:ORCL`` (SID), ``alias MYDB_HIGH (/wallet/tnsnames.ora)``
    or the host and port found in a connect descriptor.
    """
    scheme = "tcps://" if s.protocol == "tcps" else ""
    if s.host:
        if s.sid and not s.service_name:
            return f"{scheme}{s.host}:{s.port}:{s.sid}"
        return f"{scheme}{s.host}:{s.port}/{s.service_name or ''}"
    if not s.dsn:
        return "<oracle: not configured>"
    dsn = s.dsn.strip()
    if _is_descriptor(dsn):
        host = re.search(r"\(\s*HOST\s*=\s*([^)\s]+)", dsn, re.IGNORECASE)
        port = re.search(r"\(\s*PORT\s*=\s*(\d+)", dsn, re.IGNORECASE)
        proto = re.search(r"\(\s*PROTOCOL\s*=\s*(\w+)", dsn, re.IGNORECASE)
        svc = re.search(r"\(\s*(SERVICE_NAME|SID)\s*=\s*([^)\s]+)", dsn, re.IGNORECASE)
        scheme = f"{proto.group(1).lower()}://" if proto else scheme
        where = f"{host.group(1) if host else '?'}:{port.group(1) if port else '?'}"
        return f"{scheme}{where}/{svc.group(2) if svc else ''}"
    if _is_tns_alias(dsn):
        cfg = effective_config_dir(s)
        where = f" ({cfg / 'tnsnames.ora'})" if cfg is not None else ""
        return f"alias {dsn}{where}"
    # Easy Connect may carry "user/password@" in front: keep only what follows.
    return dsn.rsplit("@", 1)[-1]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _schema_identifier(name: str) -> str:
    if _SIMPLE_IDENTIFIER.match(name):
        return name.upper()
    if '"' in name or not name:
        raise DatabaseConfigurationError(
            f"{OracleSettings.variable('current_schema')}: not a valid schema name: {name!r}"
        )
    return f'"{name}"'


def session_statement(s: OracleSettings) -> str | None:
    """The one ``ALTER SESSION`` run on every new pooled session, or None.

    One statement sets every parameter, so a new session costs one round trip.
    """
    parts = []
    for field, parameter in (
        ("nls_date_format", "NLS_DATE_FORMAT"),
        ("nls_timestamp_format", "NLS_TIMESTAMP_FORMAT"),
        ("nls_timestamp_tz_format", "NLS_TIMESTAMP_TZ_FORMAT"),
        ("nls_numeric_characters", "NLS_NUMERIC_CHARACTERS"),
        ("time_zone", "TIME_ZONE"),
    ):
        value = getattr(s, field)
        if value:
            parts.append(f"{parameter} = {_literal(value)}")
    if s.current_schema:
        parts.append(f"CURRENT_SCHEMA = {_schema_identifier(s.current_schema)}")
    return "ALTER SESSION SET " + " ".join(parts) if parts else None


def check_wallet(s: OracleSettings) -> None:
    """Fail early, before any network traffic, when the TCPS wallet cannot be used.

    Thin mode reads ``ewallet.pem`` from ``wallet_location``.

    Raises:
        WalletError: the directory or its ``ewallet.pem`` is missing or unreadable.
    """
    if s.wallet_location is None:
        return
    target = describe_target(s)
    var = OracleSettings.variable("wallet_location")
    where = s.wallet_location
    if not where.is_dir():
        raise WalletError(f"{var}={where} is not a directory", target=target)
    pem = where / "ewallet.pem"
    if not pem.is_file():
        raise WalletError(
            f"{var}={where} has no ewallet.pem (thin mode needs it; it is in the wallet zip "
            "downloaded from the Autonomous Database console)",
            target=target,
        )
    try:
        with pem.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise WalletError(f"{pem} is unreadable: {exc.strerror}", target=target) from None
    if b"-----BEGIN" not in head:
        raise WalletError(f"{pem} is not a PEM file", target=target)
    if b"ENCRYPTED" in head and s.wallet_password is None:
        raise WalletError(
            f"{pem} is encrypted but {OracleSettings.variable('wallet_password')} is not set",
            target=target,
        )


def build_pool_params(
    s: OracleSettings, *, session_callback: Callable[[Any, str], None] | None = None
) -> dict[str, Any]:
    """The keyword arguments for ``oracledb.create_pool`` (the password included).

    Covers host/port/service, SID, a DSN or connect descriptor, a TNS alias
    with its config directory, and TCPS with a wallet. The pool is fixed-size
    by default (``pool_min == pool_max``, ``increment=0``), as the
    python-oracledb docs recommend to avoid connection storms.

    Raises:
        DatabaseConfigurationError: the settings cannot name one database.
    """
    problems = s.problems()
    if problems:
        raise DatabaseConfigurationError(problems)
    params: dict[str, Any] = {
        "user": s.user,
        "password": s.password.get_secret_value() if s.password else None,
        "min": s.pool_min,
        "max": s.pool_max,
        "increment": s.pool_increment,
        "getmode": getattr(oracledb, _GETMODES[s.pool_getmode]),
        "homogeneous": True,
        "max_lifetime_session": s.max_lifetime_session,
        "ping_interval": s.ping_interval,
        "tcp_connect_timeout": s.tcp_connect_timeout,
        "retry_count": s.retry_count,
        "retry_delay": s.retry_delay,
    }
    if s.pool_getmode == "timedwait":
        params["wait_timeout"] = s.pool_wait_timeout
    if session_callback is not None:
        params["session_callback"] = session_callback
    if s.host:
        params.update(host=s.host, port=s.port, protocol=s.protocol)
        if s.service_name:
            params["service_name"] = s.service_name
        else:
            params["sid"] = s.sid
    else:
        assert s.dsn is not None  # checked by problems()
        params["dsn"] = s.dsn
        config_dir = effective_config_dir(s)
        if _is_tns_alias(s.dsn) and config_dir is None:
            raise DatabaseConfigurationError(
                f"{OracleSettings.variable('dsn')}={s.dsn!r} is a TNS alias: set "
                f"{OracleSettings.variable('config_dir')} to the directory holding tnsnames.ora"
            )
        if config_dir is not None:
            params["config_dir"] = str(config_dir)
    if s.protocol == "tcps" or s.wallet_location is not None:
        params["ssl_server_dn_match"] = s.ssl_server_dn_match
        if s.ssl_server_cert_dn:
            params["ssl_server_cert_dn"] = s.ssl_server_cert_dn
    if s.wallet_location is not None:
        params["wallet_location"] = str(s.wallet_location)
        if s.wallet_password is not None:
            params["wallet_password"] = s.wallet_password.get_secret_value()
    return params


def secret_values(s: OracleSettings) -> tuple[str, ...]:
    """The secrets in these settings, to mask wherever text might echo them."""
    found = [v.get_secret_value() for v in (s.password, s.wallet_password) if v is not None]
    # Easy Connect allows "user/password@host...": that password is a secret too.
    inline = re.match(r"^\s*[^/@()\s]+/([^@]+)@", s.dsn or "")
    if inline:
        found.append(inline.group(1))
    return tuple(found)
