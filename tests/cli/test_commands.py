"""``flext validate``, ``config``, ``health`` and ``sample-api`` as subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import FLEXT, REPO, Flext, _base_env

#: What a deployment must provide for staging and production (the shipped files
#: read Oracle from FLEXT_ORACLE_*); validation checks completeness, not connectivity.
DEPLOYED = {
    "FLEXT_ORACLE_HOST": "db.internal",
    "FLEXT_ORACLE_SERVICE_NAME": "WMSPDB",
    "FLEXT_ORACLE_USER": "wms_loader",
    "FLEXT_ORACLE_PASSWORD": "not-a-real-password",
}


def test_validate_all_passes_for_the_shipped_configuration(flext: Flext) -> None:
    """validate --all in the project passes: settings, graphs, WMS rules and meltano.yml."""
    done = flext("validate", "--all", cwd=REPO, env=DEPLOYED)
    assert done.returncode == 0, done.stdout + done.stderr
    for env in ("development", "staging", "production", "test"):
        assert f"{env}: ok" in done.stdout
    assert "wms.yml: checked" in done.stdout
    assert "not-a-real-password" not in done.stdout + done.stderr


def test_validate_names_a_broken_setting(flext: Flext) -> None:
    """A bad variable fails validation and is named with what is wrong."""
    done = flext("validate", "--all", cwd=REPO, env={**DEPLOYED, "FLEXT_ALERT_SMTP_PORT": "abc"})
    assert done.returncode == 1
    assert "FLEXT_ALERT_SMTP_PORT" in done.stdout
    assert "integer" in done.stdout


def test_validate_names_a_missing_deployment_setting(flext: Flext) -> None:
    """Without Oracle settings, staging and production are reported invalid, naming them."""
    done = flext("validate", "--env", "production", cwd=REPO)
    assert done.returncode == 1
    assert "production: INVALID" in done.stdout
    assert "FLEXT_ORACLE_HOST" in done.stdout


def test_validate_names_a_broken_rules_file(flext: Flext, tmp_path: Path) -> None:
    """A broken validation rules file is named with the key at fault."""
    rules = tmp_path / "rules.yml"
    rules.write_text("streams:\n  order_hdr:\n    fields:\n      status_id: {enum: []}\n")
    done = flext("validate", "--env", "test", "--rules", str(rules), "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    [problem] = data["project"]
    assert str(rules) in problem and "streams.order_hdr.fields.status_id.enum" in problem


def test_validate_names_inconsistent_alert_channels(flext: Flext) -> None:
    """An SMTP host without recipients is a configuration problem in every environment."""
    done = flext("validate", "--env", "test", env={"FLEXT_ALERT_SMTP_HOST": "127.0.0.1"})
    assert done.returncode == 1
    assert "FLEXT_ALERT_EMAIL_TO" in done.stdout


def test_config_shows_each_source_and_redacts_secrets(flext: Flext, tmp_path: Path) -> None:
    """config shows env var, .env, secrets-dir and default sources; secrets are masked."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "FLEXT_ORACLE_PASSWORD").write_text("from-the-secrets-dir")
    (tmp_path / ".env").write_text("FLEXT_API_TIMEOUT=12.5\nFLEXT_API_TOKEN=dotenv-token-123\n")
    env = {"FLEXT_API_BASE_URL": "http://127.0.0.1:9", "FLEXT_SECRETS_DIR": str(secrets)}
    done = flext("config", "--json", env=env)
    assert done.returncode == 0, done.stderr
    rows = {r["variable"]: r for r in json.loads(done.stdout)}
    assert rows["FLEXT_API_BASE_URL"]["source"] == "env var"
    assert rows["FLEXT_API_TIMEOUT"] == {
        "variable": "FLEXT_API_TIMEOUT", "value": 12.5, "source": ".env file .env", "secret": False,
    }  # fmt: skip
    assert rows["FLEXT_ORACLE_PASSWORD"]["source"].startswith("secrets dir")
    assert rows["FLEXT_ORACLE_PASSWORD"]["value"] == "**********"
    assert rows["FLEXT_API_TOKEN"]["value"] == "**********"
    assert rows["FLEXT_API_MAX_RETRIES"]["source"] == "default"
    assert "from-the-secrets-dir" not in done.stdout and "dotenv-token-123" not in done.stdout
    shown = flext("config", "--show-secrets", env=env)
    assert "from-the-secrets-dir" in shown.stdout and "dotenv-token-123" in shown.stdout


def test_health_is_healthy_with_a_reachable_api(flext: Flext) -> None:
    """health pings the database, the API and the alert channels and exits 0 when all answer."""
    from flext_infra.testing import SampleApi

    with SampleApi(records=5) as api:
        done = flext("health", "--json", env={"FLEXT_API_BASE_URL": api.base_url})
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    checks = {c["name"]: c["status"] for c in data["checks"]}
    assert checks["database"] == "healthy"
    assert checks["api"] == "healthy"
    assert checks["alert:recording"] == "healthy"


def test_health_prints_what_a_person_reads(flext: Flext) -> None:
    """The database row's detail is "sqlite 3.40.1, 0.05 ms", not a Python repr."""
    done = flext("health")
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("database"))
    detail = row.split("healthy", 1)[1].strip()
    assert re.fullmatch(r"sqlite \d+\.\d+\.\d+, \d+\.\d\d ms", detail), detail
    assert "DatabaseHealth(" not in done.stdout and "dialect=" not in done.stdout


def test_health_fails_and_names_what_is_down(flext: Flext, tmp_path: Path) -> None:
    """An unreachable API and a down webhook make health exit 1, each named in the table."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "FLEXT_API_BASE_URL": f"http://127.0.0.1:{port}",
        "FLEXT_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook/secret-token",
    }
    done = flext("health", env=env)
    assert done.returncode == 1
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "unhealthy" in lines["api"]
    assert "unhealthy" in lines["alert:webhook"]
    assert "healthy" in lines["database"]
    assert "secret-token" not in done.stdout


def test_sample_api_serves_in_the_foreground(tmp_path: Path) -> None:
    """sample-api serves WMS data on loopback until interrupted, then exits cleanly."""
    proc = subprocess.Popen(
        [FLEXT, "sample-api", "--port", "0", "--records", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_base_env(),
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client() as client:
            page = client.get(f"{base_url}/wms/lgfapi/v10/entity/order_hdr/").json()
        assert len(page["results"]) == 7
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    "command", ["health", "validate", "config", "jobs", "run", "sample-api", "serve"]
)
def test_every_command_has_help(command: str) -> None:
    """Each command answers --help with exit 0 and its usage line."""
    done = subprocess.run([FLEXT, command, "--help"], capture_output=True, text=True,
                          env={**os.environ}, check=False)  # fmt: skip
    assert done.returncode == 0
    assert f"usage: flext {command}" in done.stdout
