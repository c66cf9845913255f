"""plugin_run: one plugin process's container, run context and alerts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flext_infra.alerts import read_recorded_alerts
from flext_infra.runtime import current_run, is_sync_invocation, plugin_run


class classproperty:
    """A read-only class-level property."""

    def __init__(self, fget: Any) -> None:
        self.fget = fget

    def __get__(self, instance: object, owner: type) -> Any:
        return self.fget(owner)


@pytest.fixture
def alert_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test profile's recording alert channel, written under a temp dir."""
    record_dir = tmp_path / "alerts"
    monkeypatch.setenv("FLEXT_ALERT_RECORD_DIR", str(record_dir))
    monkeypatch.setenv("FLEXT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MELTANO_EXTRACTOR_NAME", raising=False)
    monkeypatch.delenv("MELTANO_LOADER_NAME", raising=False)
    monkeypatch.setenv("MELTANO_RUN_ID", "run-123")
    return record_dir


def test_failed_sync_raises_a_pipeline_failure_alert(alert_dir: Path) -> None:
    """An exception escaping a sync raises pipeline_failure and still disposes the container."""
    seen = []

    def sync() -> None:
        with plugin_run("tap-x", environment="test", argv=[]) as run:
            seen.append((run, current_run()))
            raise ConnectionError("API unreachable")

    with pytest.raises(ConnectionError):
        sync()
    run, current = seen[0]
    assert current is run
    assert run.container.disposed
    assert current_run() is None
    (alert,) = read_recorded_alerts(alert_dir)
    assert alert["alert_type"] == "pipeline_failure"
    assert alert["pipeline_name"] == "tap-x"
    assert "API unreachable" in alert["message"]
    assert alert["context"]["run_id"] == "run-123"


def test_nonzero_exit_is_a_failure_and_zero_exit_resolves(alert_dir: Path) -> None:
    """SystemExit(1) alerts; a later SystemExit(0) of the same pipeline sends resolved."""
    with pytest.raises(SystemExit), plugin_run("tap-x", environment="test", argv=[]):
        raise SystemExit(1)
    with pytest.raises(SystemExit), plugin_run("tap-x", environment="test", argv=[]):
        raise SystemExit(0)
    kinds = [(a["alert_type"], a["context"]["resolved"]) for a in read_recorded_alerts(alert_dir)]
    assert kinds == [("pipeline_failure", False), ("pipeline_failure", True)]


def test_discovery_failure_alerts_but_success_resolves_nothing(alert_dir: Path) -> None:
    """meltano run discovers first: a failed discovery alerts; a working one resolves nothing."""
    with (
        pytest.raises(ValueError, match="bad"),
        plugin_run("tap-x", environment="test", argv=["--config", "c.json", "--discover"]),
    ):
        raise ValueError("bad")
    with plugin_run("tap-x", environment="test", argv=["--discover"]):
        pass
    alerts = read_recorded_alerts(alert_dir)
    assert [(a["alert_type"], a["context"]["resolved"]) for a in alerts] == [
        ("pipeline_failure", False)
    ]


def test_about_never_alerts(alert_dir: Path) -> None:
    """--about failing is the caller's error, not a pipeline failure."""
    with (
        pytest.raises(ValueError, match="bad"),
        plugin_run("tap-x", environment="test", argv=["--about", "--format=json"]),
    ):
        raise ValueError("bad")
    assert read_recorded_alerts(alert_dir) == []


def test_meltano_plugin_name_names_the_pipeline(
    alert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Meltano the pipeline is the plugin's Meltano name (per-entity jobs differ)."""
    monkeypatch.setenv("MELTANO_EXTRACTOR_NAME", "tap-flext-api--allocation")
    with plugin_run("tap-flext-api", environment="test", argv=[]) as run:
        assert run.pipeline == "tap-flext-api--allocation"
        assert run.run_id == "run-123"
    # Meltano gives the loader its extractor's name as well: the loader keeps its own.
    monkeypatch.setenv("MELTANO_LOADER_NAME", "target-flext-oracle--overwrite")
    with plugin_run("target-flext-oracle", environment="test", argv=[]) as run:
        assert run.pipeline == "target-flext-oracle--overwrite"


@pytest.mark.parametrize(
    ("argv", "sync"),
    [
        ([], True),
        (["--config", "c.json", "--catalog", "cat.json"], True),
        (["--about", "--format=json"], False),
        (["--discover"], False),
        (["--version"], False),
    ],
)
def test_is_sync_invocation(argv: list[str], sync: bool) -> None:
    """Only sync invocations raise or resolve alerts."""
    assert is_sync_invocation(argv) is sync


def test_plugin_run_keeps_stdout_for_singer(
    alert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Log lines and alerts raised inside a plugin run go to stderr, never stdout."""
    with pytest.raises(RuntimeError), plugin_run("tap-x", environment="test", argv=[]):
        raise RuntimeError("boom")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "alert.raised" in captured.err


def test_run_plugin_cli_runs_the_command_with_one_log_pipeline(
    alert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plugin's command runs inside the runtime, and a handler added by `cli` is replaced."""
    import logging
    import sys

    from flext_infra.runtime import run_plugin_cli

    class Plugin:
        calls: ClassVar[list[str]] = []

        @classmethod
        def _command(cls) -> None:
            cls.calls.append("run")
            logging.getLogger("singer_sdk").warning("from the sdk")

        @classproperty
        def cli(cls) -> Any:
            # Like the Singer SDK: reading `cli` installs a console handler.
            logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
            return cls._command

    run_plugin_cli("tap-x", Plugin)
    assert Plugin.calls == ["run"]
    assert capsys.readouterr().err.count("from the sdk") == 1


def test_current_settings_come_from_the_runtime_container(
    alert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a plugin run the settings are the container's; outside they are read afresh."""
    from flext_infra import FlextSettings
    from flext_infra.runtime import current_settings

    with plugin_run("tap-x", environment="test", argv=[]) as run:
        assert current_settings() is run.container.resolve(FlextSettings)
    monkeypatch.setenv("FLEXT_DATA_DIR", "/tmp/flext-elsewhere")
    assert str(current_settings().data_dir) == "/tmp/flext-elsewhere"


def test_plugin_container_holds_the_runtime_services_only(alert_dir: Path) -> None:
    """A plugin's container has the core services and alerts; the other subsystems are neither
    registered nor imported (checked in a child, whose imports start clean)."""
    code = (
        "import sys\n"
        "from flext_infra.runtime import plugin_run\n"
        "with plugin_run('tap-x', environment='test', argv=[]) as run:\n"
        "    keys = {k for k in run.container.keys if isinstance(k, str)}\n"
        "loaded = [m for m in ('quality', 'database', 'orchestration', 'http')\n"
        "          if f'flext_infra.{m}._services' in sys.modules]\n"
        "print(sorted(keys), loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['alert_manager', 'data_dir', 'logger', 'settings'] []"


def test_unknown_subsystem_is_refused() -> None:
    """A typo in ``subsystems`` fails naming the known ones, rather than registering nothing."""
    from flext_infra import FlextContainer

    with pytest.raises(ValueError, match="unknown subsystems \\['htp'\\]; known: alerts"):
        FlextContainer.for_environment("test", subsystems=("htp",))


def test_tune_gc_for_cli_freezes_imports_and_keeps_the_thresholds() -> None:
    """The console scripts' collector settings (checked in a child: never in the test process)."""
    code = (
        "import gc\n"
        "from flext_infra.runtime import tune_gc_for_cli\n"
        "before = gc.get_threshold()\n"
        "tune_gc_for_cli()\n"
        "print(before[0], gc.get_threshold(), gc.get_freeze_count() > 1000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split("\n")[-2] == "700 (700, 10, 10) True"
