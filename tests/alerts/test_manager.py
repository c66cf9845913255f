"""The alert manager: routing, per-channel outcomes, retries, dedup, cooldown and resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from flext_infra import configure_for_testing, load_settings
from flext_infra.alerts import (
    Alert,
    AlertManager,
    AlertType,
    DeliveryError,
    RecordingChannel,
    Severity,
    SlackChannel,
    WebhookChannel,
    check_alert_settings,
    read_recorded_alerts,
)
from flext_infra.settings import AlertSettings

from .conftest import Receiver


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A channel failing its first ``failures`` sends, recording every attempt."""

    name: ClassVar[str] = "flaky"

    def __init__(
        self, failures: int, *, retriable: bool = True, exc: Exception | None = None
    ) -> None:
        self.min_severity = Severity.LOW
        self.failures = failures
        self.retriable = retriable
        self.exc = exc
        self.attempts = 0
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.exc or DeliveryError("boom", retriable=self.retriable)
        self.sent.append(alert)

    def health(self) -> Any:
        from flext_infra import Result

        return Result.ok("fine")

    def secrets(self) -> list[str]:
        return []

    def close(self) -> None:
        return None


def _manager(*channels: Any, **kw: Any) -> tuple[AlertManager, list[float]]:
    waits: list[float] = []
    kw.setdefault("backoff_s", 0.5)
    kw.setdefault("backoff_max_s", 1.5)
    manager = AlertManager(list(channels), sleep=waits.append, **kw)
    return manager, waits


def test_one_channel_down_and_one_up_reports_both(receiver: Receiver, closed_url: str) -> None:
    """A failed channel is reported as failed next to the one that delivered."""
    down = WebhookChannel(closed_url, min_severity="low")
    up = SlackChannel(receiver.url, min_severity="low")
    manager, _ = _manager(down, up, retry_attempts=2)
    try:
        outcome = manager.send_pipeline_failure_alert("wms-sync", "exit 1")
    finally:
        manager.close()
    assert outcome.delivered == ("slack",)
    assert outcome.failed == ("webhook",)
    assert not outcome.ok
    failed = outcome.for_channel("webhook")
    assert failed.attempts == 2
    assert failed.error and "ConnectError" in failed.error
    assert "/down" in failed.error or "127.0.0.1" in failed.error
    assert len(receiver.bodies) == 1


def test_failed_delivery_is_retried_with_bounded_backoff() -> None:
    """Retries wait 0.5, 1.0, then the 1.5 cap, and stop at the attempt limit."""
    flaky = Flaky(failures=10)
    manager, waits = _manager(flaky, retry_attempts=4)
    outcome = manager.alert("sync_timeout", "high", "slow")
    assert flaky.attempts == 4
    assert waits == [0.5, 1.0, 1.5]
    assert outcome.for_channel("flaky").status == "failed"


def test_retry_succeeds_after_transient_failures() -> None:
    """A channel that recovers within the attempts is reported delivered with its attempt count."""
    flaky = Flaky(failures=2)
    manager, _ = _manager(flaky, retry_attempts=3)
    outcome = manager.alert("connectivity_failure", "high", "api down")
    assert outcome.for_channel("flaky").delivered
    assert outcome.for_channel("flaky").attempts == 3


def test_non_retriable_failure_is_not_retried() -> None:
    """A delivery error marked non-retriable (bad credentials, 4xx) stops at once."""
    flaky = Flaky(failures=5, retriable=False)
    manager, waits = _manager(flaky, retry_attempts=5)
    outcome = manager.alert("configuration_error", "high", "bad")
    assert flaky.attempts == 1
    assert waits == []
    assert outcome.failed == ("flaky",)


def test_a_crashing_channel_never_crashes_the_caller() -> None:
    """An unexpected exception inside a channel becomes a failed delivery, not a raise."""
    crashing = Flaky(failures=99, exc=ZeroDivisionError("oops"))
    fine = RecordingChannel()
    manager, _ = _manager(crashing, fine, retry_attempts=2)
    outcome = manager.send_data_quality_alert("order_hdr", "3 rejects", severity="high")
    assert outcome.for_channel("flaky").failed
    assert outcome.for_channel("flaky").error == "ZeroDivisionError: oops"
    assert outcome.for_channel("recording").delivered


def test_channels_below_their_minimum_severity_are_skipped() -> None:
    """Each channel gets only alerts at or above its minimum severity."""
    low, high = RecordingChannel(min_severity="low"), Flaky(0)
    high.min_severity = Severity.HIGH
    manager, _ = _manager(low, high)
    medium = manager.alert("performance_degradation", "medium", "slow")
    critical = manager.alert("pipeline_failure", "critical", "down")
    assert medium.for_channel("flaky").status == "skipped"
    assert medium.for_channel("recording").delivered
    assert critical.for_channel("flaky").delivered
    assert [a.severity for a in high.sent] == [Severity.CRITICAL]


def test_repeats_are_deduplicated_by_fingerprint() -> None:
    """The same (type, pipeline, stream) is sent once; another stream is a new alert."""
    rec = RecordingChannel()
    clock = FakeClock()
    manager, _ = _manager(rec, cooldown_s=60, clock=clock)
    first = manager.send_data_quality_alert("order_hdr", "x", pipeline_name="p")
    again = manager.send_data_quality_alert("order_hdr", "different words", pipeline_name="p")
    other = manager.send_data_quality_alert("order_dtl", "x", pipeline_name="p")
    assert not first.suppressed and again.suppressed and not other.suppressed
    assert again.deliveries == ()
    assert [a.stream for a in rec.alerts] == ["order_hdr", "order_dtl"]


def test_cooldown_expiry_lets_the_alert_through_with_the_held_count() -> None:
    """After the cooldown the alert is sent again and says how many repeats were held."""
    rec = RecordingChannel()
    clock = FakeClock()
    manager, _ = _manager(rec, cooldown_s=60, clock=clock)
    manager.send_pipeline_failure_alert("p", "boom")
    clock.now += 30
    assert manager.send_pipeline_failure_alert("p", "boom").suppressed
    assert manager.send_pipeline_failure_alert("p", "boom").suppressed
    clock.now += 31
    outcome = manager.send_pipeline_failure_alert("p", "boom")
    assert not outcome.suppressed
    assert len(rec.alerts) == 2
    assert rec.alerts[1].context["suppressed_repeats"] == 2


def test_success_after_failure_sends_one_resolved_message() -> None:
    """A pipeline that succeeds after failing gets a resolved message, once."""
    rec = RecordingChannel()
    manager, _ = _manager(rec, cooldown_s=600, clock=FakeClock())
    manager.send_pipeline_failure_alert("wms-sync", "exit 1")
    manager.send_data_quality_alert("order_hdr", "bad", pipeline_name="wms-sync")
    resolved = manager.pipeline_succeeded("wms-sync")
    assert len(resolved) == 2
    assert all(o.alert.resolved for o in resolved)
    assert {o.alert.alert_type for o in resolved} == {
        AlertType.PIPELINE_FAILURE,
        AlertType.DATA_QUALITY_ISSUE,
    }
    assert manager.pipeline_succeeded("wms-sync") == []
    assert manager.active == {}
    # After resolving, a new failure is news again: no cooldown applies.
    assert not manager.send_pipeline_failure_alert("wms-sync", "exit 1").suppressed


def test_success_without_a_prior_failure_sends_nothing() -> None:
    """No resolved message for a pipeline that was not failing."""
    rec = RecordingChannel()
    manager, _ = _manager(rec)
    assert manager.pipeline_succeeded("quiet") == []
    assert manager.resolve("pipeline_failure", pipeline_name="quiet") is None
    assert rec.alerts == []


def test_state_survives_the_process_for_cooldown_and_resolve(tmp_path: Path) -> None:
    """With a state file, a second manager (the next run) keeps cooldowns and resolves."""
    state = tmp_path / "state.json"
    clock = FakeClock()
    first_rec = RecordingChannel()
    first, _ = _manager(first_rec, state_path=state, cooldown_s=600, clock=clock)
    first.send_pipeline_failure_alert("job", "exit 2")
    second_rec = RecordingChannel()
    second, _ = _manager(second_rec, state_path=state, cooldown_s=600, clock=clock)
    assert second.send_pipeline_failure_alert("job", "exit 2").suppressed
    [resolved] = second.pipeline_succeeded("job")
    assert resolved.alert.resolved
    assert [a.resolved for a in second_rec.alerts] == [True]


def test_the_upstream_helper_names_exist_and_send() -> None:
    """send_pipeline_failure_alert, send_connectivity_alert, send_data_quality_alert work."""
    rec = RecordingChannel()
    manager, _ = _manager(rec)
    manager.send_pipeline_failure_alert("p", RuntimeError("exit 1"))
    manager.send_connectivity_alert("oracle", "ORA-12541: no listener", pipeline_name="p")
    manager.send_data_quality_alert("order_dtl", "nulls in item_id", pipeline_name="p")
    assert [a.alert_type for a in rec.alerts] == [
        AlertType.PIPELINE_FAILURE,
        AlertType.CONNECTIVITY_FAILURE,
        AlertType.DATA_QUALITY_ISSUE,
    ]
    assert rec.alerts[0].message == "pipeline p failed: RuntimeError: exit 1"


@pytest.mark.parametrize(
    ("helper", "first", "second"),
    [
        ("send_pipeline_failure_alert", "job", "boom"),
        ("send_connectivity_alert", "oracle", "ORA-12541"),
        ("send_data_quality_alert", "order_dtl", "nulls in item_id"),
    ],
)
def test_upstream_callers_may_pass_context_positionally(
    helper: str, first: str, second: str
) -> None:
    """helper("job", "boom", {"stream": "x"}) works as upstream calls it; the keyword form too."""
    rec = RecordingChannel()
    manager, _ = _manager(rec)
    getattr(manager, helper)(first, second, {"stream": "x", "n": 1})
    getattr(manager, helper)(f"{first}-2", second, context={"stream": "y", "n": 2})
    assert [a.context["n"] for a in rec.alerts] == [1, 2]
    assert rec.alerts[0].context["stream"] == "x"


def test_test_profile_records_alerts_in_memory_and_on_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The test container's alert_manager has the recording channel and FLEXT_ALERT_RECORD_DIR."""
    monkeypatch.setenv("FLEXT_ALERT_RECORD_DIR", str(tmp_path / "alerts"))
    container = configure_for_testing(load_settings(environment="test"))
    try:
        manager = container.resolve("alert_manager")
        assert manager is container.resolve(AlertManager)
        manager.send_connectivity_alert("api", "refused")
        recording = manager.channel("recording")
        assert isinstance(recording, RecordingChannel)
        assert len(recording.alerts) == 1
    finally:
        container.dispose()
    [row] = read_recorded_alerts(tmp_path / "alerts")
    assert row["alert_type"] == "connectivity_failure"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"smtp_host": "mail"}, "FLEXT_ALERT_EMAIL_TO"),
        ({"email_to": "a@b"}, "FLEXT_ALERT_SMTP_HOST"),
        ({"webhook_url": "not a url"}, "FLEXT_ALERT_WEBHOOK_URL"),
        ({"smtp_host": "m", "email_to": "a@b", "smtp_user": "u"}, "FLEXT_ALERT_SMTP_PASSWORD"),
    ],
)
def test_alert_settings_problems_name_the_variable(values: dict[str, Any], problem: str) -> None:
    """Inconsistent FLEXT_ALERT_* settings are reported with the variable to fix."""
    problems = check_alert_settings(AlertSettings(**values))
    assert any(p.startswith(problem) for p in problems), problems


def test_health_reports_each_channel(receiver: Receiver, closed_url: str) -> None:
    """health() probes every channel without sending, and fails when one is down."""
    manager, _ = _manager(WebhookChannel(receiver.url), SlackChannel(closed_url))
    try:
        result = manager.health()
    finally:
        manager.close()
    assert result.is_failure
    assert result.error is not None and "slack" in result.error
    assert receiver.bodies == []
