"""Errors the tap raises, keeping the Singer SDK's retriable/fatal meaning.

Every request failure names the stream, the URL (credentials stripped), the
HTTP status (``None`` for network failures) and how many attempts were made,
so a failed run says exactly what broke. :func:`request_error` is the one
place the HTTP client's errors become the SDK's.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from flext_infra.http import (
    CircuitOpenError,
    FatalHTTPError,
    HttpError,
    QuotaExhaustedError,
    RetriableHTTPError,
)
from flext_infra.observability import redact

if TYPE_CHECKING:
    from tap_flext_api.graphql import GraphqlProblem


class RequestFailure:
    """Facts about a failed request, shared by the retriable and fatal errors.

    Attributes:
        stream: The stream that made the request.
        url: The request URL without credentials.
        status: The final HTTP status, or ``None`` when no response arrived.
        attempts: How many attempts the HTTP client made.
        partition: The partition being read (a time window), if the stream has them.
    """

    stream: str
    url: str
    status: int | None
    attempts: int
    partition: str | None

    def __init__(
        self,
        stream: str,
        url: str,
        status: int | None,
        attempts: int,
        reason: str,
        *,
        partition: str | None = None,
    ) -> None:
        self.stream, self.url, self.status, self.attempts = stream, redact(url), status, attempts
        self.reason, self.partition = reason, partition
        super().__init__(self._describe(reason))  # type: ignore[call-arg]  # the Exception in the MRO

    def _describe(self, what: str) -> str:
        status = "no response" if self.status is None else f"HTTP {self.status}"
        where = f" (partition {self.partition})" if self.partition else ""
        return (
            f"stream '{self.stream}'{where}: {what} for {self.url} "
            f"({status}, {self.attempts} attempt{'s' if self.attempts != 1 else ''})"
        )


class StreamRetriableError(RequestFailure, RetriableAPIError):
    """A transient failure (5xx, 429, network, open breaker) that outlived every retry."""


class StreamQuotaExhausted(StreamRetriableError):
    """The API's quota is spent for longer than ``max_quota_wait_s``: stop, resume later.

    Attributes:
        resume_at: When (UTC) the API said requests are accepted again.
    """

    def __init__(
        self,
        stream: str,
        url: str,
        status: int | None,
        attempts: int,
        resume_at: datetime.datetime,
        *,
        partition: str | None = None,
    ) -> None:
        self.resume_at = resume_at
        reason = f"API quota exhausted; resume after {resume_at.isoformat(timespec='seconds')}"
        super().__init__(stream, url, status, attempts, reason, partition=partition)


class StreamFatalError(RequestFailure, FatalAPIError):
    """A failure that retrying cannot fix (4xx other than 429, bad body, config)."""

    @classmethod
    def from_http(
        cls, stream: str, error: HttpError, url: str, *, partition: str | None = None
    ) -> StreamFatalError:
        """The client's fatal ``error``; when nothing answered, its own words say why."""
        reason = "request failed"
        if error.status is None:  # a certificate, a refused host, a bad URL
            reason += f": {error.args[0]}"
        return cls(
            stream, error.url or url, error.status, error.attempts or 1, reason,
            partition=partition,
        )  # fmt: skip


class WorkCancelled(BaseException):
    """The run was stopped (a fatal error elsewhere, a spent quota, a signal): work abandoned.

    A ``BaseException``, so the SDK's ``except Exception`` blocks let it through
    without reporting every stream that was merely stopped as a failure.
    """


class _GraphqlProblems:
    """What the GraphQL errors share: the answer's problems, quoted redacted in the message."""

    problems: tuple[GraphqlProblem, ...]

    def __init__(
        self,
        stream: str,
        url: str,
        status: int | None,
        attempts: int,
        reason: str,
        problems: Iterable[GraphqlProblem],
    ) -> None:
        self.problems = tuple(problems)
        super().__init__(stream, url, status, attempts, redact(reason))  # type: ignore[call-arg]


class GraphqlResponseError(_GraphqlProblems, StreamFatalError):
    """A GraphQL answer whose errors end the run (they arrived inside a 200).

    Errors without data; partial data under ``on_partial_errors: fail``; or,
    under ``reject``, an error outside every record (nothing to reject).
    The message quotes the GraphQL messages with their paths and codes,
    secrets redacted.

    Attributes:
        problems: Every GraphQL error of the answer.
    """


class GraphqlThrottledError(_GraphqlProblems, StreamRetriableError):
    """Errors the stream marks retriable (``THROTTLED``) outlived the HTTP client's retries.

    Attributes:
        problems: Every GraphQL error of the last answer.
    """


def request_error(
    stream: str,
    error: HttpError,
    url: str,
    *,
    breaker_open: bool = False,
    partition: str | None = None,
) -> StreamRetriableError | StreamFatalError:
    """The SDK's error for the HTTP client's final ``error`` on a request to ``url``.

    Retriable client errors (retries exhausted, the breaker open, a spent
    quota) stay retriable; everything else is fatal. ``breaker_open`` says the
    host's breaker opened meanwhile, which the message then tells.
    """
    where = error.url or url
    if isinstance(error, QuotaExhaustedError):
        return StreamQuotaExhausted(
            stream, where, error.status, error.attempts, error.resume_at, partition=partition
        )
    if isinstance(error, CircuitOpenError):
        return StreamRetriableError(
            stream, where, error.status, error.attempts, "circuit breaker open",
            partition=partition,
        )  # fmt: skip
    if isinstance(error, RetriableHTTPError):
        reason = "retries exhausted" + ("; circuit breaker now open" if breaker_open else "")
        return StreamRetriableError(
            stream, where, error.status, error.attempts, reason, partition=partition
        )
    if isinstance(error, FatalHTTPError):
        return StreamFatalError.from_http(stream, error, url, partition=partition)
    return StreamFatalError(
        stream, where, error.status, error.attempts or 1, f"HTTP error: {error}",
        partition=partition,
    )  # fmt: skip


class PaginationError(FatalAPIError):
    """Pagination cannot go on safely: a loop, or the ``max_pages`` cap.

    Attributes:
        stream: The stream being read.
        url: The URL of the page that tripped the safety net.
    """

    def __init__(self, stream: str, url: str, reason: str) -> None:
        self.stream = stream
        self.url = redact(url)
        self.reason = reason
        super().__init__(f"stream '{stream}': {reason} at {self.url}")


class PaginationLoopError(PaginationError):
    """The API sent a token already used, or the same page body twice in a row."""


class MaxPagesExceededError(PaginationError):
    """The stream reached its ``max_pages`` cap while the API still had pages."""
