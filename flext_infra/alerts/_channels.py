"""Alert channels: log, webhook, Slack, SMTP email and the test profile's recorder.

Each channel sends one alert per call and raises :class:`DeliveryError` when
it could not; retrying, dedup and routing belong to the manager.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

from flext_infra._result import Result
from flext_infra.alerts._errors import DeliveryError
from flext_infra.alerts._http import AlertHttp
from flext_infra.alerts._models import Alert, Severity
from flext_infra.observability import get_logger, redact

log = get_logger("flext.alerts")

#: Slack attachment colours. Resolved messages are green whatever the severity.
SLACK_COLORS: dict[Severity, str] = {
    Severity.LOW: "#439FE0",
    Severity.MEDIUM: "#DAA038",
    Severity.HIGH: "#E8710A",
    Severity.CRITICAL: "#A30200",
}
RESOLVED_COLOR = "#2EB886"


@runtime_checkable
class Channel(Protocol):
    """What the manager needs from a channel."""

    min_severity: Severity

    @property
    def name(self) -> str:
        """The channel's name in delivery results."""

    def send(self, alert: Alert) -> None:
        """Deliver one alert or raise :class:`DeliveryError`."""

    def health(self) -> Result[str]:
        """Check the channel can be reached, without sending an alert."""

    def secrets(self) -> list[str]:
        """Secret values this channel holds (taught to the log redactor)."""

    def close(self) -> None:
        """Release connections."""


class _Base:
    name: ClassVar[str] = "base"

    def __init__(self, min_severity: Severity | str) -> None:
        self.min_severity = Severity(min_severity)

    def health(self) -> Result[str]:
        return Result.ok("ready")

    def secrets(self) -> list[str]:
        return []

    def close(self) -> None:
        return None


def _public(alert: Alert) -> dict[str, Any]:
    """The alert's payload with secrets masked: it leaves the process."""
    payload: dict[str, Any] = redact(alert.to_payload())
    return payload


def _tcp_probe(url: str, timeout: float) -> Result[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Result.ok(f"{parts.scheme}://{host}:{port} reachable")
    except OSError as exc:
        return Result.fail(
            f"{parts.scheme}://{host}:{port} unreachable: {exc}", reason="unreachable", cause=exc
        )


class LogChannel(_Base):
    """Writes alerts to the structured log (stderr). Never fails."""

    name: ClassVar[str] = "log"
    _LEVELS: ClassVar[dict[Severity, str]] = {
        Severity.LOW: "info",
        Severity.MEDIUM: "warning",
        Severity.HIGH: "error",
        Severity.CRITICAL: "critical",
    }

    def __init__(self, min_severity: Severity | str = Severity.LOW) -> None:
        super().__init__(min_severity)

    def send(self, alert: Alert) -> None:
        level = "info" if alert.resolved else self._LEVELS[alert.severity]
        event = "alert.resolved" if alert.resolved else "alert.raised"
        getattr(log, level)(
            event,
            alert_type=str(alert.alert_type),
            severity=str(alert.severity),
            pipeline_name=alert.pipeline_name,
            alert_stream=alert.stream,
            message=alert.message,
            context=alert.context,
            fingerprint=alert.fingerprint,
        )


class WebhookChannel(_Base):
    """POSTs the alert as JSON: message, severity, alert_type, timestamp, pipeline_name, context."""

    name: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        min_severity: Severity | str = Severity.MEDIUM,
        http: AlertHttp | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(min_severity)
        self.url = url
        self.timeout = timeout
        self._http = http or AlertHttp(timeout=timeout)

    def body(self, alert: Alert) -> dict[str, Any]:
        """The JSON body sent for ``alert``."""
        return _public(alert)

    def send(self, alert: Alert) -> None:
        self._http.post_json(self.url, self.body(alert))

    def health(self) -> Result[str]:
        # Probing with a POST would deliver a message; a TCP connect proves reachability only.
        return _tcp_probe(self.url, self.timeout)

    def secrets(self) -> list[str]:
        # Webhook URLs embed their token (Slack's always do).
        return [self.url]

    def close(self) -> None:
        self._http.close()


class SlackChannel(WebhookChannel):
    """Posts to a Slack incoming webhook, one attachment coloured by severity."""

    name: ClassVar[str] = "slack"

    def body(self, alert: Alert) -> dict[str, Any]:
        payload = _public(alert)
        color = RESOLVED_COLOR if alert.resolved else SLACK_COLORS[alert.severity]
        fields = [
            {"title": "Severity", "value": payload["severity"], "short": True},
            {"title": "Type", "value": payload["alert_type"], "short": True},
            {"title": "Pipeline", "value": payload["pipeline_name"], "short": True},
        ]
        if alert.stream:
            fields.append({"title": "Stream", "value": alert.stream, "short": True})
        for key, value in payload["context"].items():
            if key in ("stream", "fingerprint", "resolved"):
                continue
            fields.append({"title": str(key), "value": _text(value), "short": False})
        return {
            "text": alert.title,
            "attachments": [
                {
                    "color": color,
                    "title": alert.title,
                    "text": payload["message"],
                    "fields": fields,
                    "footer": "flext",
                    "ts": int(alert.timestamp.timestamp()),
                    "fallback": f"{alert.title}: {payload['message']}",
                }
            ],
        }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class EmailChannel(_Base):
    """Sends a plain-text email over SMTP, really: STARTTLS, implicit TLS (SSL) or none.

    Args:
        host: SMTP server.
        port: SMTP port (587 for STARTTLS, 465 for SSL).
        sender: From address.
        recipients: To addresses.
        user: Login user; no login when None.
        password: Login password.
        security: ``starttls``, ``ssl`` or ``none``.
        timeout: Socket timeout in seconds.
        ca_file: CA bundle to verify the server with (system CAs by default).
    """

    name: ClassVar[str] = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        user: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        timeout: float = 10.0,
        ca_file: Path | str | None = None,
        min_severity: Severity | str = Severity.HIGH,
    ) -> None:
        super().__init__(min_severity)
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"security must be starttls, ssl or none, not {security!r}")
        if not recipients:
            raise ValueError("the email channel needs at least one recipient")
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.user, self._password = user, password
        self.security, self.timeout = security, timeout
        self.ca_file = str(ca_file) if ca_file else None

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def message(self, alert: Alert) -> EmailMessage:
        """The email sent for ``alert``."""
        payload = _public(alert)
        msg = EmailMessage()
        msg["Subject"] = alert.title
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="flext.local")
        msg["X-Flext-Severity"] = payload["severity"]
        msg["X-Flext-Alert-Type"] = payload["alert_type"]
        msg.set_content(
            f"{payload['message']}\n\n"
            f"severity:      {payload['severity']}\n"
            f"alert type:    {payload['alert_type']}\n"
            f"pipeline:      {payload['pipeline_name']}\n"
            f"time (UTC):    {payload['timestamp']}\n\n"
            f"context:\n{json.dumps(payload['context'], indent=2, default=str)}\n"
        )
        return msg

    def send(self, alert: Alert) -> None:
        try:
            smtp = self._connect()
            try:
                refused = smtp.send_message(self.message(alert))
            finally:
                try:
                    smtp.quit()
                except smtplib.SMTPException:
                    smtp.close()
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", retriable=False) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(f"SMTP refused the message: {exc}", retriable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}", retriable=True) from exc
        if refused:
            raise DeliveryError(f"SMTP refused recipients: {sorted(refused)}", retriable=False)

    def health(self) -> Result[str]:
        try:
            smtp = self._connect()
            try:
                smtp.noop()
            finally:
                smtp.quit()
        except (smtplib.SMTPException, OSError) as exc:
            return Result.fail(
                f"smtp {self.host}:{self.port} {type(exc).__name__}: {exc}",
                reason="unreachable",
                cause=exc,
            )
        return Result.ok(f"smtp {self.host}:{self.port} ({self.security}) ready")

    def secrets(self) -> list[str]:
        return [self._password] if self._password else []


class RecordingChannel(_Base):
    """The test profile's channel: keeps every alert in memory, and optionally on disk.

    With ``record_dir`` each alert is also appended as one JSON line to
    ``<record_dir>/alerts.jsonl``, so a test can read alerts raised by another
    process (``flext run`` or ``meltano run``). See :func:`read_recorded_alerts`.
    """

    name: ClassVar[str] = "recording"
    FILENAME: ClassVar[str] = "alerts.jsonl"

    def __init__(
        self, record_dir: Path | str | None = None, *, min_severity: Severity | str = Severity.LOW
    ) -> None:
        super().__init__(min_severity)
        self.alerts: list[Alert] = []
        self.record_dir = Path(record_dir) if record_dir else None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The JSONL file alerts are appended to, if any."""
        return self.record_dir / self.FILENAME if self.record_dir else None

    def send(self, alert: Alert) -> None:
        with self._lock:
            self.alerts.append(alert)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                line = json.dumps(_public(alert), default=str)
                # One write() per line in append mode: lines from concurrent
                # processes do not interleave.
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")


def read_recorded_alerts(record_dir: Path | str) -> list[dict[str, Any]]:
    """Every alert a :class:`RecordingChannel` appended under ``record_dir``, oldest first."""
    path = Path(record_dir) / RecordingChannel.FILENAME
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
