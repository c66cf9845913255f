"""Alert channels against real loopback servers: webhook, Slack, SMTP and the recorder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from flext_infra.alerts import (
    RESOLVED_COLOR,
    SLACK_COLORS,
    Alert,
    AlertManager,
    AlertType,
    DeliveryError,
    EmailChannel,
    LogChannel,
    RecordingChannel,
    Severity,
    SlackChannel,
    WebhookChannel,
    read_recorded_alerts,
)

from .conftest import Receiver

PAYLOAD_KEYS = {"message", "severity", "alert_type", "timestamp", "pipeline_name", "context"}


def _alert(severity: Severity = Severity.HIGH, **kw: Any) -> Alert:
    base: dict[str, Any] = {
        "alert_type": AlertType.PIPELINE_FAILURE,
        "severity": severity,
        "message": "job wms-sync failed: exit 1",
        "pipeline_name": "wms-sync",
        "stream": "order_hdr",
        "context": {"exit_code": 1, "password": "hunter22"},
    }
    base.update(kw)
    return Alert(**base)


def test_webhook_posts_the_documented_json_body(receiver: Receiver) -> None:
    """The webhook body has message, severity, alert_type, timestamp, pipeline_name, context."""
    channel = WebhookChannel(receiver.url)
    try:
        channel.send(_alert())
    finally:
        channel.close()
    [body] = receiver.bodies
    assert set(body) == PAYLOAD_KEYS
    assert body["severity"] == "high"
    assert body["alert_type"] == "pipeline_failure"
    assert body["pipeline_name"] == "wms-sync"
    assert body["message"] == "job wms-sync failed: exit 1"
    datetime.fromisoformat(body["timestamp"])
    assert body["context"]["exit_code"] == 1
    assert body["context"]["stream"] == "order_hdr"
    assert body["context"]["password"] == "**********"  # secrets never leave the process


@pytest.mark.parametrize("severity", list(Severity))
def test_slack_attachment_is_coloured_by_severity(receiver: Receiver, severity: Severity) -> None:
    """Slack gets one attachment whose colour follows the severity."""
    channel = SlackChannel(receiver.url)
    try:
        channel.send(_alert(severity))
    finally:
        channel.close()
    [body] = receiver.bodies
    assert body["text"].startswith(f"[{severity.upper()}] pipeline_failure")
    [attachment] = body["attachments"]
    assert attachment["color"] == SLACK_COLORS[severity]
    assert attachment["text"] == "job wms-sync failed: exit 1"
    titles = {f["title"]: f["value"] for f in attachment["fields"]}
    assert titles["Severity"] == str(severity)
    assert titles["Pipeline"] == "wms-sync"
    assert titles["Stream"] == "order_hdr"
    assert isinstance(attachment["ts"], int)


def test_slack_resolved_message_is_green(receiver: Receiver) -> None:
    """A resolved alert is sent to Slack in green."""
    channel = SlackChannel(receiver.url)
    try:
        channel.send(_alert(resolved=True))
    finally:
        channel.close()
    assert receiver.bodies[0]["attachments"][0]["color"] == RESOLVED_COLOR
    assert receiver.bodies[0]["text"].startswith("[RESOLVED]")


@pytest.mark.parametrize(
    ("status", "retriable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_webhook_error_status_raises_with_retriability(
    receiver: Receiver, status: int, retriable: bool
) -> None:
    """A non-2xx answer is a delivery error; only 408/429/5xx are worth retrying."""
    receiver.statuses.append(status)
    channel = WebhookChannel(receiver.url)
    try:
        with pytest.raises(DeliveryError) as info:
            channel.send(_alert())
    finally:
        channel.close()
    assert info.value.retriable is retriable
    assert str(status) in str(info.value)


def test_email_is_really_sent_over_plain_smtp(smtp_server: Any) -> None:
    """The email channel delivers a message the SMTP server receives and can be read."""
    server = smtp_server("plain")
    channel = EmailChannel(
        server.host, server.port, sender="flext@example.test",
        recipients=["ops@example.test", "dba@example.test"], security="none",
    )  # fmt: skip
    channel.send(_alert(Severity.CRITICAL))
    [msg] = server.messages
    assert msg["Subject"] == "[CRITICAL] pipeline_failure: wms-sync/order_hdr"
    assert msg["From"] == "flext@example.test"
    assert msg["To"] == "ops@example.test, dba@example.test"
    assert msg["X-Flext-Severity"] == "critical"
    body = msg.get_content()
    assert "job wms-sync failed: exit 1" in body
    assert "hunter22" not in body


def test_email_uses_starttls_and_logs_in_with_settings_credentials(
    smtp_server: Any, tls_cert: tuple[Path, Path]
) -> None:
    """With STARTTLS the channel upgrades, verifies the server and logs in before sending."""
    server = smtp_server("starttls", users={"alerts": "s3cret-pw"})
    channel = EmailChannel(
        server.host, server.port, sender="flext@example.test", recipients=["ops@example.test"],
        user="alerts", password="s3cret-pw", security="starttls", ca_file=tls_cert[0],
    )  # fmt: skip
    channel.send(_alert())
    assert server.logins == ["alerts"]
    assert len(server.messages) == 1
    assert channel.health().is_success


def test_email_over_implicit_ssl(smtp_server: Any, tls_cert: tuple[Path, Path]) -> None:
    """With security=ssl the channel speaks TLS from the first byte (port 465 style)."""
    server = smtp_server("ssl", users={"alerts": "s3cret-pw"})
    channel = EmailChannel(
        server.host, server.port, sender="flext@example.test", recipients=["ops@example.test"],
        user="alerts", password="s3cret-pw", security="ssl", ca_file=tls_cert[0],
    )  # fmt: skip
    channel.send(_alert())
    assert server.logins == ["alerts"]
    assert server.messages[0]["Subject"].startswith("[HIGH]")


def test_email_wrong_password_is_a_non_retriable_failure(
    smtp_server: Any, tls_cert: tuple[Path, Path]
) -> None:
    """A refused login fails delivery without a retry and without echoing the password."""
    server = smtp_server("starttls", users={"alerts": "right-password"})
    channel = EmailChannel(
        server.host, server.port, sender="flext@example.test", recipients=["ops@example.test"],
        user="alerts", password="wrong-password", security="starttls", ca_file=tls_cert[0],
    )  # fmt: skip
    with pytest.raises(DeliveryError) as info:
        channel.send(_alert())
    assert info.value.retriable is False
    assert "wrong-password" not in str(info.value)
    assert server.messages == []


def test_starttls_rejects_an_unverified_server(smtp_server: Any) -> None:
    """Without the server's CA the TLS handshake fails: no silent downgrade."""
    server = smtp_server("starttls")
    channel = EmailChannel(
        server.host, server.port, sender="f@example.test", recipients=["o@example.test"],
        security="starttls",
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="SSL"):
        channel.send(_alert())
    assert server.messages == []


def test_recording_channel_appends_jsonl_readable_by_another_process(tmp_path: Path) -> None:
    """The recorder keeps alerts in memory and appends them to <dir>/alerts.jsonl."""
    channel = RecordingChannel(tmp_path / "rec")
    channel.send(_alert())
    channel.send(_alert(Severity.LOW, message="second"))
    assert [a.message for a in channel.alerts] == ["job wms-sync failed: exit 1", "second"]
    recorded = read_recorded_alerts(tmp_path / "rec")
    assert [r["message"] for r in recorded] == ["job wms-sync failed: exit 1", "second"]
    assert set(recorded[0]) == PAYLOAD_KEYS


def test_log_channel_writes_a_structured_event(capsys: pytest.CaptureFixture[str]) -> None:
    """The log channel emits an alert.raised event on stderr, never stdout."""
    from flext_infra.observability import configure_logging

    configure_logging(level="INFO", fmt="json")
    LogChannel().send(_alert())
    out, err = capsys.readouterr()
    assert out == ""
    assert '"event": "alert.raised"' in err
    assert "hunter22" not in err


def test_manager_from_settings_builds_configured_channels(tmp_path: Path) -> None:
    """FLEXT_ALERT_* settings decide which channels exist and their minimum severities."""
    from flext_infra.settings import AlertSettings

    settings = AlertSettings(
        webhook_url="http://127.0.0.1:9/hook",
        slack_webhook_url="http://127.0.0.1:9/slack",
        smtp_host="127.0.0.1",
        email_to="ops@example.test",
        webhook_min_severity="low",
        email_min_severity="critical",
    )
    manager = AlertManager.from_settings(settings, recording=True)
    try:
        names = [c.name for c in manager.channels]
        assert names == ["log", "webhook", "slack", "email", "recording"]
        assert manager.channel("webhook").min_severity is Severity.LOW
        assert manager.channel("email").min_severity is Severity.CRITICAL
    finally:
        manager.close()
