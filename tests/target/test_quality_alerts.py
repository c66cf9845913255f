"""A threshold broken inside the real target raises its alert (one validator builder for all)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flext_infra.alerts import read_recorded_alerts

SCRIPT = Path(sys.executable).parent / "target-flext-oracle"


def test_a_reject_ratio_broken_in_the_target_raises_threshold_breach(tmp_path: Path) -> None:
    """Half the records break a range rule: the target fails and a threshold_breach alert is
    delivered for the stream, named after the plugin, as the data_validator service would."""
    config = {
        "sqlalchemy_url": f"sqlite:///{tmp_path / 'w.db'}",
        "reject_path": str(tmp_path / "rejects"),
        "validation": {
            "defaults": {"max_reject_ratio": 0.1},
            "streams": {"s": {"fields": {"qty": {"min": 0}}}},
        },
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "integer"}, "qty": {"type": "integer"}}},
    }
    records = [{"id": i, "qty": -1 if i % 2 else 1} for i in range(20)]
    lines = [json.dumps(schema)]
    lines += [json.dumps({"type": "RECORD", "stream": "s", "record": r}) for r in records]
    env = {"FLEXT_ENVIRONMENT": "test", "FLEXT_ALERT_RECORD_DIR": str(tmp_path / "alerts"),
           "FLEXT_RUNS_RECORD_PLUGIN_RUNS": "false", "PATH": "/usr/bin:/bin"}  # fmt: skip
    proc = subprocess.run(
        [str(SCRIPT), "--config", str(tmp_path / "config.json")],
        input="\n".join(lines).encode(), capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0, proc.stderr.decode()[-2000:]
    alerts = read_recorded_alerts(tmp_path / "alerts")
    breach = [a for a in alerts if a["alert_type"] == "threshold_breach"]
    assert len(breach) == 1, alerts
    assert breach[0]["context"]["stream"] == "s"
    assert breach[0]["pipeline_name"] == "target-flext-oracle"
    assert "threshold broken for s" in breach[0]["message"]
