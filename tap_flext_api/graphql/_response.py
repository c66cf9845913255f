"""Reading a GraphQL answer beyond its data: errors, the records they hit, and cost.

GraphQL reports failures inside a 200. This module turns the ``errors`` list
into :class:`GraphqlProblem` values (message, path, code), finds which record
an error's ``path`` points into (:class:`RecordLocator`), tells a throttled
answer from a failed one (:func:`throttle_check`, a ``retry_check`` for the
HTTP client), and reads cost budgets (:class:`CostGauge`) so the rate
governor can wait before the budget runs out rather than after.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from flext_infra.http import Response, RetryAdvice, RetryCheck
from tap_flext_api._jsonpath import first_value, simple_keys

__all__ = ["CostGauge", "GraphqlProblem", "RecordLocator", "problems_of", "throttle_check"]

#: How many errors a message quotes before it says "and N more".
QUOTED_ERRORS = 5

_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class GraphqlProblem:
    """One entry of a GraphQL answer's ``errors``.

    Attributes:
        message: The server's message.
        path: Where in ``data`` it happened (field names and list indexes), if given.
        code: ``extensions.code`` (or GitHub's ``type``), if given.
    """

    message: str
    path: tuple[str | int, ...] | None = None
    code: str | None = None

    def describe(self) -> str:
        """``message (at items.edges[3].node.price; code UPSTREAM_TIMEOUT)``."""
        where = []
        if self.path:
            where.append(f"at {format_path(self.path)}")
        if self.code:
            where.append(f"code {self.code}")
        return f"{self.message} ({'; '.join(where)})" if where else self.message


def format_path(path: Iterable[str | int]) -> str:
    """A GraphQL error path as ``items.edges[3].node.price``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problems_of(errors: Any) -> list[GraphqlProblem]:
    """The ``errors`` of an answer, tolerant of servers that bend the spec."""
    if errors is None:
        return []
    if not isinstance(errors, list):
        errors = [errors]
    problems = []
    for error in errors:
        if not isinstance(error, Mapping):
            problems.append(GraphqlProblem(str(error)))
            continue
        path = error.get("path")
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        code = code if code is not None else error.get("type")
        steps = None
        if isinstance(path, list):
            steps = tuple(p for p in path if isinstance(p, str | int))
        message = str(error.get("message") or "(no message)")
        problems.append(GraphqlProblem(message, steps, str(code) if code is not None else None))
    return problems


def summarize(problems: list[GraphqlProblem]) -> str:
    """The first few problems, described, for an error message or a log line."""
    quoted = "; ".join(p.describe() for p in problems[:QUOTED_ERRORS])
    more = len(problems) - QUOTED_ERRORS
    return quoted + (f"; and {more} more" if more > 0 else "")


_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|(\[\*\])")


class RecordLocator:
    """Which record of a page an error's ``path`` points into.

    Built from the stream's ``records_path`` (``$.data.orders.edges[*].node``,
    ``$.data.orders.nodes``): the error path ``["orders", "edges", 3, "node",
    "price"]`` is record 3. Only plain paths with at most one ``[*]`` can be
    followed back like this (:meth:`compile` returns ``None`` otherwise).
    """

    def __init__(self, pattern: tuple[str | None, ...]) -> None:
        #: Field names, with ``None`` where the record index sits.
        self.pattern = pattern

    @classmethod
    def compile(cls, records_path: str) -> RecordLocator | None:
        """The locator for ``records_path``, or ``None`` when it cannot be followed back."""
        text = records_path.strip()
        if not text.startswith("$.data"):
            return None
        rest = text[len("$.data") :]
        parts: list[str | None] = []
        position = 0
        for match in _SEGMENT.finditer(rest):
            if match.start() != position:
                return None
            parts.append(match.group(1))  # None for [*]
            position = match.end()
        if position != len(rest) or parts.count(None) > 1 or not parts:
            return None
        if None not in parts:
            parts.append(None)  # a path ending on the list: records are its items
        return cls(tuple(parts))

    def index(self, path: tuple[str | int, ...] | None) -> int | None:
        """The record index ``path`` falls in, or ``None`` when it is outside every record."""
        if path is None or len(path) < len(self.pattern):
            return None
        found: int | None = None
        for want, got in zip(self.pattern, path, strict=False):
            if want is None:
                if not isinstance(got, int):
                    return None
                found = got
            elif want != got:
                return None
        return found


class CostGauge:
    """Reads a GraphQL cost budget from each answer and says how long to wait.

    ``cost_path`` (a JSONPath) points at one of:

    * Shopify's cost object, ``$.extensions.cost``: ``requestedQueryCost`` and
      ``throttleStatus {currentlyAvailable, restoreRate}``; or the
      ``throttleStatus`` object itself (the cost is then read beside it).
      The next query is assumed to cost what this one did: when less is
      available, wait ``(cost - available) / restoreRate``.
    * GitHub's ``rateLimit {cost, remaining, resetAt}`` (query it in the
      operation, ``$.data.rateLimit``): when less than the cost remains,
      wait until ``resetAt``.

    Without ``cost_path``, Shopify's place (``$.extensions.cost``) is looked
    at only to size the wait of a throttled answer.
    """

    DEFAULT_PATH = "$.extensions.cost"

    def __init__(self, cost_path: str | None) -> None:
        self.cost_path = cost_path
        keys = simple_keys(cost_path) if cost_path else None
        #: The object beside a ``throttleStatus`` path (to find the query's cost).
        self._parent = "$." + ".".join(keys[:-1]) if keys and len(keys) > 1 else None

    def wait_s(self, body: Any, *, default_path: bool = False) -> float | None:
        """Seconds to wait before the next request; ``None`` when the body says nothing."""
        path = self.cost_path or (self.DEFAULT_PATH if default_path else None)
        if path is None or not isinstance(body, Mapping):
            return None
        found = first_value(path, body)
        if not isinstance(found, Mapping):
            return None
        if "throttleStatus" in found:
            return _bucket_wait(found.get("throttleStatus"), found)
        if "currentlyAvailable" in found:
            parent = first_value(self._parent, body) if self._parent else None
            return _bucket_wait(found, parent if isinstance(parent, Mapping) else {})
        if "remaining" in found:
            return _window_wait(found)
        return None


def _number(value: Any) -> float | None:
    # Bodies decode numbers with a fraction as Decimal (exact records).
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def _bucket_wait(status: Any, cost: Mapping[str, Any]) -> float | None:
    if not isinstance(status, Mapping):
        return None
    available = _number(status.get("currentlyAvailable"))
    rate = _number(status.get("restoreRate"))
    need = _number(cost.get("requestedQueryCost"))
    if need is None:
        need = _number(cost.get("actualQueryCost"))
    if available is None or rate is None or rate <= 0:
        return None
    if need is None:
        need = 1.0
    return max(0.0, (need - available) / rate)


def _window_wait(limit: Mapping[str, Any]) -> float | None:
    remaining = _number(limit.get("remaining"))
    cost = _number(limit.get("cost")) or 1.0
    if remaining is None:
        return None
    if remaining >= cost:
        return 0.0
    reset = limit.get("resetAt")
    try:
        when = datetime.datetime.fromisoformat(str(reset).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def throttle_check(codes: frozenset[str], gauge: CostGauge) -> RetryCheck:
    """A ``retry_check`` that retries answers carrying an error with one of ``codes``.

    The wait comes from the answer's cost budget when it has one (the HTTP
    layer prefers a ``Retry-After`` header, and falls back to its backoff).
    """

    def check(response: Response) -> RetryAdvice | None:
        content = response.content
        if b'"errors"' not in content:
            return None
        try:
            body = _decoder.decode(content)
        except msgspec.DecodeError:
            return None  # not this check's business: the stream reports a bad body
        if not isinstance(body, Mapping):
            return None
        hit = [p for p in problems_of(body.get("errors")) if p.code in codes]
        if not hit:
            return None
        return RetryAdvice(f"graphql {hit[0].code}", gauge.wait_s(body, default_path=True))

    return check
