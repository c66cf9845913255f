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
    RunsSettings,
    ServeSettings,
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
    "RunsSettings",
    "ServeSettings",
    "SettingsGroup",
    "load_settings",
]
