"""Settings: one group per concern, read from the environment, .env and a secrets dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from flext_infra import ConfigurationError, Environment, load_settings


def test_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each group reads its own FLEXT_<GROUP>_ variables."""
    monkeypatch.setenv("FLEXT_ENVIRONMENT", "staging")
    monkeypatch.setenv("FLEXT_API_TIMEOUT", "12.5")
    monkeypatch.setenv("FLEXT_ORACLE_HOST", "db.example")
    monkeypatch.setenv("FLEXT_ORACLE_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("FLEXT_ALERT_SMTP_PORT", "2525")
    s = load_settings()
    assert s.environment is Environment.STAGING
    assert s.api.timeout == 12.5
    assert s.oracle.host == "db.example"
    assert isinstance(s.oracle.password, SecretStr)
    assert s.oracle.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(s.oracle)
    assert s.alert.smtp_port == 2525


def test_settings_read_from_dotenv(tmp_path: Path) -> None:
    """A .env file in the working directory is read."""
    (tmp_path / ".env").write_text(
        "FLEXT_API_BASE_URL=http://127.0.0.1:9/api\nFLEXT_LOG_LEVEL=DEBUG\n"
    )
    s = load_settings()
    assert s.api.base_url == "http://127.0.0.1:9/api"
    assert s.log_level == "DEBUG"


def test_env_file_named_by_flext_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FLEXT_ENV_FILE names another .env file, and real variables still win over it."""
    other = tmp_path / "prod.env"
    other.write_text("FLEXT_ORACLE_HOST=from-file\nFLEXT_ORACLE_PORT=1600\n")
    monkeypatch.setenv("FLEXT_ENV_FILE", str(other))
    monkeypatch.setenv("FLEXT_ORACLE_PORT", "1700")
    s = load_settings()
    assert s.oracle.host == "from-file"
    assert s.oracle.port == 1700


def test_secrets_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secrets directory supplies one variable per file."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "flext_oracle_password").write_text("from-secret-file")
    monkeypatch.setenv("FLEXT_SECRETS_DIR", str(secrets))
    s = load_settings()
    assert s.oracle.password is not None
    assert s.oracle.password.get_secret_value() == "from-secret-file"


def test_error_message_names_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid value fails with one readable line naming each bad variable."""
    monkeypatch.setenv("FLEXT_API_TIMEOUT", "soon")
    monkeypatch.setenv("FLEXT_ORACLE_PROTOCOL", "udp")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    problems = info.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("FLEXT_API_TIMEOUT: ")
    assert "'soon'" in problems[0]
    assert problems[1].startswith("FLEXT_ORACLE_PROTOCOL: ")
    assert "validation error" not in str(info.value)  # not a pydantic dump


def test_secret_values_never_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad secret is named but its value is not repeated in the error."""
    monkeypatch.setenv("FLEXT_ORACLE_POOL_MIN", "5")
    monkeypatch.setenv("FLEXT_ORACLE_POOL_MAX", "2")
    monkeypatch.setenv("FLEXT_ORACLE_PASSWORD", "hunter22")
    with pytest.raises(ConfigurationError, match="FLEXT_ORACLE_POOL_MIN") as info:
        load_settings()
    assert "hunter22" not in str(info.value)


def test_production_refuses_to_disable_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Staging and production refuse FLEXT_API_VERIFY_TLS=false; development allows it."""
    monkeypatch.setenv("FLEXT_API_VERIFY_TLS", "false")
    assert load_settings(environment="development").api.verify_tls is False
    with pytest.raises(ConfigurationError, match=r"FLEXT_API_VERIFY_TLS: .*production"):
        load_settings(environment="production")


def test_log_format_defaults_by_environment() -> None:
    """Console logs in development and test, JSON in staging and production."""
    assert load_settings(environment="development").log_format == "console"
    assert load_settings(environment="test").log_format == "console"
    assert load_settings(environment="staging").log_format == "json"
    assert load_settings(environment="prod").log_format == "json"


def test_redacted_view_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The redacted view shows every setting with secrets masked."""
    monkeypatch.setenv("FLEXT_API_TOKEN", "tok-123456")
    view = load_settings().redacted()
    assert view["api"]["token"] == "**********"
    assert "tok-123456" not in repr(view)
