"""Alerting: severities, alert types, channels and the ``alert_manager`` service."""

from flext_infra.alerts._channels import (
    RESOLVED_COLOR,
    SLACK_COLORS,
    Channel,
    EmailChannel,
    LogChannel,
    RecordingChannel,
    SlackChannel,
    WebhookChannel,
    read_recorded_alerts,
)
from flext_infra.alerts._errors import AlertError, DeliveryError
from flext_infra.alerts._http import AlertHttp
from flext_infra.alerts._manager import AlertManager, check_alert_settings
from flext_infra.alerts._models import Alert, AlertOutcome, AlertType, DeliveryResult, Severity

__all__ = [
    "RESOLVED_COLOR",
    "SLACK_COLORS",
    "Alert",
    "AlertError",
    "AlertHttp",
    "AlertManager",
    "AlertOutcome",
    "AlertType",
    "Channel",
    "DeliveryError",
    "DeliveryResult",
    "EmailChannel",
    "LogChannel",
    "RecordingChannel",
    "Severity",
    "SlackChannel",
    "WebhookChannel",
    "check_alert_settings",
    "read_recorded_alerts",
]
