"""Environments: each registers its own services, declared as data."""

from __future__ import annotations

import pytest

from flext_infra import Container, Environment, FlextContainer, FlextSettings, configure_for_testing
from flext_infra.environments import (
    ServiceSpec,
    register_profile,
    validate_environment,
    validate_environments,
)
from flext_infra.settings import load_settings


def test_environment_from_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """FLEXT_ENVIRONMENT chooses the environment; development is the default."""
    assert Environment.current() is Environment.DEVELOPMENT
    monkeypatch.setenv("FLEXT_ENVIRONMENT", "prod")
    assert Environment.current() is Environment.PRODUCTION


@pytest.mark.parametrize("env", list(Environment))
def test_for_environment_for_all_four(env: Environment) -> None:
    """for_environment builds each environment's container with its settings and services."""
    container = FlextContainer.for_environment(env)
    try:
        assert container.environment is env
        settings = container.resolve("settings")
        assert isinstance(settings, FlextSettings)
        assert container.resolve(FlextSettings) is settings
        assert settings.environment is env
        assert container.validate().ok, container.validate().problems()
        data_dir = container.resolve("data_dir")
        assert data_dir.is_dir()
    finally:
        container.dispose()


def test_environment_from_settings_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no explicit environment, FLEXT_ENVIRONMENT picks the profile."""
    monkeypatch.setenv("FLEXT_ENVIRONMENT", "test")
    container = FlextContainer.for_environment()
    try:
        assert container.environment is Environment.TEST
    finally:
        container.dispose()


def test_configure_for_testing_uses_a_temporary_data_dir() -> None:
    """The test profile's data dir is temporary and removed on dispose."""
    container = configure_for_testing()
    data_dir = container.resolve("data_dir")
    assert data_dir.is_dir() and "flext-test-" in data_dir.name
    container.dispose()
    assert not data_dir.exists()


def test_upstream_alias_methods_register_profiles() -> None:
    """register_*_services() are thin aliases registering that profile."""
    for method, env in [
        ("register_production_services", Environment.PRODUCTION),
        ("register_development_services", Environment.DEVELOPMENT),
        ("register_test_services", Environment.TEST),
    ]:
        c = FlextContainer()
        getattr(c, method)(load_settings(environment=env))
        assert c.resolve("settings").environment is env
        c.dispose()


def test_specs_apply_only_to_their_environments() -> None:
    """A spec limited to some environments is registered only there."""
    spec = ServiceSpec("only_prod", lambda: "p", environments=frozenset({Environment.PRODUCTION}))
    for env, expected in [(Environment.PRODUCTION, True), (Environment.TEST, False)]:
        c = Container()
        register_profile(c, env, load_settings(environment=env), [spec])
        assert c.is_registered("only_prod") is expected
        c.dispose()


def test_validate_all_four_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped profiles validate in all four environments when Oracle is configured."""
    for name, value in {
        "HOST": "db.example",
        "SERVICE_NAME": "wms",
        "USER": "wms_loader",
        "PASSWORD": "pw-not-used",
    }.items():
        monkeypatch.setenv(f"FLEXT_ORACLE_{name}", value)
    reports = validate_environments()
    assert set(reports) == set(Environment)
    for env, report in reports.items():
        assert report.ok, (env, report.problems())


def test_validate_environment_reports_bad_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation of an environment names a bad variable instead of raising."""
    monkeypatch.setenv("FLEXT_API_MAX_RETRIES", "-1")
    report = validate_environment("staging")
    assert not report.ok
    assert any(p.startswith("FLEXT_API_MAX_RETRIES") for p in report.problems())


def test_deployed_environments_require_oracle() -> None:
    """Staging without Oracle settings is a configuration problem naming the variables."""
    report = validate_environment("staging")
    assert not report.ok
    assert any("FLEXT_ORACLE_HOST" in p for p in report.problems())
    assert validate_environment("development").ok


def test_the_generic_container_does_not_import_the_profiles() -> None:
    """No import circle: flext_infra.container never imports flext_infra.environments."""
    import ast
    from pathlib import Path

    import flext_infra.container

    folder = Path(flext_infra.container.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("flext_infra.environments"), path
    assert not hasattr(Container, "for_environment")
    assert issubclass(FlextContainer, Container)
