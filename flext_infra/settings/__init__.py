"""Infrastructure settings (pydantic-settings, ``FLEXT_*`` variables)."""

from flext_infra.settings._settings import (
    GROUPS,
    AlertSettings,
    ApiSettings,
    DatabaseSettings,
    FlextSettings,
    LogFormat,
    MetricsSettings,
    OracleSettings,
    QualitySettings,
    RootSettings,
    RunsSettings,
    S3Settings,
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
    "MetricsSettings",
    "OracleSettings",
    "QualitySettings",
    "RootSettings",
    "RunsSettings",
    "S3Settings",
    "ServeSettings",
    "SettingsGroup",
    "load_settings",
]
