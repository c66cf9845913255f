"""The page reader: one stream's pages, fetched through ``flext_infra.http`` and decoded.

:meth:`PageReader.fetch` sends one request and turns the answer into a
:class:`~tap_flext_api.pagination.Page` (or ``None`` for a status the stream
skips); the client's final errors become the SDK's through
:func:`~tap_flext_api._errors.request_error`. :meth:`PageReader.walk` is the
serial page loop: the paginator decides each next request from the page just
read, under the :class:`~tap_flext_api.pagination.PaginationGuard`.

The reader asks its stream for two things only (:class:`PageSource`): the
request for a page token, built by the SDK's request hooks, and the SDK's
checks on a final response.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec
from singer_sdk.helpers._util import utc_now

from flext_infra.http import (
    FatalHTTPError,
    FlextHttpClient,
    HttpError,
    RequestCancelledError,
    RetryCheck,
)
from flext_infra.observability import get_logger
from tap_flext_api._errors import StreamFatalError, WorkCancelled, request_error
from tap_flext_api.pagination import Page, PageRequest, PaginationGuard, Paginator

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from flext_infra.http import Response
    from tap_flext_api._decode import PageDecoder

__all__ = ["PageCall", "PageReader", "PageSource"]

log = get_logger("tap_flext_api.stream")


@dataclass(frozen=True, slots=True)
class PageCall:
    """One page's request, ready to send.

    Attributes:
        method: ``GET`` or ``POST``.
        url: The URL (the stream's, or one a paginator handed over).
        params: Query parameters (``None`` when ``url`` carries its own query).
        headers: Request headers, if any.
        json: The POST body.
        idempotent: Safe to retry whatever the method (a GraphQL query is a POST
            that only reads).
        retry_check: Reads a 2xx answer and may ask for a retry (GraphQL's
            throttled errors come inside a 200).
    """

    method: str
    url: str
    params: dict[str, Any] | None
    headers: dict[str, str] | None
    json: Any
    idempotent: bool = False
    retry_check: RetryCheck | None = None


class PageSource(Protocol):
    """What a :class:`PageReader` needs from its stream."""

    @property
    def name(self) -> str:
        """The stream name, for errors and logs."""
        ...

    def page_call(self, context: Context | None, token: PageRequest) -> PageCall:
        """The request for the page ``token`` asks for (the SDK's request hooks)."""
        ...

    def check_response(self, response: Response, context: Context | None) -> None:
        """The SDK's hooks on a final response (duration metric, ``validate_response``)."""
        ...

    def check_page(self, page: Page, response: Response, context: Context | None) -> Page:
        """The decoded page as the stream takes it (GraphQL: errors and cost handled)."""
        ...


class PageReader:
    """Fetches and decodes one stream's pages.

    Args:
        source: The stream (its request hooks and response checks).
        client: The HTTP client every request goes through.
        decoder: The stream's page decoder.
        new_paginator: Builds a fresh paginator for each walk.
        max_pages: The cap on pages per walk (``None``: no cap).
        on_max_pages: What reaching the cap with pages left does.
        skip_statuses: Statuses that mean "no data": the walk ends, the run goes on.
    """

    def __init__(
        self,
        source: PageSource,
        client: FlextHttpClient,
        decoder: PageDecoder,
        *,
        new_paginator: Callable[[], Paginator],
        max_pages: int | None,
        on_max_pages: Literal["fail", "stop"],
        skip_statuses: frozenset[int],
    ) -> None:
        self.source = source
        self.client = client
        self.decoder = decoder
        self.new_paginator = new_paginator
        self.max_pages = max_pages
        self.on_max_pages = on_max_pages
        self.skip_statuses = skip_statuses
        #: Responses skipped per status (``skip_statuses``), for this run.
        self.skipped: Counter[int] = Counter()

    def new_guard(self) -> PaginationGuard:
        """A fresh safety net for one walk."""
        return PaginationGuard(self.source.name, self.max_pages, self.on_max_pages)

    def fetch(
        self,
        call: PageCall,
        *,
        raw: bool,
        context: Context | None = None,
        cancel: threading.Event | None = None,
        partition: str | None = None,
        key_values: bool = False,
    ) -> Page | None:
        """One page through the HTTP client; ``None`` when its status is one to skip.

        Args:
            call: The request.
            raw: Leave records encoded where the page allows it.
            context: The stream context (for the SDK's response hooks).
            cancel: Stops the request's waits and retries once set (a stopped run).
            partition: Names the partition (a time window) in errors.
            key_values: Also read the records' replication-key values.

        Raises:
            StreamRetriableError: a transient failure outlived the client's retries
                (:class:`StreamQuotaExhausted` when the API's quota is spent).
            StreamFatalError: a non-retriable status or an undecodable body.
        """
        name = self.source.name
        try:
            response = self.client.request(
                call.method,
                call.url,
                params=call.params,
                headers=call.headers,
                json=call.json,
                idempotent=call.idempotent,
                retry_check=call.retry_check,
                cancel=cancel,
            )
        except FatalHTTPError as exc:
            if exc.status is not None and exc.status in self.skip_statuses:
                self.skipped[exc.status] += 1
                log.warning(
                    "tap.status_skipped", stream=name, url=exc.url, status=exc.status,
                    skipped_total=sum(self.skipped.values()),
                )  # fmt: skip
                return None
            raise request_error(name, exc, call.url, partition=partition) from exc
        except RequestCancelledError as exc:
            raise WorkCancelled from exc
        except HttpError as exc:
            breaker_open = "open" in self.client.breaker_states().values()
            raise request_error(
                name, exc, call.url, breaker_open=breaker_open, partition=partition
            ) from exc
        # The SDK's hooks on a final response: its duration metric, and
        # validate_response for APIs that report errors inside a 200 body (a
        # RetriableAPIError raised there is not retried again: the client
        # already owns retries).
        self.source.check_response(response, context)
        extracted_at = utc_now().isoformat()
        final_url = str(response.request.url)
        try:
            page = self.decoder.decode(
                final_url, response.status_code, response.headers, response.content,
                raw=raw, extracted_at=extracted_at,
            )  # fmt: skip
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StreamFatalError(
                name, final_url, response.status_code, 1, f"response is not JSON ({exc})",
                partition=partition,
            ) from exc  # fmt: skip
        page = self.source.check_page(page, response, context)
        if key_values:
            page.key_values = self.decoder.page_key_values(page)
        return page

    def walk(
        self,
        context: Context | None,
        *,
        raw: bool,
        on_request: Callable[[], None] | None = None,
    ) -> Generator[Page, None, int]:
        """Every page of one partition, in order; returns how many pages were read.

        With ``raw``, records are left encoded when the page allows it (see
        :meth:`~tap_flext_api._decode.PageDecoder.decode`). ``on_request`` is
        called after each answered request, skipped ones included (the SDK's
        request counter).

        Raises:
            StreamRetriableError: a transient failure outlived the client's retries.
            StreamFatalError: a non-retriable status or an undecodable body.
            PaginationLoopError: the API repeated a token or a page.
            MaxPagesExceededError: the walk hit ``max_pages`` with pages left.
        """
        paginator = self.new_paginator()
        guard = self.new_guard()
        first = paginator.first()
        guard.start(first)
        token: PageRequest | None = first
        while token is not None:
            page = self.fetch(self.source.page_call(context, token), raw=raw, context=context)
            if on_request is not None:
                on_request()
            if page is None:  # a skipped status ends the walk
                break
            yield page
            token = guard.check(page, paginator.next(page, token))
        if guard.capped:
            log.warning("tap.max_pages_reached", stream=self.source.name, max_pages=guard.max_pages)
        return guard.pages
