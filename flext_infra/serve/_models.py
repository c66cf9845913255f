"""The JSON bodies ``flext serve`` answers with; FastAPI turns them into the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
