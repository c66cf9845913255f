"""The GraphQL stream: a :class:`~tap_flext_api.client.FlextApiStream` that POSTs a query.

Everything but the request body and the answer's errors is the REST
stream's: the page reader and its one HTTP stack (rate governor, retries,
breaker), the paginators and their safety net, the incremental state, the
fast loop and writer, parent-child contexts. What differs:

- the body is ``{query, operationName, variables}``, the variables rendered
  from the template like REST params (parent context, ``{bookmark}``,
  ``{page_size}``), the paginator's parameters (``after``, ``offset``...)
  added as variables;
- the request is marked idempotent (a query only reads; mutations are
  refused when the config is validated), and errors whose code the stream
  marks retriable (``THROTTLED``) are retried by the HTTP client like a 429;
- each answer's ``errors`` are judged (:meth:`GraphqlStream.check_page`):
  without data they are fatal; with partial data ``on_partial_errors``
  decides (fail, warn, reject to the reject store);
- a cost budget (``cost_path``) holds the host in the rate governor before
  the budget runs out.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from singer_sdk.helpers.conform import TypeConformanceLevel

from flext_infra.observability import get_logger
from tap_flext_api._decode import DECODER
from tap_flext_api._errors import GraphqlResponseError, GraphqlThrottledError
from tap_flext_api._reader import PageCall
from tap_flext_api._template import render
from tap_flext_api.client import FlextApiStream
from tap_flext_api.graphql._decode import GraphqlPageDecoder
from tap_flext_api.graphql._response import (
    CostGauge,
    GraphqlProblem,
    format_path,
    problems_of,
    summarize,
    throttle_check,
)
from tap_flext_api.pagination import Page, PageRequest, Paginator, build_paginator

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from flext_infra.http import Response, RetryCheck
    from tap_flext_api._windows import Window
    from tap_flext_api.graphql._config import GraphqlSpec

__all__ = ["GraphqlStream"]

log = get_logger("tap_flext_api.graphql")

#: The reject store's rule name for records a GraphQL error hit.
REJECT_RULE = "graphql_error"


#: Serialises ``check_page`` across workers (counters and the tap's reject store).
_CHECK_LOCK = threading.Lock()


class GraphqlStream(FlextApiStream):
    """A stream read by a GraphQL query (``protocol: graphql``); see the module docstring."""

    def __init__(self, tap: Any, schema: dict[str, Any] | None = None) -> None:
        super().__init__(tap, schema)
        #: GraphQL errors met in partial data this run (``warn`` and ``reject``).
        self.partial_errors = 0
        #: Records sent to the reject store this run (``reject``).
        self.rejected = 0
        #: Records GraphQL nulled (an error on a non-null field) and that were dropped.
        self.nulled = 0

    @property
    def spec(self) -> GraphqlSpec:
        """The stream's checked GraphQL settings."""
        spec = self.definition.graphql
        if spec is None:
            raise TypeError(f"stream {self.name!r} is not a GraphQL stream")
        return spec

    # ------------------------------------------------------------ the request
    def get_url_params(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict[str, Any]:
        """Only the static ``params``: the bookmark and page tokens are variables."""
        values = self.template_values(context)
        params: dict[str, Any] = render(dict(self.definition.params), values, keep_types=False)
        return params

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict[str, Any] | None:
        """``{query, operationName, variables}``, variables rendered and paged."""
        spec = self.spec
        variables: dict[str, Any] = render(dict(spec.variables), self.template_values(context))
        variables.update(self._replication_params(context))
        if next_page_token is not None:
            variables.update(next_page_token.params)
        body: dict[str, Any] = {"query": spec.operation.query, "variables": variables}
        if spec.operation.operation_name:
            body["operationName"] = spec.operation.operation_name
        return body

    def page_call(
        self, context: Context | None, token: PageRequest, window: Window | None = None
    ) -> PageCall:
        """The REST stream's call, marked idempotent and with the throttle check.

        GraphQL streams are not read in time windows (their bounds would be
        variables): ``window`` is always ``None`` here (see ``_plan_windows``).
        """
        return dataclasses.replace(
            super().page_call(context, token, window),
            idempotent=True,
            retry_check=self._retry_check,
        )

    @cached_property
    def _retry_check(self) -> RetryCheck | None:
        codes = self.spec.retriable_error_codes
        return throttle_check(codes, self._gauge) if codes else None

    @cached_property
    def _gauge(self) -> CostGauge:
        return CostGauge(self.spec.cost_path)

    def get_new_paginator(self) -> Paginator:  # type: ignore[override]
        """A fresh paginator (relay, offset or none), naming this stream in its errors."""
        return build_paginator(self.definition.paginator, self._settings.page_size, self.name)

    @cached_property
    def page_decoder(self) -> GraphqlPageDecoder:
        """One-pass GraphQL page decoding (records raw or shaped; errors and cost kept)."""
        conforms = self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE
        cost_path = self.spec.cost_path
        return GraphqlPageDecoder(
            self.definition.records_path,
            schema=self.effective_schema if conforms else None,
            replication_key=self.replication_key,
            body_paths=self.get_new_paginator().body_paths(),
            kept_paths=(cost_path,) if cost_path else (),
        )

    # ------------------------------------------------------------ the answer
    def check_page(self, page: Page, response: Response, context: Context | None) -> Page:
        """Judge the answer's ``errors``, feed its cost to the governor, keep the good records.

        In a concurrent run this runs on the worker that fetched the page; one
        lock keeps the error counters and the reject store's writes whole.

        Raises:
            GraphqlThrottledError: errors marked retriable persisted through the retries.
            GraphqlResponseError: errors without data, or partial data the
                stream does not accept (``on_partial_errors``).
        """
        with _CHECK_LOCK:
            return self._check_page(page, response)

    def _check_page(self, page: Page, response: Response) -> Page:
        body = page.body if isinstance(page.body, Mapping) else {}
        problems = problems_of(body.get("errors"))
        if problems:
            self._judge(page, response, body, problems)
        elif any(r is None for r in page.records):
            self._drop_nulls(page, set())
        if self.spec.cost_path:
            wait = self._gauge.wait_s(body)
            if wait:
                self._host.http_client.hold(page.url, wait, "graphql cost")
        # The loop check compares records: a cost extension differs on every answer.
        page.identity = page.records
        return page

    def _judge(
        self,
        page: Page,
        response: Response,
        body: Mapping[str, Any],
        problems: list[GraphqlProblem],
    ) -> None:
        spec = self.spec
        attempts = int(response.extensions.get("flext.attempts", 1))
        status = page.status

        def fail(what: str) -> NoReturn:
            raise GraphqlResponseError(
                self.name, page.url, status, attempts, f"{what}: {summarize(problems)}", problems
            )

        retriable = [p for p in problems if p.code in spec.retriable_error_codes]
        if retriable:
            raise GraphqlThrottledError(
                self.name, page.url, status, attempts,
                f"GraphQL {retriable[0].code} persisted through the retries: "
                f"{summarize(problems)}", problems,
            )  # fmt: skip
        if body.get("data") is None or self.page_decoder.container(body) is None:
            fail("GraphQL errors and no data")
        locator = self.page_decoder.locator
        hits: dict[int, list[GraphqlProblem]] = {}
        outside: list[GraphqlProblem] = []
        for problem in problems:
            index = locator.index(problem.path) if locator is not None else None
            if index is None:
                outside.append(problem)
            else:
                hits.setdefault(index, []).append(problem)
        policy = spec.on_partial_errors
        if policy == "fail":
            fail("GraphQL errors in partial data (on_partial_errors: fail)")
        if policy == "reject" and outside:
            fail("GraphQL errors outside every record, so no record to reject")
        self.partial_errors += len(problems)
        log.warning(
            "tap.graphql_partial_errors", stream=self.name, url=page.url, errors=len(problems),
            records_hit=len(hits), policy=policy, errors_total=self.partial_errors,
            detail=summarize(problems),
        )  # fmt: skip
        self._drop_nulls(page, set(hits) if policy == "reject" else set(), hits)

    def _drop_nulls(
        self,
        page: Page,
        rejected: set[int],
        hits: Mapping[int, list[GraphqlProblem]] | None = None,
    ) -> None:
        """Take nulled records, and those to reject, out of ``page`` (rejecting the latter)."""
        records = page.records
        nulled = {i for i, r in enumerate(records) if r is None}
        if rejected:
            self._reject(page, rejected, hits or {})
        self.nulled += len(nulled - rejected)
        gone = nulled | rejected
        page.records = [r for i, r in enumerate(records) if i not in gone]
        page.encoded = None  # the records array no longer matches the body's

    def _reject(
        self, page: Page, indexes: set[int], hits: Mapping[int, list[GraphqlProblem]]
    ) -> None:
        from flext_infra.quality import Reject  # the store's record type, needed only here

        decoded = page.records if page.form == "decoded" else None
        if decoded is None:
            decoded = self.page_decoder.records_of(DECODER.decode(page.content))
        width = len(self.page_decoder.locator.pattern) if self.page_decoder.locator else 0
        rejects = []
        for index in sorted(indexes):
            record = decoded[index] if index < len(decoded) else None
            record = dict(record) if isinstance(record, Mapping) else {}
            key = {k: record.get(k) for k in self.primary_keys}
            failures = []
            for problem in hits.get(index, []):
                field = format_path((problem.path or ())[width:])
                failures.append((field, REJECT_RULE, problem.describe()))
            field, rule, reason = failures[0]
            rejects.append(
                Reject(self.name, key, field, rule, reason, record, failures=tuple(failures))
            )
        self._host.rejects.write_many(rejects)
        self.rejected += len(rejects)
