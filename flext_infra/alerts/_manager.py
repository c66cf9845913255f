"""The alert manager: routing, dedup with cooldown, resolve messages and retried delivery."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flext_infra._errors import ConfigurationError
from flext_infra._result import Result
from flext_infra.alerts._channels import (
    Channel,
    EmailChannel,
    LogChannel,
    RecordingChannel,
    SlackChannel,
    WebhookChannel,
)
from flext_infra.alerts._errors import DeliveryError
from flext_infra.alerts._http import AlertHttp
from flext_infra.alerts._models import Alert, AlertOutcome, AlertType, DeliveryResult, Severity
from flext_infra.observability import get_logger, redact, redactor

if TYPE_CHECKING:
    from flext_infra.settings import AlertSettings

log = get_logger("flext.alerts")


class AlertManager:
    """Sends alerts to every channel whose minimum severity they reach.

    - **Dedup.** Alerts are fingerprinted by (type, pipeline, stream). A repeat
      inside ``cooldown_s`` is held back (the outcome says ``suppressed``) and
      counted; the next one sent after the cooldown says how many were held.
    - **Resolve.** A fingerprint stays *active* until :meth:`resolve` or
      :meth:`pipeline_succeeded` sends a "resolved" message for it.
    - **Delivery.** Each channel is tried up to ``retry_attempts`` times with
      doubling waits capped at ``backoff_max_s``. Every channel gets its own
      :class:`DeliveryResult`; one that failed is reported as failed whatever
      the others did.
    - **Never crashes the caller.** Any error inside alerting is logged and
      reported in the outcome, never raised.
    - **State.** With ``state_path`` the dedup and active state survive the
      process (one ``flext run`` after another).

    Args:
        channels: Where alerts go.
        pipeline_name: Default pipeline name for alerts that do not give one.
        cooldown_s: Seconds during which a repeated fingerprint is held back.
        retry_attempts: Attempts per channel and alert (1 = no retry).
        backoff_s: First wait between attempts; doubles each time.
        backoff_max_s: Cap on one wait.
        state_path: JSON file for dedup/active state; in memory when None.
        clock: Seconds since the epoch (tests pass a fake clock).
        sleep: Waits between attempts (tests pass a no-op).
    """

    def __init__(
        self,
        channels: Iterable[Channel],
        *,
        pipeline_name: str = "flext",
        cooldown_s: float = 900.0,
        retry_attempts: int = 3,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        state_path: Path | str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self.channels: list[Channel] = list(channels)
        self.pipeline_name = pipeline_name
        self.cooldown_s = cooldown_s
        self.retry_attempts = retry_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.state_path = Path(state_path) if state_path else None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()
        #: Every outcome this manager produced, oldest first.
        self.history: list[AlertOutcome] = []
        self._last_sent: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._active: dict[str, dict[str, Any]] = {}
        self._load_state()
        for channel in self.channels:
            redactor.add(channel.secrets())

    # ------------------------------------------------------------------ building
    @classmethod
    def from_settings(
        cls,
        settings: AlertSettings,
        *,
        recording: bool = False,
        zero_waits: bool = False,
        state_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AlertManager:
        """Build the channels ``FLEXT_ALERT_*`` configures.

        The log channel is always on. Webhook, Slack and email are on when their
        URL or host is set. ``recording`` adds the test profile's
        :class:`RecordingChannel` (writing to ``FLEXT_ALERT_RECORD_DIR`` when set).
        """
        problems = check_alert_settings(settings)
        if problems:
            raise ConfigurationError(problems)
        channels: list[Channel] = [LogChannel(settings.log_min_severity)]
        if settings.webhook_url is not None:
            channels.append(
                WebhookChannel(
                    settings.webhook_url.get_secret_value(),
                    min_severity=settings.webhook_min_severity,
                    http=AlertHttp(timeout=settings.http_timeout),
                    timeout=settings.http_timeout,
                )
            )
        if settings.slack_webhook_url is not None:
            channels.append(
                SlackChannel(
                    settings.slack_webhook_url.get_secret_value(),
                    min_severity=settings.slack_min_severity,
                    http=AlertHttp(timeout=settings.http_timeout),
                    timeout=settings.http_timeout,
                )
            )
        if settings.smtp_host:
            channels.append(
                EmailChannel(
                    settings.smtp_host,
                    settings.smtp_port,
                    sender=settings.email_from or f"flext@{settings.smtp_host}",
                    recipients=_recipients(settings.email_to),
                    user=settings.smtp_user,
                    password=(
                        settings.smtp_password.get_secret_value()
                        if settings.smtp_password
                        else None
                    ),
                    security=settings.smtp_security,
                    timeout=settings.smtp_timeout,
                    ca_file=settings.smtp_ca_file,
                    min_severity=settings.email_min_severity,
                )
            )
        if recording:
            channels.append(RecordingChannel(settings.record_dir))
        return cls(
            channels,
            pipeline_name=settings.pipeline_name,
            cooldown_s=settings.cooldown_s,
            retry_attempts=settings.retry_attempts,
            backoff_s=0.0 if zero_waits else settings.retry_backoff_s,
            backoff_max_s=0.0 if zero_waits else settings.retry_backoff_max_s,
            state_path=settings.state_file or state_path,
            clock=clock,
        )

    def channel(self, name: str) -> Channel:
        """The channel called ``name``: log, webhook, slack, email or recording."""
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)

    # ------------------------------------------------------------------- sending
    def alert(
        self,
        alert_type: AlertType | str,
        severity: Severity | str,
        message: str,
        *,
        pipeline_name: str | None = None,
        stream: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> AlertOutcome:
        """Build an :class:`Alert` and :meth:`send` it."""
        return self.send(
            Alert(
                AlertType(alert_type),
                Severity(severity),
                message,
                pipeline_name or self.pipeline_name,
                stream,
                dict(context or {}),
            )
        )

    def send(self, alert: Alert) -> AlertOutcome:
        """Route ``alert`` to the channels, unless dedup holds it back. Never raises."""
        try:
            return self._send(alert)
        except Exception as exc:  # alerting must never crash the pipeline
            log.error("alert.manager_error", error=redact(f"{type(exc).__name__}: {exc}"))
            outcome = AlertOutcome(
                alert, (DeliveryResult("manager", "failed", 0, redact(str(exc))),)
            )
            self.history.append(outcome)
            return outcome

    def _send(self, alert: Alert) -> AlertOutcome:
        fp = alert.fingerprint
        now = self._clock()
        with self._lock:
            if not alert.resolved:
                last = self._last_sent.get(fp)
                if last is not None and now - last < self.cooldown_s:
                    self._held[fp] = self._held.get(fp, 0) + 1
                    log.info(
                        "alert.suppressed",
                        alert_type=str(alert.alert_type),
                        pipeline_name=alert.pipeline_name,
                        alert_stream=alert.stream,
                        cooldown_left_s=round(self.cooldown_s - (now - last), 1),
                    )
                    outcome = AlertOutcome(alert, (), suppressed=True)
                    self.history.append(outcome)
                    return outcome
                held = self._held.pop(fp, 0)
                if held:
                    alert = _with_context(alert, suppressed_repeats=held)
                self._last_sent[fp] = now
                self._active[fp] = {
                    "alert_type": str(alert.alert_type),
                    "pipeline_name": alert.pipeline_name,
                    "stream": alert.stream,
                    "severity": str(alert.severity),
                    "since": now,
                }
            self._save_state()
        deliveries = tuple(self._deliver(ch, alert) for ch in self.channels)
        outcome = AlertOutcome(alert, deliveries)
        with self._lock:
            self.history.append(outcome)
        if outcome.failed:
            log.warning(
                "alert.delivery_failed",
                alert_type=str(alert.alert_type),
                failed=list(outcome.failed),
                delivered=list(outcome.delivered),
            )
        return outcome

    def _deliver(self, channel: Channel, alert: Alert) -> DeliveryResult:
        # A resolved message goes wherever the failure it clears could have gone.
        if not alert.severity.at_least(channel.min_severity):
            return DeliveryResult(channel.name, "skipped", 0, None)
        error = ""
        for attempt in range(1, self.retry_attempts + 1):
            retriable = True
            try:
                channel.send(alert)
                return DeliveryResult(channel.name, "delivered", attempt, None)
            except DeliveryError as exc:
                error, retriable = redact(str(exc)), exc.retriable
            except Exception as exc:
                error = redact(f"{type(exc).__name__}: {exc}")
            if not retriable or attempt == self.retry_attempts:
                log.warning(
                    "alert.channel_failed", channel=channel.name, attempts=attempt, error=error
                )
                return DeliveryResult(channel.name, "failed", attempt, error)
            wait = min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s)
            log.info(
                "alert.retry_scheduled",
                channel=channel.name,
                attempt=attempt,
                wait_s=wait,
                error=error,
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------------- resolving
    def resolve(
        self,
        alert_type: AlertType | str,
        *,
        pipeline_name: str | None = None,
        stream: str | None = None,
        message: str | None = None,
    ) -> AlertOutcome | None:
        """Send a "resolved" message if that fingerprint is active; otherwise do nothing."""
        probe = Alert(
            AlertType(alert_type), Severity.LOW, "", pipeline_name or self.pipeline_name, stream
        )
        return self._resolve(probe.fingerprint, message)

    def pipeline_succeeded(
        self, pipeline_name: str | None = None, *, message: str | None = None
    ) -> list[AlertOutcome]:
        """Resolve every active alert of a pipeline that has just run successfully."""
        name = pipeline_name or self.pipeline_name
        with self._lock:
            fps = [fp for fp, a in self._active.items() if a["pipeline_name"] == name]
        outcomes = [self._resolve(fp, message) for fp in fps]
        return [o for o in outcomes if o is not None]

    def _resolve(self, fp: str, message: str | None) -> AlertOutcome | None:
        with self._lock:
            active = self._active.pop(fp, None)
            if active is None:
                return None
            self._last_sent.pop(fp, None)
            self._held.pop(fp, None)
            self._save_state()
        since = active.get("since")
        alert = Alert(
            AlertType(active["alert_type"]),
            Severity(active["severity"]),
            message or f"resolved: {active['alert_type']} on {active['pipeline_name']} cleared",
            active["pipeline_name"],
            active.get("stream"),
            {"failing_since": since} if since is not None else {},
            resolved=True,
        )
        return self.send(alert)

    @property
    def active(self) -> dict[str, dict[str, Any]]:
        """Active (unresolved) alerts by fingerprint."""
        with self._lock:
            return {fp: dict(a) for fp, a in self._active.items()}

    # ------------------------------------------------------------ upstream helpers
    def send_pipeline_failure_alert(
        self,
        pipeline_name: str,
        error: str | BaseException,
        context: Mapping[str, Any] | None = None,
        *,
        severity: Severity | str = Severity.HIGH,
    ) -> AlertOutcome:
        """Upstream helper: a pipeline (job) failed after its retries.

        ``context`` may be passed third, positionally, as upstream callers do.
        """
        return self.alert(
            AlertType.PIPELINE_FAILURE,
            severity,
            f"pipeline {pipeline_name} failed: {_describe(error)}",
            pipeline_name=pipeline_name,
            context=context,
        )

    def send_connectivity_alert(
        self,
        service: str,
        error: str | BaseException,
        context: Mapping[str, Any] | None = None,
        *,
        pipeline_name: str | None = None,
        severity: Severity | str = Severity.HIGH,
    ) -> AlertOutcome:
        """Upstream helper: a service (API, database, breaker) could not be reached.

        ``context`` may be passed third, positionally, as upstream callers do.
        """
        return self.alert(
            AlertType.CONNECTIVITY_FAILURE,
            severity,
            f"cannot reach {service}: {_describe(error)}",
            pipeline_name=pipeline_name,
            stream=service,
            context={"service": service, **(context or {})},
        )

    def send_data_quality_alert(
        self,
        stream: str,
        issue: str,
        context: Mapping[str, Any] | None = None,
        *,
        pipeline_name: str | None = None,
        severity: Severity | str = Severity.MEDIUM,
    ) -> AlertOutcome:
        """Upstream helper: records of ``stream`` failed validation.

        ``context`` may be passed third, positionally, as upstream callers do.
        """
        return self.alert(
            AlertType.DATA_QUALITY_ISSUE,
            severity,
            f"data quality issue in {stream}: {issue}",
            pipeline_name=pipeline_name,
            stream=stream,
            context=context,
        )

    def send_threshold_breach_alert(
        self,
        stream: str,
        breach: str,
        *,
        pipeline_name: str | None = None,
        severity: Severity | str = Severity.HIGH,
        context: Mapping[str, Any] | None = None,
    ) -> AlertOutcome:
        """A validation threshold (reject ratio, minimum records, freshness) was broken."""
        return self.alert(
            AlertType.THRESHOLD_BREACH,
            severity,
            f"threshold broken for {stream}: {breach}",
            pipeline_name=pipeline_name,
            stream=stream,
            context=context,
        )

    # ------------------------------------------------------------------- health
    def health(self) -> Result[dict[str, str]]:
        """Probe every channel without sending an alert. Fails if any channel is down."""
        states: dict[str, str] = {}
        bad: list[str] = []
        for ch in self.channels:
            try:
                result = ch.health()
            except Exception as exc:
                result = Result.fail(f"{type(exc).__name__}: {exc}", reason="health_check_raised")
            states[ch.name] = redact(result.value if result.is_success else result.error)
            if result.is_failure:
                bad.append(f"{ch.name}: {states[ch.name]}")
        if bad:
            return Result.fail("; ".join(bad), reason="channel_down")
        return Result.ok(states)

    def close(self) -> None:
        """Close every channel's connections."""
        for ch in self.channels:
            with contextlib.suppress(Exception):
                ch.close()

    # -------------------------------------------------------------------- state
    def _load_state(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            self._last_sent = {str(k): float(v) for k, v in data.get("last_sent", {}).items()}
            self._held = {str(k): int(v) for k, v in data.get("held", {}).items()}
            self._active = {str(k): dict(v) for k, v in data.get("active", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("alert.state_unreadable", path=str(self.state_path), error=str(exc))

    def _save_state(self) -> None:
        if self.state_path is None:
            return
        data = {"last_sent": self._last_sent, "held": self._held, "active": self._active}
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            # Write-then-rename: a crash never leaves half a state file behind.
            fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".alert-state-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            Path(tmp).replace(self.state_path)
        except OSError as exc:
            log.warning("alert.state_unwritable", path=str(self.state_path), error=str(exc))


def check_alert_settings(settings: AlertSettings) -> list[str]:
    """Problems in ``FLEXT_ALERT_*`` that would stop a channel from working (empty when fine)."""
    from flext_infra.settings import AlertSettings as _Group

    problems = []
    for field in ("webhook_url", "slack_webhook_url"):
        secret = getattr(settings, field)
        if secret is None:
            continue
        url = urlsplit(secret.get_secret_value())
        if url.scheme not in ("http", "https") or not url.hostname:
            problems.append(f"{_Group.variable(field)}: must be an http(s) URL with a host")
    if settings.smtp_host:
        if not _recipients(settings.email_to):
            problems.append(
                f"{_Group.variable('email_to')}: needed when "
                f"{_Group.variable('smtp_host')} is set (comma-separated addresses)"
            )
        if settings.smtp_user and settings.smtp_password is None:
            problems.append(
                f"{_Group.variable('smtp_password')}: needed when "
                f"{_Group.variable('smtp_user')} is set"
            )
        if settings.smtp_ca_file is not None and not settings.smtp_ca_file.is_file():
            problems.append(f"{_Group.variable('smtp_ca_file')}: {settings.smtp_ca_file} not found")
    elif settings.email_to:
        problems.append(
            f"{_Group.variable('smtp_host')}: needed when {_Group.variable('email_to')} is set"
        )
    return problems


def _recipients(value: str | None) -> list[str]:
    return [r.strip() for r in (value or "").split(",") if r.strip()]


def _describe(error: str | BaseException) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return error


def _with_context(alert: Alert, **extra: Any) -> Alert:
    return Alert(
        alert.alert_type,
        alert.severity,
        alert.message,
        alert.pipeline_name,
        alert.stream,
        {**alert.context, **extra},
        alert.timestamp,
        alert.resolved,
    )
