"""Rules from plugin settings and YAML; the shipped WMS rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flext_infra import ConfigurationError
from flext_infra.quality import DataValidator, load_rules, parse_duration

ROOT = Path(__file__).resolve().parents[2]
WMS_RULES = ROOT / "config" / "validation" / "wms.yml"


def test_rules_load_from_a_yaml_file(tmp_path: Path) -> None:
    """A YAML file gives defaults and per-stream rules."""
    path = tmp_path / "rules.yml"
    path.write_text(
        "defaults: {max_reject_ratio: 0.1}\n"
        "streams:\n  s:\n    required: [a]\n    fields: {b: {enum: [1, 2]}}\n"
    )
    config = load_rules(path)
    assert config.thresholds("s").max_reject_ratio == 0.1
    rules = config.for_stream("s").field_rules()
    assert rules["a"].required and rules["b"].enum == [1, 2]


def test_plugin_settings_can_name_a_rules_file_and_override_streams(tmp_path: Path) -> None:
    """Inline streams in plugin settings win over the rules_file's same-named streams."""
    (tmp_path / "base.yml").write_text(
        "streams:\n  a: {required: [x]}\n  b: {required: [y]}\ndefaults: {min_records: 3}\n"
    )
    config = load_rules(
        {"rules_file": "base.yml", "streams": {"b": {"required": ["z"]}}}, base_dir=tmp_path
    )
    assert config.for_stream("a").required == ["x"]
    assert config.for_stream("b").required == ["z"]
    assert config.defaults.min_records == 3


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        ({"streams": {"s": {"fields": {"x": {"regex": "(unclosed"}}}}}, "streams.s.fields.x.regex"),
        ({"streams": {"s": {"fields": {"x": {"min": 5, "max": 1}}}}}, "streams.s.fields.x"),
        ({"streams": {"s": {"fields": {"x": {"enum": []}}}}}, "streams.s.fields.x.enum"),
        ({"streams": {"s": {"fields": {"x": {"nullable": True}}}}}, "nullable"),
        ({"defaults": {"max_reject_ratio": 2}}, "defaults.max_reject_ratio"),
        ({"streams": {"s": {"freshness": {"max_age": "soon"}}}}, "streams.s.freshness.max_age"),
    ],
)
def test_invalid_rules_name_the_key_path(rules: dict[str, object], named: str) -> None:
    """A broken rule fails with a ConfigurationError naming where it is."""
    with pytest.raises(ConfigurationError) as info:
        load_rules(rules)
    assert named in str(info.value)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    """A YAML syntax error names the file."""
    path = tmp_path / "bad.yml"
    path.write_text("streams: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"bad\.yml"):
        load_rules(path)


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("2d", 172800.0)]
)
def test_durations_parse(text: str | int, seconds: float) -> None:
    """Durations accept seconds or s/m/h/d/w suffixes."""
    assert parse_duration(text) == seconds


def test_shipped_wms_rules_accept_the_sample_api_data() -> None:
    """The shipped WMS rules pass every record the sample API serves."""
    from flext_infra.testing import SampleApi

    with SampleApi(records=300) as api:
        batches = {
            entity: [api.record(entity, i) for i in range(1, api.count(entity) + 1)]
            for entity in ("order_hdr", "order_dtl", "allocation")
        }
    newest = max(
        datetime.fromisoformat(r["mod_ts"]) for records in batches.values() for r in records
    )
    v = DataValidator(WMS_RULES, clock=lambda: newest + timedelta(hours=1))
    for entity, records in batches.items():
        _, rejects = v.validate_batch(entity, records, ["id"], replication_key="mod_ts")
        assert rejects == [], rejects[:3]
    report = v.finish()
    assert report.ok and report.warnings == []
    assert report.records == 900


def test_shipped_wms_rules_catch_bad_status_codes_and_negative_quantities() -> None:
    """The WMS rules reject an unknown status, a negative quantity and a null key."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    v = DataValidator(WMS_RULES, clock=lambda: now)
    good = {
        "id": 1, "order_id": {"id": 1, "key": "ORD1"}, "seq_nbr": 1,
        "item_id": {"id": 1, "key": "ITEM1"}, "ord_qty": 1.0, "orig_ord_qty": 1.0,
        "alloc_qty": 0, "status_id": 10, "mod_ts": now.isoformat(),
    }  # fmt: skip
    batch = [
        good,
        {**good, "id": 2, "status_id": 15},
        {**good, "id": 3, "alloc_qty": -1},
        {**good, "id": 4, "order_id": {"id": None, "key": "X"}},
    ]
    _, rejects = v.validate_batch("order_dtl", batch, ["id"], replication_key="mod_ts")
    assert [(r.key["id"], r.field, r.rule) for r in rejects] == [
        (2, "status_id", "enum"),
        (3, "alloc_qty", "range"),
        (4, "order_id.id", "not_null"),
    ]
