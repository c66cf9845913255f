"""Infrastructure settings (pydantic-settings, ``FLEXT_*`` variables)."""

from flext_infra.settings._settings import (
    GROUPS,
    AlertSettings,
    ApiSettings,
    DatabaseSettings,
    FlextSettings,
    LogFormat,
    OracleSettings,
    RootSettings,
    ServeSettings,
    RunsSettings,
    SettingsGroup,
    load_settings,
)

__all__ = [
    "GROUPS",
    "AlertSettings",
    "ApiSettings",
    "DatabaseSettings",
    "FlextSettings",
    "LogFormat",
    "OracleSettings",
    "RootSettings",
    "ServeSettings",
    "RunsSettings",
    "SettingsGroup",
    "load_settings",
]
