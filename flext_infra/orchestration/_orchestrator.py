"""The orchestrator: runs Meltano jobs and reports what really happened.

Upstream, the orchestrator reported SUCCESS when ``meltano run`` failed. Here
the exit status is the verdict, the duration is measured, record counts come
from the Singer metric lines, a failure raises an alert after the retries, and
a success after a failure sends the "resolved" message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flext_infra._errors import ConfigurationError
from flext_infra.observability import get_logger, redact
from flext_infra.orchestration._errors import MeltanoNotFoundError
from flext_infra.orchestration._metrics import RunMetrics
from flext_infra.orchestration._project import MeltanoJob, MeltanoProject, MeltanoSchedule

if TYPE_CHECKING:
    from flext_infra.alerts import AlertManager

log = get_logger("flext.orchestration")

#: ``flext run`` and ``Orchestrator`` statuses.
SUCCESS, FAILED, TIMED_OUT, DRY_RUN = "success", "failed", "timed_out", "dry_run"


@dataclass(frozen=True)
class JobRunResult:
    """The honest outcome of one job run (all attempts).

    Attributes:
        job: The Meltano job name.
        status: ``success``, ``failed``, ``timed_out`` or ``dry_run``.
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
        return {**asdict(self), "success": self.success, "command": list(self.command)}


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
    ) -> JobRunResult:
        """Run ``meltano run JOB`` until it succeeds or the retries are spent.

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
        attempts_allowed = 1 + (self.retries if retries is None else retries)
        t0 = time.monotonic()
        status, exit_code, metrics, log_path = FAILED, None, RunMetrics(), None
        attempt = 0
        for attempt in range(1, attempts_allowed + 1):
            log.info("orchestrator.attempt_started", job=job, attempt=attempt)
            status, exit_code, metrics, log_path = self._attempt(job, cmd, attempt)
            log.info(
                "orchestrator.attempt_finished",
                job=job, attempt=attempt, status=status, exit_code=exit_code,
                records=metrics.records,
            )  # fmt: skip
            if status == SUCCESS or attempt == attempts_allowed:
                break
            wait = min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s)
            log.warning("orchestrator.retry_scheduled", job=job, attempt=attempt, wait_s=wait)
            self._sleep(wait)
        error = None
        if status != SUCCESS:
            error = _failure_message(status, exit_code, metrics, self.timeout_s)
        result = JobRunResult(
            job=job,
            status=status,
            exit_code=exit_code,
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
        )
        result = self._alert(result)
        self._record(result)
        log.info("orchestrator.run_summary", **_summary(result))
        return result

    def _attempt(
        self, job: str, cmd: list[str], attempt: int
    ) -> tuple[str, int | None, RunMetrics, Path | None]:
        metrics = RunMetrics()
        log_path = None
        sink: IO[str] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            log_path = self.log_dir / f"{job}-{stamp}-{attempt}.log"
            sink = log_path.open("w", encoding="utf-8")
        timed_out = threading.Event()
        tail: deque[str] = deque(maxlen=20)
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=self.project.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=_child_env(),
                # Its own process group, so a timeout or Ctrl-C also stops the
                # tap and target meltano started, not only meltano itself.
                start_new_session=True,
            )
        except OSError as exc:
            if sink is not None:
                sink.close()
            metrics.errors.append(f"cannot start meltano: {exc}")
            return FAILED, None, metrics, log_path
        timer = None
        if self.timeout_s is not None:

            def kill() -> None:
                timed_out.set()
                _kill_group(proc)

            timer = threading.Timer(self.timeout_s, kill)
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                metrics.feed(line)
                tail.append(line.rstrip())
                if sink is not None:
                    sink.write(line)
                if self.echo:
                    sys.stderr.write(line)
            exit_code = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.poll() is None:  # interrupted while reading: never leave it running
                _kill_group(proc)
                proc.wait()
            if sink is not None:
                sink.close()
        if not metrics.errors and exit_code != 0:
            metrics.errors = [_plain(t) for t in list(tail)[-3:] if t]
        if timed_out.is_set():
            return TIMED_OUT, exit_code, metrics, log_path
        return (SUCCESS if exit_code == 0 else FAILED), exit_code, metrics, log_path

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
        if result.status == SUCCESS:
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
        return JobRunResult(
            **{
                **asdict(result),
                "alerts": alerts,
                "command": result.command,
                "breaker_opened": result.breaker_opened,
            }
        )

    # ------------------------------------------------------------------ history
    def _record(self, result: JobRunResult) -> None:
        self._history.append(result)
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


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


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


def _failure_message(
    status: str, exit_code: int | None, metrics: RunMetrics, timeout_s: float | None
) -> str:
    if status == TIMED_OUT:
        head = f"timed out after {timeout_s:g}s"
    elif exit_code is None:
        head = "meltano could not be started"
    else:
        head = f"meltano run exited with status {exit_code}"
    detail = " | ".join(metrics.errors[-3:])
    return f"{head}: {detail}" if detail else head


def _summary(result: JobRunResult) -> dict[str, Any]:
    return {
        "job": result.job,
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
