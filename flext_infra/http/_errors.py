"""Errors of the HTTP client, named for what the caller should do next.

The tap maps :class:`RetriableHTTPError` onto the Singer SDK's
``RetriableAPIError`` and :class:`FatalHTTPError` onto ``FatalAPIError``.
A :class:`CircuitOpenError` is retriable later, at ``retry_at``; a
:class:`QuotaExhaustedError` much later, at ``resume_at``. A
:class:`RequestCancelledError` was stopped by its caller.
"""

from __future__ import annotations

from datetime import datetime

from flext_infra._errors import FlextInfraError


class HttpError(FlextInfraError):
    """Root of every HTTP client error.

    Attributes:
        method: The HTTP method.
        url: The URL with credentials and secret query values masked.
        status: The last HTTP status, or ``None`` when no response arrived.
        attempts: How many times the request was sent.
        reason: A short machine-readable cause (``"status"``, ``"network"``,
            ``"budget_exhausted"``, ``"circuit_open"``, ``"host_not_allowed"``).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        attempts: int = 0,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.attempts = attempts
        self.reason = reason

    def __str__(self) -> str:
        status = f" status={self.status}" if self.status is not None else ""
        return f"{self.args[0]} [{self.method} {self.url}{status} attempts={self.attempts}]"


class RetriableHTTPError(HttpError):
    """A transient failure that outlasted the retries: trying again later may work."""


class TotalTimeoutError(RetriableHTTPError):
    """The request's total time budget ran out before it succeeded."""


class FatalHTTPError(HttpError):
    """A failure that retrying will not fix (most 4xx, a refused host, a bad URL)."""


class CircuitOpenError(RetriableHTTPError):
    """The host's circuit breaker is open: the request was not sent.

    Attributes:
        host: The host whose breaker is open.
        retry_at: When (UTC) the breaker lets a probe through.
        retry_in_s: Seconds until then, at the time of the error.
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        host: str,
        retry_at: datetime,
        retry_in_s: float,
        attempts: int = 0,
    ) -> None:
        super().__init__(
            f"circuit open for {host}; next try in {retry_in_s:.1f}s at {retry_at.isoformat()}",
            method=method,
            url=url,
            attempts=attempts,
            reason="circuit_open",
        )
        self.host = host
        self.retry_at = retry_at
        self.retry_in_s = retry_in_s


class QuotaExhaustedError(RetriableHTTPError):
    """The server's quota for a host is spent for longer than ``max_quota_wait_s``.

    Raised instead of waiting, by the request that learnt it and by every
    later request to the host (nothing more is sent until ``resume_at``).

    Attributes:
        host: The host whose quota is spent.
        resume_at: When (UTC) the server said requests are accepted again.
        retry_in_s: Seconds until then, at the time of the error.
        source: The hint that said so (``retry-after``, ``x-ratelimit``, ``ratelimit``).
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        host: str,
        resume_at: datetime,
        retry_in_s: float,
        source: str,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(
            f"quota exhausted for {host}; resume after {resume_at.isoformat(timespec='seconds')} "
            f"(in {retry_in_s:.0f}s, from {source})",
            method=method,
            url=url,
            status=status,
            attempts=attempts,
            reason="quota_exhausted",
        )
        self.host = host
        self.resume_at = resume_at
        self.retry_in_s = retry_in_s
        self.source = source


class RequestCancelledError(HttpError):
    """The caller cancelled the request (its ``cancel`` event was set) before it finished."""
