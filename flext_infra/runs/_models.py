"""What the run ledger records: a run, its streams, and who holds a lock."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class RunStatus(StrEnum):
    """The outcome of a run as the ledger records it.

    ``abandoned`` is never written by the run itself: a ``running`` row whose
    heartbeat is older than the lock TTL (its holder was killed, or its host
    died) reads as ``abandoned``.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    TERMINATED = "terminated"
    QUOTA_EXHAUSTED = "quota_exhausted"
    ABANDONED = "abandoned"

    @property
    def finished(self) -> bool:
        """True for every status but ``running``."""
        return self is not RunStatus.RUNNING


class Trigger(StrEnum):
    """What started a run."""

    CLI = "cli"
    SCHEDULE = "schedule"
    ORCHESTRATOR = "orchestrator"


class RunKind(StrEnum):
    """Who recorded the row: ``flext run`` (a job) or one plugin process."""

    JOB = "job"
    EXTRACTOR = "extractor"
    LOADER = "loader"


@dataclass(frozen=True, slots=True)
class StreamRun:
    """One stream's numbers in one run.

    Attributes:
        stream: The stream name.
        records_read: Records the extractor emitted.
        records_loaded: Records the loader committed.
        rejects: Records sent to the reject store.
        retries: HTTP retries while reading the stream.
        rate_limited: HTTP 429 answers while reading the stream.
        bookmark_before: The replication bookmark the run started from (text).
        bookmark_after: The bookmark the run ended with (text).
    """

    stream: str
    records_read: int = 0
    records_loaded: int = 0
    rejects: int = 0
    retries: int = 0
    rate_limited: int = 0
    bookmark_before: str | None = None
    bookmark_after: str | None = None

    def merged(self, other: StreamRun) -> StreamRun:
        """Counts added; the first bookmark before, the last bookmark after."""
        return StreamRun(
            self.stream,
            self.records_read + other.records_read,
            self.records_loaded + other.records_loaded,
            self.rejects + other.rejects,
            self.retries + other.retries,
            self.rate_limited + other.rate_limited,
            self.bookmark_before if self.bookmark_before is not None else other.bookmark_before,
            other.bookmark_after if other.bookmark_after is not None else self.bookmark_after,
        )


def merge_streams(*groups: tuple[StreamRun, ...] | list[StreamRun]) -> tuple[StreamRun, ...]:
    """Streams of several sources combined by name (counts added), sorted by name."""
    out: dict[str, StreamRun] = {}
    for group in groups:
        for item in group:
            seen = out.get(item.stream)
            out[item.stream] = item if seen is None else seen.merged(item)
    return tuple(out[name] for name in sorted(out))


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of ``flext_runs`` with its ``flext_run_streams``.

    Attributes:
        run_id: The run's id (a UUID string; ``flext run`` passes it to Meltano
            as ``MELTANO_RUN_ID``).
        job: The Meltano job, or the plugin's Meltano name for a plugin's own row.
        kind: ``job`` (``flext run``), ``extractor`` or ``loader`` (a plugin process).
        environment: The FLEXT environment it ran in.
        trigger: ``cli``, ``schedule`` or ``orchestrator``.
        host: The host it ran on.
        os_user: The operating-system user.
        pid: The process id.
        started_at: When it started (UTC).
        ended_at: When it ended (UTC); None while running or when abandoned.
        heartbeat_at: Its last heartbeat (UTC).
        expires_at: When a ``running`` row without a newer heartbeat reads as abandoned.
        status: Its status (``abandoned`` derived from ``expires_at``).
        exit_code: The process exit code it ended with.
        error: Why it did not succeed, secrets redacted.
        link_id: The Meltano run id linking a job's row with its plugins' rows.
        attempts: ``meltano run`` attempts (jobs), 1 for plugin rows.
        log_path: The kept log of the run, if any.
        streams: Per-stream numbers, sorted by stream.
    """

    run_id: str
    job: str
    kind: RunKind
    environment: str
    trigger: Trigger
    host: str
    os_user: str
    pid: int
    started_at: datetime
    status: RunStatus
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    expires_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = None
    link_id: str | None = None
    attempts: int = 1
    log_path: str | None = None
    streams: tuple[StreamRun, ...] = field(default=())

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (None while running or when abandoned)."""
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)

    @property
    def records_read(self) -> int:
        """Records read across streams."""
        return sum(s.records_read for s in self.streams)

    @property
    def records_loaded(self) -> int:
        """Records loaded across streams."""
        return sum(s.records_loaded for s in self.streams)

    @property
    def rejects(self) -> int:
        """Rejects across streams."""
        return sum(s.rejects for s in self.streams)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (times as ISO-8601 UTC, ``duration_s`` included)."""
        return {
            "run_id": self.run_id,
            "job": self.job,
            "kind": str(self.kind),
            "environment": self.environment,
            "trigger": str(self.trigger),
            "host": self.host,
            "os_user": self.os_user,
            "pid": self.pid,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "expires_at": iso(self.expires_at),
            "duration_s": self.duration_s,
            "status": str(self.status),
            "exit_code": self.exit_code,
            "error": self.error,
            "link_id": self.link_id,
            "attempts": self.attempts,
            "log_path": self.log_path,
            "streams": [
                {
                    "stream": s.stream,
                    "records_read": s.records_read,
                    "records_loaded": s.records_loaded,
                    "rejects": s.rejects,
                    "retries": s.retries,
                    "rate_limited": s.rate_limited,
                    "bookmark_before": s.bookmark_before,
                    "bookmark_after": s.bookmark_after,
                }
                for s in self.streams
            ],
        }


@dataclass(frozen=True, slots=True)
class JobStats:
    """What the ledger knows of one job (or plugin), over every recorded run.

    Attributes:
        job: The job.
        runs: Runs by status (``abandoned`` counted as such).
        last_status: The status of the newest run.
        last_duration_s: Seconds the newest finished run took.
        last_success_at: When the newest successful run ended.
        records: Records per stream over every run (loaded, or read where nothing
            was loaded: an extractor's own rows).
        rejects: Rejects per stream over every run.
    """

    job: str
    runs: dict[str, int]
    last_status: RunStatus | None
    last_duration_s: float | None
    last_success_at: datetime | None
    records: dict[str, int]
    rejects: dict[str, int]


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a run lock: enough to name it in a refusal."""

    key: str
    run_id: str
    job: str
    host: str
    pid: int
    since: datetime
    expires_at: datetime


def utcnow() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """``2024-05-01T10:00:00.123456Z`` (UTC), or None."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_host() -> str:
    """This machine's host name."""
    return socket.gethostname()


def current_os_user() -> str:
    """The operating-system user running this process."""
    import getpass  # its terminal imports are needed here only

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with an arbitrary uid)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"
