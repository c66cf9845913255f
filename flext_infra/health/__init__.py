"""Health and readiness checks shared by ``flext health`` and ``flext serve``'s ``/ready``."""

from flext_infra.health._checks import (
    Check,
    CheckStatus,
    check_alert_channels,
    check_api,
    check_breakers,
    check_database,
    readiness,
)

__all__ = [
    "Check",
    "CheckStatus",
    "check_alert_channels",
    "check_api",
    "check_breakers",
    "check_database",
    "readiness",
]
