"""Alert values: severities, types, the alert itself and delivery outcomes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How urgent an alert is. Ordered: low < medium < high < critical."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return _RANK[self]

    def at_least(self, other: Severity | str) -> bool:
        """True when this severity is ``other`` or more urgent."""
        return self.rank >= Severity(other).rank


_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class AlertType(StrEnum):
    """What went wrong (the seven upstream alert types)."""

    PIPELINE_FAILURE = "pipeline_failure"
    CONNECTIVITY_FAILURE = "connectivity_failure"
    DATA_QUALITY_ISSUE = "data_quality_issue"
    SYNC_TIMEOUT = "sync_timeout"
    THRESHOLD_BREACH = "threshold_breach"
    CONFIGURATION_ERROR = "configuration_error"
    PERFORMANCE_DEGRADATION = "performance_degradation"


@dataclass(frozen=True)
class Alert:
    """One alert.

    Attributes:
        alert_type: What went wrong.
        severity: How urgent it is.
        message: One human-readable line.
        pipeline_name: The pipeline (Meltano job) it concerns.
        stream: The stream it concerns, if any; part of the fingerprint.
        context: Extra key/values (redacted before leaving the process).
        timestamp: When it was raised (UTC).
        resolved: True for the "resolved" message that follows a failure.
    """

    alert_type: AlertType
    severity: Severity
    message: str
    pipeline_name: str
    stream: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    resolved: bool = False

    @property
    def fingerprint(self) -> str:
        """Identity for dedup: (type, pipeline, stream). Message and context do not count."""
        raw = f"{self.alert_type}|{self.pipeline_name}|{self.stream or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def title(self) -> str:
        """A short subject line: ``[HIGH] pipeline_failure: wms-sync``."""
        state = "RESOLVED" if self.resolved else self.severity.upper()
        where = self.pipeline_name + (f"/{self.stream}" if self.stream else "")
        return f"[{state}] {self.alert_type}: {where}"

    def to_payload(self) -> dict[str, Any]:
        """The JSON body the webhook channel posts."""
        return {
            "message": self.message,
            "severity": str(self.severity),
            "alert_type": str(self.alert_type),
            "timestamp": self.timestamp.isoformat(),
            "pipeline_name": self.pipeline_name,
            "context": {
                **self.context,
                **({"stream": self.stream} if self.stream else {}),
                "fingerprint": self.fingerprint,
                "resolved": self.resolved,
            },
        }


@dataclass(frozen=True)
class DeliveryResult:
    """What happened on one channel for one alert.

    Attributes:
        channel: The channel's name (``webhook``, ``slack``, ...).
        status: ``delivered``, ``failed`` or ``skipped`` (below the channel's minimum).
        attempts: How many sends were tried.
        error: Why the last attempt failed (secrets masked), when it failed.
    """

    channel: str
    status: str
    attempts: int = 0
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """True when the channel accepted the alert."""
        return self.status == "delivered"

    @property
    def failed(self) -> bool:
        """True when every attempt failed."""
        return self.status == "failed"


@dataclass(frozen=True)
class AlertOutcome:
    """The result of :meth:`AlertManager.send`: one :class:`DeliveryResult` per channel.

    Attributes:
        alert: The alert that was sent (or held back).
        deliveries: One entry per channel, failed ones included.
        suppressed: True when dedup held it back inside the cooldown; nothing was sent.
    """

    alert: Alert
    deliveries: tuple[DeliveryResult, ...] = ()
    suppressed: bool = False

    @property
    def delivered(self) -> tuple[str, ...]:
        """Channels that accepted the alert."""
        return tuple(d.channel for d in self.deliveries if d.delivered)

    @property
    def failed(self) -> tuple[str, ...]:
        """Channels where every attempt failed."""
        return tuple(d.channel for d in self.deliveries if d.failed)

    @property
    def ok(self) -> bool:
        """True when no channel failed (skipped channels do not count as failures)."""
        return not self.failed

    def for_channel(self, name: str) -> DeliveryResult:
        """The delivery result of one channel."""
        for d in self.deliveries:
            if d.channel == name:
                return d
        raise KeyError(name)
