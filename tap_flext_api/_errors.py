"""Errors the tap raises, keeping the Singer SDK's retriable/fatal meaning.

Every request failure names the stream, the URL (credentials stripped), the
HTTP status (``None`` for network failures) and how many attempts were made,
so a failed run says exactly what broke. :func:`request_error` is the one
place the HTTP client's errors become the SDK's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from flext_infra.http import CircuitOpenError, FatalHTTPError, HttpError, RetriableHTTPError
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
    """

    stream: str
    url: str
    status: int | None
    attempts: int

    def _describe(self, what: str) -> str:
        status = "no response" if self.status is None else f"HTTP {self.status}"
        return (
            f"stream '{self.stream}': {what} for {self.url} "
            f"({status}, {self.attempts} attempt{'s' if self.attempts != 1 else ''})"
        )


class StreamRetriableError(RequestFailure, RetriableAPIError):
    """A transient failure (5xx, 429, network, open breaker) that outlived every retry."""

    def __init__(
        self, stream: str, url: str, status: int | None, attempts: int, reason: str
    ) -> None:
        self.stream, self.url, self.status, self.attempts = stream, redact(url), status, attempts
        self.reason = reason
        super().__init__(self._describe(reason))


class StreamFatalError(RequestFailure, FatalAPIError):
    """A failure that retrying cannot fix (4xx other than 429, bad body, config)."""

    def __init__(
        self, stream: str, url: str, status: int | None, attempts: int, reason: str
    ) -> None:
        self.stream, self.url, self.status, self.attempts = stream, redact(url), status, attempts
        self.reason = reason
        super().__init__(self._describe(reason))

    @classmethod
    def from_http(cls, stream: str, error: HttpError, url: str) -> StreamFatalError:
        """The client's fatal ``error``; when nothing answered, its own words say why."""
        reason = "request failed"
        if error.status is None:  # a certificate, a refused host, a bad URL
            reason += f": {error.args[0]}"
        return cls(stream, error.url or url, error.status, error.attempts or 1, reason)


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
    stream: str, error: HttpError, url: str, *, breaker_open: bool = False
) -> StreamRetriableError | StreamFatalError:
    """The SDK's error for the HTTP client's final ``error`` on a request to ``url``.

    Retriable client errors (retries exhausted, the breaker open) stay
    retriable; everything else is fatal. ``breaker_open`` says the host's
    breaker opened meanwhile, which the message then tells.
    """
    if isinstance(error, CircuitOpenError):
        return StreamRetriableError(
            stream, error.url or url, error.status, error.attempts, "circuit breaker open"
        )
    if isinstance(error, RetriableHTTPError):
        reason = "retries exhausted" + ("; circuit breaker now open" if breaker_open else "")
        return StreamRetriableError(stream, error.url or url, error.status, error.attempts, reason)
    if isinstance(error, FatalHTTPError):
        return StreamFatalError.from_http(stream, error, url)
    return StreamFatalError(
        stream, error.url or url, error.status, error.attempts or 1, f"HTTP error: {error}"
    )


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
