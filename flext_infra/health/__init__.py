"""Health and readiness checks shared by ``flext health`` and ``flext serve``'s ``/ready``."""

from flext_infra.health._checks import (
    Check,
    CheckStatus,
    check_alert_channels,
    check_api,
    check_breakers,
    check_database,
    check_redis,
    readiness,
)

__all__ = [
    "Check",
    "CheckStatus",
    "check_alert_channels",
    "check_api",
    "check_breakers",
    "check_database",
    "check_redis",
    "readiness",
]
