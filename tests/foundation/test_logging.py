"""Logging: structlog to stderr, one pipeline, secrets redacted."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import structlog

from flext_infra import bind_context, configure_logging, get_logger, load_settings, log_context
from flext_infra.observability import Redactor


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler).__name__ == "_StderrHandler":
            root.removeHandler(handler)
    structlog.reset_defaults()


def test_logs_go_to_stderr_with_secret_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Log lines land on stderr (never stdout) with secret keys and values masked."""
    monkeypatch.setenv("FLEXT_ORACLE_PASSWORD", "tiger-secret-77")
    configure_logging(load_settings(), fmt="json")
    log = get_logger("flext.test")
    log.info("db.connect", password="tiger-secret-77", user="scott")
    log.warning("db.failed", detail="login with tiger-secret-77 refused")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [json.loads(x) for x in captured.err.splitlines()]
    assert lines[0]["event"] == "db.connect"
    assert lines[0]["password"] == "**********"
    assert lines[0]["user"] == "scott"
    assert "tiger-secret-77" not in captured.err
    assert "**********" in lines[1]["detail"]


def test_stdlib_loggers_share_the_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    """singer_sdk/httpx/oracledb stdlib records are rendered and redacted by the same pipeline."""
    configure_logging(level="DEBUG", fmt="json")
    logging.getLogger("singer_sdk.metrics").info("hello from %s", "sdk")
    logging.getLogger("sqlalchemy.engine").warning("connect postgresql://app:pa55word@db/x failed")
    err = capsys.readouterr().err
    records = [json.loads(x) for x in err.splitlines()]
    assert records[0]["event"] == "hello from sdk"
    assert records[0]["logger"] == "singer_sdk.metrics"
    assert "pa55word" not in err and "postgresql://app:**********@db/x" in err


def test_context_is_bound_through_contextvars(capsys: pytest.CaptureFixture[str]) -> None:
    """run_id, job and stream bound once appear on every later line."""
    configure_logging(fmt="json")
    bind_context(run_id="r-1", job="incremental-sync-job")
    with log_context(stream="allocation"):
        get_logger().info("batch.loaded", rows=10)
    get_logger().info("run.done")
    first, second = (json.loads(x) for x in capsys.readouterr().err.splitlines())
    assert first["run_id"] == "r-1" and first["stream"] == "allocation"
    assert second["job"] == "incremental-sync-job" and "stream" not in second


def test_console_renderer_in_development(capsys: pytest.CaptureFixture[str]) -> None:
    """Development renders readable console lines, not JSON."""
    configure_logging(load_settings(environment="development"))
    get_logger().info("sync.started", stream="order_hdr")
    err = capsys.readouterr().err
    assert "sync.started" in err and "stream=order_hdr" in err
    assert not err.lstrip().startswith("{")


def test_redactor_masks_nested_and_url_credentials() -> None:
    """Nested mappings, lists and URL passwords are masked; falsy values are kept."""
    r = Redactor(["abcd-secret"])
    out = r.scrub(
        {
            "headers": {"Authorization": "Bearer x", "Accept": "json"},
            "items": ["abcd-secret", 0, False, ""],
            "url": "https://u:pw@host/p",
            "api_key": "",
        }
    )
    assert out["headers"] == {"Authorization": "**********", "Accept": "json"}
    assert out["items"] == ["**********", 0, False, ""]
    assert out["url"] == "https://u:**********@host/p"
    assert out["api_key"] == ""


def test_process_writes_logs_to_stderr_only() -> None:
    """In a real process, stdout stays clean for Singer messages."""
    code = textwrap.dedent(
        """
        import logging
        from flext_infra import configure_logging, get_logger
        configure_logging(fmt="json")
        get_logger().info("hello", token="zzz-secret")
        logging.getLogger("httpx").warning("from httpx")
        print('{"type": "STATE", "value": {}}')
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXT_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert proc.stdout == '{"type": "STATE", "value": {}}\n'
    assert "hello" in proc.stderr and "from httpx" in proc.stderr
    assert "zzz-secret" not in proc.stderr


def test_configure_logging_replaces_console_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    """A console handler installed earlier (as the Singer SDK does) is replaced, not doubled."""
    root = logging.getLogger()
    sdk_handler = logging.StreamHandler(sys.stderr)
    root.addHandler(sdk_handler)
    try:
        configure_logging(fmt="json")
        configure_logging(fmt="json")  # twice: still one handler
        assert sdk_handler not in root.handlers
        logging.getLogger("singer_sdk").warning("once")
        assert capsys.readouterr().err.count('"once"') == 1
    finally:
        root.removeHandler(sdk_handler)
