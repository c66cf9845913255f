"""The CLI face: --about documents every setting, secrets never leak, auth methods work."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flext_infra.testing import Faults, SampleApi
from tap_flext_api import CONFIG_SCHEMA

from .conftest import PASSWORD, TAP, run_in_process, run_subprocess, wms_config

SECRETS = ("password", "bearer_token", "api_key", "oauth2_client_secret")


def _about(fmt: str, config: Path | None = None) -> str:
    argv = [TAP, "--about", f"--format={fmt}"]
    if config is not None:
        argv += ["--config", str(config)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def test_about_markdown_documents_every_setting() -> None:
    """tap-flext-api --about --format=markdown lists every setting with its description."""
    markdown = _about("markdown")
    rows = {
        line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")
    }
    for name, prop in CONFIG_SCHEMA["properties"].items():
        assert name in rows, name
        assert prop["description"] in rows[name], name


def test_about_json_marks_secrets_and_advertises_only_working_capabilities() -> None:
    """--about JSON flags every secret and lists only the capabilities the tap implements."""
    about = json.loads(_about("json"))
    properties = about["settings"]["properties"]
    assert all(properties[s].get("secret") is True for s in SECRETS)
    assert set(about["capabilities"]) == {
        "about", "catalog", "discover", "state", "test", "stream-maps", "schema-flattening",
        "batch",
    }  # fmt: skip


def test_about_json_documents_the_graphql_stream_settings() -> None:
    """--about lists protocol, query, variables, error and cost settings, and relay options."""
    about = json.loads(_about("json"))
    stream = about["settings"]["properties"]["streams"]["items"]["properties"]
    for name in (
        "protocol", "query", "query_file", "operation_name", "variables",
        "on_partial_errors", "retriable_error_codes", "cost_path",
    ):  # fmt: skip
        assert stream[name]["description"], name
    assert stream["protocol"]["enum"] == ["rest", "graphql"]
    assert stream["on_partial_errors"]["enum"] == ["fail", "warn", "reject"]
    paginator = stream["paginator"]["properties"]
    assert "relay" in paginator["type"]["enum"]
    assert paginator["page_info_path"]["description"]
    assert paginator["cursor_variable"]["description"]
    assert about["settings"]["properties"]["reject_path"]["description"]


def test_about_with_a_config_never_prints_secret_values(api: SampleApi, tmp_path: Path) -> None:
    """--about given a config with secrets shows none of their values."""
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(wms_config(api, bearer_token="tok-SECRET-99", api_key="key-SECRET-77"))
    )
    for fmt in ("json", "markdown"):
        text = _about(fmt, config)
        for value in (PASSWORD, "tok-SECRET-99", "key-SECRET-77"):
            assert value not in text


def test_secrets_are_redacted_in_captured_logs(
    api: SampleApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Failing runs log URLs and errors, but never a password, token or query API key."""
    api.set_faults(outage=True)
    run = run_subprocess(wms_config(api, max_retries=1), "--discover", tmp=tmp_path)
    assert run.returncode != 0
    assert "127.0.0.1" in run.stderr  # the failing URL is reported...
    assert PASSWORD not in run.stderr  # ...without the credentials

    with SampleApi(records=5, api_key=("apikey", "qk-SECRET-123456")) as keyed:
        keyed.set_faults(outage=True)
        config = {
            "base_url": keyed.base_url,
            "auth_method": "api_key",
            "api_key": "qk-SECRET-123456",
            "api_key_name": "apikey",
            "api_key_location": "query",
            "max_retries": 1,
            "streams": [{"name": "items", "path": "/generic/page/items", "records_path": "$.data",
                         "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}],
        }  # fmt: skip
        sub = run_subprocess(config, tmp=tmp_path)
        assert sub.returncode != 0
        assert "qk-SECRET-123456" not in sub.stderr
        assert "apikey=" in sub.stderr  # the URL is shown, its key masked
        run = run_in_process(config)
        assert run.error is not None and "qk-SECRET-123456" not in str(run.error)
    assert "qk-SECRET-123456" not in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("server", "auth"),
    [
        ({"username": "u1", "password": "p-Secret-1"},
         {"username": "u1", "password": "p-Secret-1"}),
        ({"api_key": ("X-API-Key", "k-Secret-2")},
         {"auth_method": "api_key", "api_key": "k-Secret-2"}),
        ({"oauth_clients": {"cid": "c-Secret-3"}},
         {"oauth2_token_url": "/oauth/token", "oauth2_client_id": "cid",
          "oauth2_client_secret": "c-Secret-3"}),
    ],
)  # fmt: skip
def test_auth_methods_reach_the_api(server: dict[str, Any], auth: dict[str, Any]) -> None:
    """Basic, API key and OAuth2 client-credentials settings authenticate against the API."""
    with SampleApi(records=12, **server) as api:
        config = {"base_url": api.base_url, **auth, "streams": [
            {"name": "items", "path": "/generic/offset/items", "records_path": "$.data",
             "paginator": {"type": "offset", "page_size": 5, "total_path": "$.total"},
             "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}]}  # fmt: skip
        run = run_in_process(config)
        assert run.error is None, run.error
        assert run.ids("items") == list(range(1, 13))


def test_wrong_credentials_are_a_fatal_error_naming_the_status(api: SampleApi) -> None:
    """A 401 is fatal (not retried) and says stream, URL, status and attempts."""
    run = run_in_process({**wms_config(api), "password": "wrong-password"})
    assert run.error is not None
    assert "stream 'allocation'" in str(run.error)
    assert "(HTTP 401, 1 attempt)" in str(run.error)
    assert "wrong-password" not in str(run.error)


def test_test_flag_reads_one_record_per_stream(api: SampleApi, tmp_path: Path) -> None:
    """--test syncs a single record per stream and exits 0."""
    run = run_subprocess(wms_config(api), "--test", tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    records = [json.loads(x) for x in run.stdout.splitlines() if '"RECORD"' in x]  # type: ignore[attr-defined]
    assert sorted(r["stream"] for r in records) == ["allocation", "order_dtl", "order_hdr"]


def test_rate_limit_and_faults_do_not_change_the_data(tmp_path: Path) -> None:
    """A local rate limit plus server 503s still give the exact records (zero waits in tests)."""
    with SampleApi(records=40, faults=Faults(fail_next=2)) as api:
        config = {"base_url": api.base_url, "rate_limit_per_second": 5, "rate_limit_burst": 2,
                  "entities": ["order_dtl"], "page_size": 10}  # fmt: skip
        run = run_in_process(config)
        assert run.error is None, run.error
        assert sorted(run.ids("order_dtl")) == list(range(1, 41))
