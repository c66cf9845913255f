"""A plugin process records its own run; stop signals are the runtime's, not the SDK's."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from singer_sdk.plugin_base import PluginBase

from flext_infra.runs import RunKind, RunLedger, RunStatus, StreamRun
from flext_infra.runtime import (
    RuntimeSignals,
    Terminated,
    current_tally,
    plugin_run,
    report_streams,
    stop_on_signals,
)
from flext_infra.runtime._recorder import outcome


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunLedger:
    """FLEXT_RUNS_URL on an SQLite file; Meltano's run id set."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("FLEXT_RUNS_URL", url)
    monkeypatch.setenv("FLEXT_ALERT_RECORD_DIR", str(tmp_path / "alerts"))
    monkeypatch.setenv("MELTANO_RUN_ID", "meltano-run-1")
    monkeypatch.setenv("FLEXT_RUNS_TRIGGER", "schedule")
    monkeypatch.delenv("MELTANO_EXTRACTOR_NAME", raising=False)
    monkeypatch.delenv("MELTANO_LOADER_NAME", raising=False)
    return RunLedger.from_url(url)


def test_a_sync_records_its_row_with_tally_and_hook_numbers(ledger: RunLedger) -> None:
    """The row: running during the sync, then succeeded with the tally and the hook's bookmarks."""
    with plugin_run("tap-x", environment="test", argv=[]) as run:
        assert run.recorder is not None
        run.recorder._opening.join()
        [row] = ledger.list_runs()
        assert row.status is RunStatus.RUNNING and row.kind is RunKind.EXTRACTOR
        assert row.link_id == "meltano-run-1" and str(row.trigger) == "schedule"
        current_tally().add("orders", read=7, retries=1)
        current_tally().add("empty")
        report_streams(lambda: [StreamRun("orders", bookmark_before="a", bookmark_after="b")])
        assert run.recorder is not None
    [done] = ledger.list_runs()
    assert done.status is RunStatus.SUCCEEDED and done.exit_code == 0
    got = [(s.stream, s.records_read, s.retries, s.bookmark_before, s.bookmark_after)
           for s in done.streams]  # fmt: skip
    assert got == [("empty", 0, 0, None, None), ("orders", 7, 1, "a", "b")]


def test_a_target_row_is_a_loader_row_and_a_failure_is_recorded(ledger: RunLedger) -> None:
    """A target's failed sync: kind loader, status failed, exit 1, the error named."""
    with pytest.raises(RuntimeError), plugin_run("target-y", environment="test", argv=[]):
        raise RuntimeError("the database went away")
    [row] = ledger.list_runs()
    assert row.kind is RunKind.LOADER and row.status is RunStatus.FAILED and row.exit_code == 1
    assert row.error == "RuntimeError: the database went away"


def test_metadata_calls_record_nothing(ledger: RunLedger) -> None:
    """--about and --discover are not runs."""
    for argv in (["--about"], ["--discover"]):
        with plugin_run("tap-x", environment="test", argv=argv) as run:
            assert run.recorder is None
    assert ledger.list_runs() == []


def test_an_unreachable_ledger_never_fails_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger URL that cannot be opened is logged; the sync runs and succeeds."""
    monkeypatch.setenv("FLEXT_RUNS_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("FLEXT_ALERT_RECORD_DIR", str(tmp_path / "alerts"))
    with plugin_run("tap-x", environment="test", argv=[]) as run:
        current_tally().add("s", read=1)
    assert run.recorder is not None and run.recorder.ledger is None


@pytest.mark.parametrize(
    ("ending", "status", "code"),
    [
        (None, RunStatus.SUCCEEDED, 0),
        (SystemExit(0), RunStatus.SUCCEEDED, 0),
        (SystemExit(75), RunStatus.QUOTA_EXHAUSTED, 75),
        (SystemExit(2), RunStatus.FAILED, 2),
        (Terminated(signal.SIGTERM), RunStatus.TERMINATED, 143),
        (Terminated(signal.SIGINT), RunStatus.TERMINATED, 130),
        (KeyboardInterrupt(), RunStatus.TERMINATED, 130),
        (ValueError("x"), RunStatus.FAILED, 1),
    ],
)
def test_how_a_plugin_process_ends_decides_its_status_and_code(
    ending: BaseException | None, status: RunStatus, code: int
) -> None:
    """Exit codes map to ledger statuses: 75 is quota_exhausted, signals are terminated."""
    assert outcome(ending)[:2] == (status, code)


def test_a_stop_signal_raises_terminated_in_the_main_thread_once() -> None:
    """The first SIGTERM raises Terminated; a second one while unwinding is only logged."""
    caught: list[int] = []
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as received:
        try:
            signal.raise_signal(signal.SIGTERM)
        except Terminated as stop:
            caught.append(stop.exit_code)
            signal.raise_signal(signal.SIGTERM)  # ignored: already stopping
    assert caught == [143] and received == [signal.SIGTERM, signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back


def test_the_sdk_still_has_the_signal_hook_the_plugins_replace() -> None:
    """Adapter check: singer-sdk installs its handlers in PluginBase._setup_signal_handlers;
    if the SDK renames it, the plugins' RuntimeSignals override silently stops working."""
    assert callable(getattr(PluginBase, "_setup_signal_handlers", None))
    from tap_flext_api import TapFlextApi
    from target_flext_oracle import TargetFlextOracle

    for plugin in (TapFlextApi, TargetFlextOracle):
        assert plugin._setup_signal_handlers is RuntimeSignals._setup_signal_handlers


def test_building_a_target_leaves_the_runtime_handlers_in_place(tmp_path: Path) -> None:
    """Creating the SDK plugin object does not replace the handler the runtime installed."""
    from target_flext_oracle import TargetFlextOracle

    with stop_on_signals():
        ours = signal.getsignal(signal.SIGTERM)
        target = TargetFlextOracle(config={"sqlalchemy_url": f"sqlite:///{tmp_path}/t.db"})
        assert signal.getsignal(signal.SIGTERM) is ours
        target.close()


def test_a_signal_inside_a_deferred_block_takes_effect_when_it_ends() -> None:
    """signals_deferred: a commit and its count are never split by a stop signal."""
    from flext_infra.runtime import signals_deferred

    done: list[str] = []

    def commit_then_count() -> None:
        with signals_deferred():
            signal.raise_signal(signal.SIGTERM)
            done.append("commit")
            done.append("count")
        done.append("never")

    with stop_on_signals(), pytest.raises(Terminated) as stopped:
        commit_then_count()
    assert done == ["commit", "count"] and stopped.value.exit_code == 143
