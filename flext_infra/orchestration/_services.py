"""Container registration of ``orchestrator`` (a singleton, recording into ``run_ledger``)."""

from __future__ import annotations

import functools
from pathlib import Path

from flext_infra._environment import Environment
from flext_infra.alerts import AlertManager
from flext_infra.environments._profiles import ALL, ServiceSpec
from flext_infra.orchestration._orchestrator import JobRunResult, Orchestrator
from flext_infra.runs import RunLedger
from flext_infra.settings import FlextSettings

_TEST = frozenset({Environment.TEST})


def push_job_metrics(settings: FlextSettings, ledger: RunLedger, result: JobRunResult) -> None:
    """After each run: the job's metrics, derived from the ledger, to the configured push target."""
    if not settings.metrics.enabled:
        return
    from flext_infra.metrics import LedgerCollector, push_metrics

    push_metrics(settings.metrics, result.job, [LedgerCollector(ledger, job=result.job)])


def _orchestrator(
    settings: FlextSettings, alert_manager: AlertManager, data_dir: Path, run_ledger: RunLedger
) -> Orchestrator:
    return Orchestrator(
        alert_manager=alert_manager,
        log_dir=data_dir / "runs",
        history_path=data_dir / "runs.jsonl",
        ledger=run_ledger,
        stop_grace_s=settings.runs.stop_grace_s,
        after_run=functools.partial(push_job_metrics, settings, run_ledger),
    )


def _test_orchestrator(
    settings: FlextSettings, alert_manager: AlertManager, data_dir: Path, run_ledger: RunLedger
) -> Orchestrator:
    # Zero waits between attempts; history beside the recorded alerts so that a
    # test can read it after the process ends (data_dir is a temp dir here).
    history = (settings.alert.record_dir or data_dir) / "runs.jsonl"
    return Orchestrator(
        alert_manager=alert_manager,
        log_dir=data_dir / "runs",
        history_path=history,
        backoff_s=0.0,
        backoff_max_s=0.0,
        ledger=run_ledger,
        stop_grace_s=settings.runs.stop_grace_s,
        after_run=functools.partial(push_job_metrics, settings, run_ledger),
    )


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("orchestrator", _orchestrator, environments=ALL - _TEST, aliases=(Orchestrator,)),
    ServiceSpec("orchestrator", _test_orchestrator, environments=_TEST, aliases=(Orchestrator,)),
)
