"""BATCH messages from the tap: what batch_config accepts (round trips: tests/workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import SampleApi
from tap_flext_api import TapFlextApi
from tap_flext_api._batch import batch_config
from tests.tap.conftest import run_subprocess, wms_config


@pytest.mark.parametrize(
    ("batch", "message"),
    [({"encoding": {"format": "parquet", "compression": "gzip"}, "storage": {"root": "/x"}},
      "only {format: jsonl, compression: gzip}"),
     ({"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": "/x"}},
      "always compresses"),
     ({"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {}},
      "batch_config.storage.root"),
     ({"encoding": {"format": "jsonl", "compression": "gzip"}, "storage": {"root": "/x"},
       "batch_size": 0}, "batch_config.batch_size")],
)  # fmt: skip
def test_a_batch_config_the_sdk_would_write_wrongly_is_refused(
    api: SampleApi, tmp_path: Path, batch: dict[str, Any], message: str
) -> None:
    """The tap exits non-zero naming the setting, before reading anything."""
    run = run_subprocess(wms_config(api, batch_config=batch), tmp=tmp_path)
    assert run.returncode != 0
    assert message in run.stderr
    assert not api.requests


def test_an_s3_root_gets_the_s3_settings_and_explicit_params_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FLEXT_S3_* reach the SDK's storage params for s3:// roots only; params given win."""
    monkeypatch.setenv("FLEXT_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FLEXT_S3_ACCESS_KEY_ID", "AKIDEXAMPLE18")
    encoding = {"format": "jsonl", "compression": "gzip"}
    s3 = batch_config({"batch_config": {"encoding": encoding, "storage": {
        "root": "s3://b/p", "params": {"endpoint_url": "http://127.0.0.1:10"}}}})  # fmt: skip
    assert s3 is not None
    assert s3.storage.params["key"] == "AKIDEXAMPLE18"
    assert s3.storage.params["endpoint_url"] == "http://127.0.0.1:10"
    assert s3.storage.params["config_kwargs"] == {"s3": {"addressing_style": "path"}}
    local = batch_config({"batch_config": {"encoding": encoding, "storage": {"root": "/x"}}})
    assert local is not None and local.storage.params == {}
    assert batch_config({}) is None


def test_the_tap_declares_the_batch_capability() -> None:
    """--about lists batch, and batch_config is a setting."""
    assert "batch" in [str(c) for c in TapFlextApi.capabilities]
    schema: dict[str, Any] = {"properties": dict(TapFlextApi.config_jsonschema["properties"])}
    TapFlextApi.append_builtin_config(schema)
    assert "batch_config" in schema["properties"]
