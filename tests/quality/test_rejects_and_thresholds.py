"""The reject store, thresholds that fail the run, alerts, and the report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flext_infra import configure_for_testing, load_settings, log_context
from flext_infra.alerts import AlertManager, AlertType, RecordingChannel, read_recorded_alerts
from flext_infra.quality import DataValidator, RejectStore, ThresholdBreachError


def _recording_manager() -> tuple[AlertManager, RecordingChannel]:
    channel = RecordingChannel()
    return AlertManager([channel], retry_attempts=1), channel


def test_rejects_are_written_with_reason_and_the_record_intact(tmp_path: Path) -> None:
    """Each JSONL entry has run id, stream, key, field, rule, reason and the whole record."""
    store = RejectStore.for_run(tmp_path / "rejects", "run-42")
    v = DataValidator({"streams": {"order_hdr": {"fields": {"status_id": {"enum": [0, 10]}}}}},
                      reject_store=store)  # fmt: skip
    record = {
        "id": 7,
        "status_id": 55,
        "qty": 0,
        "flag": False,
        "note": "",
        "nested": {"a": [1, 2]},
        "price": 1.5,
    }
    v.validate_batch("order_hdr", [record, {"id": 8, "status_id": 10}], ["id"])
    v.finish()
    lines = (tmp_path / "rejects" / "run-42.jsonl").read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["run_id"] == "run-42"
    assert entry["stream"] == "order_hdr"
    assert entry["key"] == {"id": 7}
    assert entry["field"] == "status_id"
    assert entry["rule"] == "enum"
    assert "55" in entry["reason"] and "not one of" in entry["reason"]
    assert entry["record"] == record  # 0, False and "" survive as themselves
    assert store.read() == [entry]


def test_reject_store_redacts_secrets_in_records(tmp_path: Path) -> None:
    """Secret-looking fields are masked in stored rejects; other fields are kept."""
    store = RejectStore(tmp_path / "r.jsonl", run_id="r")
    store.write("s", {"id": 1}, "x", "bad", {"id": 1, "api_key": "abc123456", "x": "v"})
    store.close()
    [entry] = store.read()
    assert entry["record"] == {"id": 1, "api_key": "**********", "x": "v"}
    assert entry["rule"] == "target"


def test_rejects_also_go_to_a_prefixed_rejects_table(tmp_path: Path) -> None:
    """With an engine, rejects are inserted into <prefix>REJECTS (real SQLite)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        store = RejectStore(tmp_path / "r.jsonl", run_id="run-7", engine=engine,
                            table_prefix="WMS_")  # fmt: skip
        v = DataValidator(reject_store=store)
        v.validate_batch("s", [{"id": None, "v": 1}, {"id": 1}, {"id": 1}], ["id"])
        store.write("s", {"id": 99}, "v", "ORA-12899: value too large", {"id": 99, "v": "x" * 5},
                    rule="database")  # fmt: skip
        v.finish(raise_on_breach=False)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT run_id, stream, record_key, field_name, rule_name, reason, "
                    'record_json FROM "WMS_REJECTS" ORDER BY rule_name'
                )
            ).all()
    finally:
        engine.dispose()
    assert [r.rule_name for r in rows] == ["database", "not_null", "unique"]
    assert all(r.run_id == "run-7" for r in rows)
    db_row = rows[0]
    assert json.loads(db_row.record_key) == {"id": 99}
    assert db_row.reason == "ORA-12899: value too large"
    assert json.loads(db_row.record_json) == {"id": 99, "v": "xxxxx"}


def test_reject_ratio_over_the_threshold_fails_the_run_and_alerts() -> None:
    """Too many rejects raise ThresholdBreachError and send a threshold_breach alert."""
    manager, channel = _recording_manager()
    v = DataValidator(
        {"defaults": {"max_reject_ratio": 0.2}, "streams": {"s": {"required": ["v"]}}},
        alert_manager=manager,
        pipeline_name="wms-sync",
    )
    v.validate_batch("s", [{"id": 1, "v": 1}, {"id": 2}, {"id": 3}], ["id"])
    with pytest.raises(ThresholdBreachError) as info:
        v.finish()
    assert "2/3 records rejected" in str(info.value)
    [alert] = channel.alerts
    assert alert.alert_type is AlertType.THRESHOLD_BREACH
    assert alert.stream == "s"
    assert alert.pipeline_name == "wms-sync"
    assert alert.context["threshold"] == "max_reject_ratio"


def test_rejects_under_the_threshold_do_not_fail_but_are_reported() -> None:
    """Below the ratio the run passes; a low data_quality_issue alert still says so."""
    manager, channel = _recording_manager()
    v = DataValidator({"defaults": {"max_reject_ratio": 0.5}}, alert_manager=manager)
    v.validate_batch("s", [{"id": 1}, {"id": None}, {"id": 3}], ["id"])
    report = v.finish()
    assert report.ok
    assert report.streams["s"].rejected == 1
    assert [a.alert_type for a in channel.alerts] == [AlertType.DATA_QUALITY_ISSUE]


def test_a_stream_expected_to_have_records_that_gets_none_fails() -> None:
    """min_records breaks on a registered stream that received zero records."""
    manager, channel = _recording_manager()
    v = DataValidator({"streams": {"allocation": {"thresholds": {"min_records": 1}}}},
                      alert_manager=manager)  # fmt: skip
    v.register_stream("allocation", {"properties": {"id": {"type": "integer"}}}, ["id"])
    report = v.finish(raise_on_breach=False)
    assert not report.ok
    [breach] = report.breaches
    assert breach.kind == "min_records"
    assert "0 records received; at least 1 expected" in breach.message
    assert channel.alerts[0].alert_type is AlertType.THRESHOLD_BREACH


def test_report_counts_per_rule_and_stream_with_samples() -> None:
    """The report counts failures per rule and field per stream, with a few samples."""
    v = DataValidator({"streams": {"a": {"fields": {"x": {"max": 5}}}}}, sample_size=2)
    v.validate_batch("a", [{"id": i, "x": i} for i in range(10)], ["id"])
    v.validate_batch("b", [{"id": 1}, {"id": 1}], ["id"])
    report = v.finish()
    a, b = report.streams["a"], report.streams["b"]
    assert (a.records, a.valid, a.rejected) == (10, 6, 4)
    assert dict(a.by_rule) == {"range": 4}
    assert dict(a.by_field) == {"x:range": 4}
    assert len(a.samples) == 2 and a.samples[0]["key"] == {"id": 6}
    assert dict(b.by_rule) == {"unique": 1}
    data = report.to_dict()
    assert data["records"] == 12 and data["rejected"] == 5
    json.dumps(data)  # the report is JSON-ready


def test_container_validator_alerts_reach_the_test_channel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The container's data_validator stores rejects per run and alerts the test channel."""
    monkeypatch.setenv("FLEXT_ALERT_RECORD_DIR", str(tmp_path / "alerts"))
    container = configure_for_testing(load_settings(environment="test"))
    try:
        with log_context(run_id="run-abc"), container.scope() as scope:
            v = scope.resolve("data_validator")
            assert scope.resolve(DataValidator) is not v  # transient
            v.configure({"defaults": {"max_reject_ratio": 0.0}})
            v.validate_batch("order_dtl", [{"id": 1}, {"id": None}], ["id"])
            with pytest.raises(ThresholdBreachError):
                v.finish()
            reject_path = Path(str(v.reject_store.path))
            assert reject_path.name == "run-abc.jsonl"
            assert json.loads(reject_path.read_text())["rule"] == "not_null"
        recording = container.resolve("alert_manager").channel("recording")
        assert [a.alert_type for a in recording.alerts] == [AlertType.THRESHOLD_BREACH]
    finally:
        container.dispose()
    rows: list[dict[str, Any]] = read_recorded_alerts(tmp_path / "alerts")
    assert rows[0]["alert_type"] == "threshold_breach"
    assert rows[0]["context"]["stream"] == "order_dtl"


@pytest.mark.postgres
def test_rejects_table_on_postgresql() -> None:
    """The <prefix>REJECTS table works on the real PostgreSQL on 127.0.0.1."""
    import uuid

    prefix = f"T{uuid.uuid4().hex[:8].upper()}_"
    url = (
        os.environ.get("FLEXT_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    engine = sa.create_engine(url)
    store = RejectStore(None, run_id="pg-run", engine=engine, table_prefix=prefix)
    try:
        store.write("order_hdr", {"id": 5}, "status_id", "bad status", {"id": 5, "status_id": 55},
                    rule="enum")  # fmt: skip
        store.close()
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(f'SELECT stream, rule_name, reason, record_json FROM "{prefix}REJECTS"')
            ).one()
        assert (row.stream, row.rule_name, row.reason) == ("order_hdr", "enum", "bad status")
        assert json.loads(row.record_json) == {"id": 5, "status_id": 55}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{prefix}REJECTS"'))
        engine.dispose()


def test_reject_store_takes_the_targets_reject_sink_calls(tmp_path: Path) -> None:
    """RejectStore.reject has the target's RejectSink signature and counts per stream."""
    store = RejectStore(tmp_path / "r.jsonl", run_id="r")
    store.reject("order_dtl", {"id": 3, "qty": 0}, "qty", "NUMBER overflow", {"id": 3})
    store.reject("order_dtl", {"id": 4}, None, "row rejected by the database", None)
    store.close()
    first, second = store.read()
    assert (first["key"], first["field"], first["rule"]) == ({"id": 3}, "qty", "target")
    assert first["record"] == {"id": 3, "qty": 0}
    assert (second["key"], second["field"]) == ({}, "")
    assert store.counts == {"order_dtl": 2}
