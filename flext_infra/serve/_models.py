"""The JSON bodies ``flext serve`` answers with; FastAPI turns them into the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from flext_infra.runs import RunKind, RunStatus, Trigger


class ErrorDetail(BaseModel):
    """What went wrong, without a stack trace or a secret."""

    code: str = Field(description="Stable machine-readable code, e.g. unauthorized, rate_limited.")
    message: str = Field(description="What went wrong, for a person.")
    request_id: str | None = Field(None, description="The request's X-Request-ID.")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness: the process and its container are up."""

    status: Literal["ok"] = "ok"


class CheckOut(BaseModel):
    """One readiness check."""

    name: str = Field(description="database, api, breakers or alert:<channel>.")
    status: Literal["healthy", "unhealthy", "skipped"]
    latency_ms: float = Field(ge=0)
    detail: str


class Readiness(BaseModel):
    """Readiness: every check, ``ready`` only when none is unhealthy."""

    status: Literal["ready", "not_ready"]
    environment: str
    checks: list[CheckOut]


class StreamOut(BaseModel):
    """One stream's numbers in one run."""

    stream: str
    records_read: int
    records_loaded: int
    rejects: int
    retries: int
    rate_limited: int
    bookmark_before: str | None
    bookmark_after: str | None


class RunOut(BaseModel):
    """One run from the ledger: ``RunRecord.to_dict()``, as ``flext runs --json`` prints it."""

    run_id: str
    job: str
    kind: RunKind
    environment: str
    trigger: Trigger
    host: str
    os_user: str
    pid: int
    started_at: str = Field(description="ISO-8601 UTC.")
    ended_at: str | None
    heartbeat_at: str | None
    expires_at: str | None
    duration_s: float | None
    status: RunStatus
    exit_code: int | None
    error: str | None = Field(description="Why it did not succeed, secrets redacted.")
    link_id: str | None
    attempts: int
    log_path: str | None
    streams: list[StreamOut]


class RunPage(BaseModel):
    """A page of runs, newest first."""

    runs: list[RunOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last.")


class ScheduleOut(BaseModel):
    """A Meltano schedule."""

    name: str
    interval: str
    job: str | None
    extractor: str | None
    loader: str | None


class JobOut(BaseModel):
    """A Meltano job, its schedules and its last run."""

    name: str
    tasks: list[str]
    schedules: list[ScheduleOut]
    last_run: RunOut | None


class JobsOut(BaseModel):
    """The project's jobs and schedules (``flext jobs --json``), each job with its last run."""

    project: str
    jobs: list[JobOut]
    schedules: list[ScheduleOut]
