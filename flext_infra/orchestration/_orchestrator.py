"""The orchestrator: runs Meltano jobs and reports what really happened.

Upstream, the orchestrator reported SUCCESS when ``meltano run`` failed. Here
the exit status is the verdict, the duration is measured, record counts come
from the Singer metric lines, a failure raises an alert after the retries, and
a success after a failure sends the "resolved" message.

With a :class:`~flext_infra.runs.RunLedger` every run is recorded and holds the
job's lock (and its Meltano state ids') while it runs: a second run is refused
(``refused``, exit 5, no failure alert), and so is one Meltano itself refuses.
A stop (``--timeout`` or a signal) ends the process group gracefully and is
recorded as ``terminated``. What a plugin's exit code means for the job is data
(:data:`PLUGIN_EXIT_STATUS`): the tap's 75 makes the run ``quota_exhausted``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flext_infra._errors import ConfigurationError
from flext_infra._exit import ExitCode
from flext_infra.observability import get_logger, redact
from flext_infra.orchestration._errors import MeltanoNotFoundError
from flext_infra.orchestration._metrics import RunMetrics
from flext_infra.orchestration._process import Attempt, run_attempt
from flext_infra.orchestration._project import MeltanoJob, MeltanoProject, MeltanoSchedule
from flext_infra.runs import (
    LockHeldError,
    RunKind,
    RunStatus,
    StreamRun,
    Trigger,
    merge_streams,
    state_key,
)
from flext_infra.runtime import Terminated, signal_name

if TYPE_CHECKING:
    from flext_infra.alerts import AlertManager
    from flext_infra.runs import RunLedger

log = get_logger("flext.orchestration")

#: ``flext run`` and ``Orchestrator`` statuses.
SUCCESS, FAILED, TIMED_OUT, DRY_RUN = "success", "failed", "timed_out", "dry_run"
REFUSED, TERMINATED, QUOTA_EXHAUSTED = "refused", "terminated", "quota_exhausted"

#: The ledger status of each result status (a timeout is a termination with exit 124).
LEDGER_STATUS: dict[str, RunStatus] = {
    SUCCESS: RunStatus.SUCCEEDED,
    FAILED: RunStatus.FAILED,
    TIMED_OUT: RunStatus.TERMINATED,
    REFUSED: RunStatus.REFUSED,
    TERMINATED: RunStatus.TERMINATED,
    QUOTA_EXHAUSTED: RunStatus.QUOTA_EXHAUSTED,
}

#: What a plugin's exit code makes of a failed ``meltano run``, read from Meltano's
#: ``Block run completed`` event (extractor first, then loader). Documented in
#: docs/operations.md; a plugin that adds an outcome adds a row here.
PLUGIN_EXIT_STATUS: dict[int, str] = {
    ExitCode.QUOTA_EXHAUSTED: QUOTA_EXHAUSTED,
    ExitCode.TERMINATED: TERMINATED,
    ExitCode.INTERRUPTED: TERMINATED,
    ExitCode.REFUSED: REFUSED,
}

#: ``flext run``'s exit code for each status (terminated: 128 + the signal).
EXIT_CODES: dict[str, int] = {
    SUCCESS: ExitCode.OK,
    DRY_RUN: ExitCode.OK,
    FAILED: ExitCode.FAILED,
    REFUSED: ExitCode.REFUSED,
    QUOTA_EXHAUSTED: ExitCode.QUOTA_EXHAUSTED,
    TIMED_OUT: ExitCode.TIMED_OUT,
    TERMINATED: ExitCode.TERMINATED,
}


@dataclass(frozen=True)
class JobRunResult:
    """The honest outcome of one job run (all attempts).

    Attributes:
        job: The Meltano job name.
        status: ``success``, ``failed``, ``timed_out``, ``refused``, ``terminated``,
            ``quota_exhausted`` or ``dry_run``.
        exit_code: ``meltano run``'s exit status on the last attempt (None for a dry run).
        attempts: How many times ``meltano run`` was started.
        duration_s: Wall-clock seconds over all attempts, waits included.
        started_at: When the first attempt started (UTC, ISO-8601).
        finished_at: When the last attempt ended.
        records: Records per stream from the extractor's metrics (last attempt).
        records_loaded: Records per stream from the loader's metrics, when it logs them.
        rejects: Rejected records per stream, from the data validator's metric lines.
        http_requests: HTTP requests the tap reported.
        http_429: 429 answers seen.
        http_retries: HTTP retries the tap's client scheduled.
        cache_hits: Responses served from the HTTP cache.
        breaker_opened: Hosts whose circuit breaker opened (each raises a connectivity alert).
        error: Why it failed (from the logs), None on success.
        command: The command that was (or would be) run.
        log_path: The captured log of the last attempt.
        alerts: Per-channel delivery status of the alert this run raised, if any.
        run_id: The run's id in the ledger (also Meltano's run id).
        stop_signal: The signal that stopped the run (``terminated``), if any.
    """

    job: str
    status: str
    exit_code: int | None
    attempts: int
    duration_s: float
    started_at: str
    finished_at: str
    records: dict[str, int] = field(default_factory=dict)
    records_loaded: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    http_requests: int = 0
    http_429: int = 0
    http_retries: int = 0
    cache_hits: int = 0
    breaker_opened: tuple[str, ...] = ()
    error: str | None = None
    command: tuple[str, ...] = ()
    log_path: str | None = None
    alerts: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    stop_signal: int | None = None

    @property
    def exit_status(self) -> int:
        """``flext run``'s exit code: 0, 1, 5 refused, 75 quota, 124 timed out, 143/130 stopped."""
        if self.status == TERMINATED and self.stop_signal is not None:
            return 128 + self.stop_signal
        return int(EXIT_CODES.get(self.status, ExitCode.FAILED))

    @property
    def run_status(self) -> RunStatus | None:
        """The ledger's status for this result (None for a dry run)."""
        return LEDGER_STATUS.get(self.status)

    @property
    def success(self) -> bool:
        """True only when ``meltano run`` exited 0 (or for a dry run)."""
        return self.status in (SUCCESS, DRY_RUN)

    @property
    def total_records(self) -> int:
        """Records across streams."""
        return sum(self.records.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``success`` included)."""
        return {
            **asdict(self),
            "success": self.success,
            "command": list(self.command),
            "exit_status": self.exit_status,
        }


def find_meltano(explicit: str | Path | None = None) -> str:
    """The ``meltano`` executable: ``explicit``, next to this Python, or on PATH."""
    if explicit:
        return str(explicit)
    beside = Path(sys.executable).parent / "meltano"
    if beside.exists():
        return str(beside)
    found = shutil.which("meltano")
    if found:
        return found
    raise MeltanoNotFoundError("meltano is not installed (not next to python, not on PATH)")


class Orchestrator:
    """Runs Meltano jobs with retries, metrics and alerts.

    Args:
        project: The Meltano project; found from the working directory when None.
        alert_manager: Receives failure alerts and resolve calls.
        meltano_bin: The ``meltano`` executable (found automatically when None).
        retries: Retries after a failed attempt (0 = run once).
        backoff_s: First wait between attempts; doubles each time.
        backoff_max_s: Cap on one wait.
        timeout_s: Kill a run that takes longer (None: no limit).
        meltano_environment: Passed as ``meltano --environment`` when set.
        log_dir: Where each attempt's log is kept.
        history_path: JSONL file of past results (``get_job_status``).
        echo: Copy Meltano's log lines to stderr as they arrive.
        sleep: Waits between attempts (tests pass a no-op).
        ledger: Records every run and holds the run lock (None: neither).
        stop_grace_s: Seconds Meltano's process group gets between SIGTERM and SIGKILL
            when a run is stopped (timeout or signal).
        after_run: Called with every result once it is recorded (the container's
            orchestrator pushes the job's metrics there); its errors are logged.
    """

    def __init__(
        self,
        project: MeltanoProject | None = None,
        *,
        alert_manager: AlertManager | None = None,
        meltano_bin: str | Path | None = None,
        retries: int = 0,
        backoff_s: float = 5.0,
        backoff_max_s: float = 60.0,
        timeout_s: float | None = None,
        meltano_environment: str | None = None,
        log_dir: Path | None = None,
        history_path: Path | None = None,
        echo: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        ledger: RunLedger | None = None,
        stop_grace_s: float = 30.0,
        after_run: Callable[[JobRunResult], object] | None = None,
    ) -> None:
        self._project = project
        self.alert_manager = alert_manager
        self.meltano_bin = meltano_bin
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.meltano_environment = meltano_environment
        self.log_dir = log_dir
        self.history_path = history_path
        self.echo = echo
        self._sleep = sleep
        self.ledger = ledger
        self.stop_grace_s = stop_grace_s
        self.after_run = after_run
        self._history: list[JobRunResult] = []

    @property
    def project(self) -> MeltanoProject:
        """The Meltano project (looked up on first use)."""
        if self._project is None:
            self._project = MeltanoProject.find()
        return self._project

    @project.setter
    def project(self, project: MeltanoProject) -> None:
        self._project = project

    # ------------------------------------------------------------------ listing
    def list_jobs(self) -> list[MeltanoJob]:
        """Upstream name: the project's jobs."""
        return self.project.jobs()

    def list_schedules(self) -> list[MeltanoSchedule]:
        """The project's schedules."""
        return self.project.schedules()

    def command(self, job: str, *, full_refresh: bool = False) -> list[str]:
        """The exact command a run of ``job`` executes."""
        cmd = [find_meltano(self.meltano_bin), "--log-format=json"]
        if self.meltano_environment:
            cmd.append(f"--environment={self.meltano_environment}")
        cmd.append("run")
        if full_refresh:
            cmd.append("--full-refresh")
        cmd.append(job)
        return cmd

    # ------------------------------------------------------------------ running
    def run(
        self,
        job: str,
        *,
        retries: int | None = None,
        dry_run: bool = False,
        full_refresh: bool = False,
        wait_s: float = 0.0,
        trigger: Trigger | str = Trigger.CLI,
    ) -> JobRunResult:
        """Run ``meltano run JOB`` until it succeeds or the retries are spent.

        Args:
            job: The job.
            retries: Retries after a failed attempt (default: the orchestrator's).
            dry_run: Only say what would run.
            full_refresh: ``meltano run --full-refresh``.
            wait_s: How long to wait for the job's lock (``inf``: until free;
                0: refuse at once).
            trigger: What started it (``cli``, ``schedule``, ``orchestrator``).

        Raises:
            JobNotFoundError: the project has no such job (nothing is run; a
                ``configuration_error`` alert is raised).
            MeltanoNotFoundError: no ``meltano`` executable.
        """
        try:
            self.project.job(job)  # unknown job: a configuration error, not a retry
        except ConfigurationError as exc:
            if self.alert_manager is not None:
                self.alert_manager.alert("configuration_error", "high", str(exc), pipeline_name=job)
            raise
        cmd = self.command(job, full_refresh=full_refresh)
        started = datetime.now(UTC)
        if dry_run:
            now = started.isoformat()
            result = JobRunResult(job, DRY_RUN, None, 0, 0.0, now, now, command=tuple(cmd))
            log.info("orchestrator.dry_run", job=job, command=" ".join(cmd))
            return result
        run_id = str(uuid.uuid4())
        trigger = Trigger(trigger)
        if self.ledger is None:
            return self._run(job, run_id, cmd, started, retries, trigger)
        keys = [state_key(s) for s in self.project.state_ids(job, self._meltano_env())]
        lock = self.ledger.lock(job, run_id, keys)
        t0 = time.monotonic()
        try:
            lock.acquire(wait_s)
        except LockHeldError as exc:
            return self._refused(job, run_id, str(exc), cmd, started, t0, trigger)
        except Terminated as stop:
            return self._stopped_waiting(job, run_id, stop, cmd, started, t0, trigger)
        try:
            return self._run(job, run_id, cmd, started, retries, trigger)
        finally:
            lock.release()

    def _meltano_env(self) -> str | None:
        return (
            self.meltano_environment
            or os.environ.get("MELTANO_ENVIRONMENT")
            or self.project.default_environment()
        )

    def _run(
        self,
        job: str,
        run_id: str,
        cmd: list[str],
        started: datetime,
        retries: int | None,
        trigger: Trigger,
    ) -> JobRunResult:
        attempts_allowed = 1 + (self.retries if retries is None else retries)
        t0 = time.monotonic()
        heartbeat = None
        if self.ledger is not None:
            self.ledger.start(job, run_id=run_id, trigger=trigger, link_id=run_id)
            heartbeat = self.ledger.heartbeat(run_id).start()
        status, outcome, log_path = FAILED, Attempt(None, RunMetrics()), None
        stop_signal: int | None = None
        attempt = 0
        try:
            for attempt in range(1, attempts_allowed + 1):
                log.info("orchestrator.attempt_started", job=job, attempt=attempt, run_id=run_id)
                outcome, log_path = self._attempt(job, cmd, attempt, run_id, trigger)
                status = _status_of(outcome)
                stop_signal = outcome.stopped_by
                log.info(
                    "orchestrator.attempt_finished",
                    job=job, attempt=attempt, status=status, exit_code=outcome.exit_code,
                    records=outcome.metrics.records,
                )  # fmt: skip
                if status in _FINAL or attempt == attempts_allowed:
                    break
                wait = min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s)
                log.warning("orchestrator.retry_scheduled", job=job, attempt=attempt, wait_s=wait)
                self._sleep(wait)
        except Terminated as stop:  # between attempts: nothing is running
            status, stop_signal = TERMINATED, stop.signum
        finally:
            if heartbeat is not None:
                heartbeat.stop()
        metrics = outcome.metrics
        error = None
        if status != SUCCESS:
            error = _failure_message(status, outcome, self.timeout_s, stop_signal)
        result = JobRunResult(
            job=job,
            status=status,
            exit_code=outcome.exit_code,
            attempts=attempt,
            duration_s=round(time.monotonic() - t0, 3),
            started_at=started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            records=metrics.records,
            records_loaded=dict(metrics.loaded),
            rejects=dict(metrics.rejected),
            http_requests=metrics.http_requests,
            http_429=metrics.http_429,
            http_retries=metrics.http_retries,
            cache_hits=metrics.cache_hits,
            breaker_opened=tuple(metrics.breaker_opened),
            error=redact(error) if error else None,
            command=tuple(cmd),
            log_path=str(log_path) if log_path else None,
            run_id=run_id,
            stop_signal=stop_signal,
        )
        result = self._alert(result)
        self._ledger_finish(result, metrics)
        self._record(result)
        log.info("orchestrator.run_summary", **_summary(result))
        return result

    def _refused(
        self,
        job: str,
        run_id: str,
        message: str,
        cmd: list[str],
        started: datetime,
        t0: float,
        trigger: Trigger,
    ) -> JobRunResult:
        log.warning("orchestrator.refused", job=job, reason=message)
        result = JobRunResult(
            job, REFUSED, None, 0, round(time.monotonic() - t0, 3), started.isoformat(),
            datetime.now(UTC).isoformat(), error=message, command=tuple(cmd), run_id=run_id,
        )  # fmt: skip
        if self.ledger is not None:
            self.ledger.refused(job, message, run_id=run_id, trigger=trigger)
        self._record(result)
        return result

    def _stopped_waiting(
        self,
        job: str,
        run_id: str,
        stop: Terminated,
        cmd: list[str],
        started: datetime,
        t0: float,
        trigger: Trigger,
    ) -> JobRunResult:
        message = f"stopped by {stop.signal_name} while waiting for the lock"
        result = JobRunResult(
            job, TERMINATED, None, 0, round(time.monotonic() - t0, 3), started.isoformat(),
            datetime.now(UTC).isoformat(), error=message, command=tuple(cmd), run_id=run_id,
            stop_signal=stop.signum,
        )  # fmt: skip
        if self.ledger is not None:
            row = self.ledger.start(job, run_id=run_id, trigger=trigger)
            self.ledger.finish(row.run_id, RunStatus.TERMINATED, result.exit_status, error=message)
        self._record(result)
        return result

    def _ledger_finish(self, result: JobRunResult, metrics: RunMetrics) -> None:
        if self.ledger is None or result.run_id is None or result.run_status is None:
            return
        try:
            linked = [r for r in self.ledger.linked(result.run_id) if r.kind is not RunKind.JOB]
            self.ledger.finish(
                result.run_id,
                result.run_status,
                result.exit_status,
                error=result.error,
                streams=_streams(metrics, linked),
                attempts=result.attempts,
                log_path=result.log_path,
            )
            self.ledger.prune()
        except Exception as exc:  # the run's outcome stands even if the ledger is down
            log.error("orchestrator.ledger_unwritable", run_id=result.run_id, error=str(exc))

    def _attempt(
        self, job: str, cmd: list[str], attempt: int, run_id: str, trigger: Trigger
    ) -> tuple[Attempt, Path | None]:
        log_path = None
        sink: IO[str] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            log_path = self.log_dir / f"{job}-{stamp}-{attempt}.log"
            sink = log_path.open("w", encoding="utf-8")
        env = _child_env()
        # Meltano takes the run id as its own; the plugins see it and link their rows.
        env["MELTANO_RUN_ID"] = run_id
        env["FLEXT_RUNS_TRIGGER"] = str(trigger)
        try:
            outcome = run_attempt(
                cmd,
                cwd=self.project.root,
                env=env,
                sink=sink,
                echo=sys.stderr.write if self.echo else None,
                timeout_s=self.timeout_s,
                stop_grace_s=self.stop_grace_s,
            )
        finally:
            if sink is not None:
                sink.close()
        metrics = outcome.metrics
        if not metrics.errors and outcome.exit_code != 0:
            metrics.errors = [_plain(t) for t in outcome.tail[-3:] if t]
        return outcome, log_path

    def _alert(self, result: JobRunResult) -> JobRunResult:
        if self.alert_manager is None:
            return result
        context = {
            "exit_code": result.exit_code,
            "attempts": result.attempts,
            "duration_s": result.duration_s,
            "records": result.records,
            "log_path": result.log_path,
        }
        if result.status == SUCCESS:
            # Resolve what earlier runs raised first; a breaker that opened during
            # this (successful) run is news and stays active until the next success.
            self.alert_manager.pipeline_succeeded(result.job)
        for host in dict.fromkeys(result.breaker_opened):
            self.alert_manager.send_connectivity_alert(
                host,
                "the HTTP circuit breaker opened during the run",
                pipeline_name=result.job,
                context={"breaker_opened": result.breaker_opened.count(host)},
            )
        if result.status in (SUCCESS, REFUSED):
            # A refused run never started: it is not a failed pipeline.
            return result
        if result.status == QUOTA_EXHAUSTED:
            log.warning("orchestrator.quota_exhausted", job=result.job, run_id=result.run_id)
            return result
        if result.status == TIMED_OUT:
            outcome = self.alert_manager.alert(
                "sync_timeout", "high", result.error or "timed out",
                pipeline_name=result.job, context=context,
            )  # fmt: skip
        else:
            outcome = self.alert_manager.send_pipeline_failure_alert(
                result.job, result.error or "failed", context=context
            )
        alerts = {d.channel: d.status for d in outcome.deliveries}
        if outcome.suppressed:
            alerts = {"*": "suppressed (cooldown)"}
        return replace(result, alerts=alerts)

    # ------------------------------------------------------------------ history
    def _record(self, result: JobRunResult) -> None:
        self._history.append(result)
        if self.after_run is not None and result.status != DRY_RUN:
            try:
                self.after_run(result)
            except Exception as exc:  # metrics must never change a run's outcome
                log.warning("orchestrator.after_run_failed", job=result.job, error=str(exc))
        if self.history_path is None:
            return
        try:
            self.history_path.parent.mkdir(parents=True, exist_ok=True)
            with self.history_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(result.to_dict()) + "\n")
        except OSError as exc:
            log.warning("orchestrator.history_unwritable", path=str(self.history_path), error=exc)

    def get_job_status(self, job: str) -> JobRunResult | None:
        """Upstream name: the last result of ``job`` (this process, then the history file)."""
        for result in reversed(self._history):
            if result.job == job:
                return result
        if self.history_path is None or not self.history_path.exists():
            return None
        last = None
        with self.history_path.open(encoding="utf-8") as fh:
            for line in fh:
                with contextlib.suppress(ValueError):
                    row = json.loads(line)
                    if row.get("job") == job:
                        last = row
        if last is None:
            return None
        last.pop("success", None)
        known = set(JobRunResult.__dataclass_fields__)
        last = {k: v for k, v in last.items() if k in known}
        last["command"] = tuple(last.get("command") or ())
        last["breaker_opened"] = tuple(last.get("breaker_opened") or ())
        return JobRunResult(**last)

    # ------------------------------------------------------------ upstream names
    def run_job(self, job: str, **kwargs: Any) -> JobRunResult:
        """Upstream name for :meth:`run`."""
        return self.run(job, **kwargs)

    def run_full_sync(self, job: str = "full-sync-job", **kwargs: Any) -> JobRunResult:
        """Upstream name: run the full-sync job with ``--full-refresh``."""
        return self.run(job, full_refresh=True, **kwargs)

    def run_incremental_sync(
        self, job: str = "incremental-sync-job", **kwargs: Any
    ) -> JobRunResult:
        """Upstream name: run the incremental job (state carried by Meltano)."""
        return self.run(job, **kwargs)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Meltano's own update check and anonymous telemetry reach the network.
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("MELTANO_DISABLE_TRACKING", "true")
    return env


def _plain(line: str) -> str:
    with contextlib.suppress(ValueError):
        obj = json.loads(line)
        if isinstance(obj, dict) and "event" in obj:
            return str(obj["event"]).strip()[:500]
    return line[:500]


#: Statuses after which no retry is made.
_FINAL = frozenset({SUCCESS, REFUSED, TERMINATED, TIMED_OUT, QUOTA_EXHAUSTED})


def _status_of(outcome: Attempt) -> str:
    """The result status of one attempt: stops first, then Meltano's and the plugins' codes."""
    if outcome.stopped_by is not None:
        return TERMINATED
    if outcome.timed_out:
        return TIMED_OUT
    if outcome.exit_code == 0:
        return SUCCESS
    metrics = outcome.metrics
    if metrics.refused:
        return REFUSED
    for kind in ("extractors", "loaders"):
        code = metrics.exit_codes.get(kind)
        if code is not None and code in PLUGIN_EXIT_STATUS:
            status = PLUGIN_EXIT_STATUS[code]
            # A quota cut is clean only if the loader committed what it got.
            if status == QUOTA_EXHAUSTED and metrics.exit_codes.get("loaders", 0) != 0:
                return FAILED
            return status
    if outcome.exit_code == ExitCode.TERMINATED:
        return TERMINATED
    return FAILED


def _streams(metrics: RunMetrics, linked: list[Any]) -> tuple[StreamRun, ...]:
    """A job's streams: its plugins' own rows where they recorded them, else the metric lines."""
    read = [s for r in linked if r.kind is RunKind.EXTRACTOR for s in r.streams]
    loaded = [s for r in linked if r.kind is RunKind.LOADER for s in r.streams]
    if not read:
        names = set(metrics.extracted) | set(metrics.retries_by_stream)
        read = [
            StreamRun(
                n,
                records_read=metrics.extracted.get(n, 0),
                retries=metrics.retries_by_stream.get(n, 0),
                rate_limited=metrics.rate_limited_by_stream.get(n, 0),
            )
            for n in sorted(names)
        ]
    if not loaded:
        names = set(metrics.loaded) | set(metrics.rejected)
        loaded = [
            StreamRun(
                n, records_loaded=metrics.loaded.get(n, 0), rejects=metrics.rejected.get(n, 0)
            )
            for n in sorted(names)
        ]
    return merge_streams(read, loaded)


def _failure_message(
    status: str, outcome: Attempt, timeout_s: float | None, stop_signal: int | None
) -> str:
    metrics = outcome.metrics
    if status == TIMED_OUT:
        head = f"timed out after {timeout_s:g}s"
    elif status == TERMINATED and stop_signal is not None:
        head = f"terminated by {signal_name(stop_signal)}"
    elif status == REFUSED and metrics.refused:
        return f"refused by Meltano: {metrics.refused}"
    elif status == QUOTA_EXHAUSTED:
        head = "the API quota is exhausted (the extractor exited 75); resume later"
    elif outcome.exit_code is None:
        head = "meltano could not be started"
    else:
        head = f"meltano run exited with status {outcome.exit_code}"
    if outcome.killed:
        head += " (killed after the stop grace period)"
    # A plugin's own exception first: it names the stream, and the ledger keeps
    # only the start of a long message.
    detail = " | ".join(dict.fromkeys([*metrics.plugin_errors[-2:], *metrics.errors[-3:]]))
    return f"{head}: {detail}" if detail else head


def _summary(result: JobRunResult) -> dict[str, Any]:
    return {
        "job": result.job,
        "run_id": result.run_id,
        "status": result.status,
        "exit_code": result.exit_code,
        "attempts": result.attempts,
        "duration_s": result.duration_s,
        "records": result.records,
        "rejects": result.rejects,
        "http_requests": result.http_requests,
        "http_429": result.http_429,
        "http_retries": result.http_retries,
        "cache_hits": result.cache_hits,
        "breaker_opened": list(result.breaker_opened),
    }
