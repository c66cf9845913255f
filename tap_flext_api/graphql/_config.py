"""What a ``protocol: graphql`` stream declares, checked as the config is validated.

Everything a run could trip over later is refused here, each with the stream
name and what to change: a mutation, a query that does not parse, variables
the query does not declare (including the paginator's), a records path
outside ``data``, a paginator GraphQL cannot drive, and ``reject`` on a
records path an error's ``path`` cannot be followed back through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tap_flext_api.graphql._operation import GraphqlOperation
from tap_flext_api.graphql._response import RecordLocator

__all__ = ["GRAPHQL_KEYS", "GraphqlSpec", "OnPartialErrors"]

OnPartialErrors = Literal["fail", "warn", "reject"]
#: Stream keys that only mean something for ``protocol: graphql``.
GRAPHQL_KEYS = (
    "query",
    "query_file",
    "operation_name",
    "variables",
    "on_partial_errors",
    "retriable_error_codes",
    "cost_path",
)
_PAGINATORS = ("none", "relay", "offset")
_ON_PARTIAL: dict[str, OnPartialErrors] = {"fail": "fail", "warn": "warn", "reject": "reject"}
#: ``$.data.<connection>.edges[*].node`` / ``.nodes``: the connection is what precedes.
_CONNECTION = re.compile(r"^(\$\.data(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\.(?:edges\[\*\]\.node|nodes)")


@dataclass(frozen=True)
class GraphqlSpec:
    """A GraphQL stream's operation and error handling, checked.

    Attributes:
        operation: The parsed query.
        variables: The variables template (placeholders as in REST params).
        on_partial_errors: ``fail``, ``warn`` or ``reject`` (see docs/tap.md).
        retriable_error_codes: ``extensions.code`` values retried like a 429.
        cost_path: JSONPath to the cost budget the rate governor follows.
        locator: Maps an error's path to its record (``None``: not followable).
        paginator: The paginator options, with GraphQL defaults filled in.
    """

    operation: GraphqlOperation
    variables: Mapping[str, Any]
    on_partial_errors: OnPartialErrors
    retriable_error_codes: frozenset[str]
    cost_path: str | None
    locator: RecordLocator | None
    paginator: Mapping[str, Any]

    @classmethod
    def build(
        cls, name: str, raw: Mapping[str, Any], records_path: str, base_dir: Path | None
    ) -> GraphqlSpec:
        """Check one stream's GraphQL settings.

        Args:
            name: The stream name (for messages).
            raw: The stream's config entry.
            records_path: Its records JSONPath.
            base_dir: Where a relative ``query_file`` is looked for.

        Raises:
            ValueError: what is wrong, naming the stream and the setting.
        """
        query = _query_text(name, raw, base_dir)
        operation = GraphqlOperation.parse(name, query, raw.get("operation_name"))
        variables = dict(raw.get("variables") or {})
        if not records_path.startswith("$.data"):
            raise ValueError(
                f"stream {name!r}: records_path must point into the answer's data "
                f"(e.g. $.data.orders.edges[*].node), got {records_path!r}"
            )
        paginator = _paginator(name, dict(raw.get("paginator") or {}), records_path)
        paging = {
            "relay": [paginator.get("cursor_variable") or "after"],
            "offset": [paginator.get("offset_param") or "offset",
                       paginator.get("limit_param") or "limit"],
        }.get(paginator["type"], [])  # fmt: skip
        operation.check_variables(name, {*variables, *paging})
        given = raw.get("on_partial_errors") or "fail"
        if given not in _ON_PARTIAL:
            raise ValueError(
                f"stream {name!r}: on_partial_errors must be fail, warn or reject, got {given!r}"
            )
        on_partial = _ON_PARTIAL[given]
        locator = RecordLocator.compile(records_path)
        if on_partial == "reject" and locator is None:
            raise ValueError(
                f"stream {name!r}: on_partial_errors 'reject' needs a records_path of plain "
                f"field names with at most one [*] (to find the record an error's path "
                f"points into), got {records_path!r}"
            )
        return cls(
            operation=operation,
            variables=variables,
            on_partial_errors=on_partial,
            retriable_error_codes=frozenset(str(c) for c in raw.get("retriable_error_codes") or ()),
            cost_path=raw.get("cost_path") or None,
            locator=locator,
            paginator=paginator,
        )


def _query_text(name: str, raw: Mapping[str, Any], base_dir: Path | None) -> str:
    query, query_file = raw.get("query"), raw.get("query_file")
    if (query is None) == (query_file is None):
        raise ValueError(f"stream {name!r}: a GraphQL stream needs one of query or query_file")
    if query is not None:
        return str(query)
    path = Path(str(query_file)).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"stream {name!r}: cannot read query_file {query_file!r} ({path}): {exc.strerror}"
        ) from None


def _paginator(name: str, options: dict[str, Any], records_path: str) -> dict[str, Any]:
    kind = options.setdefault("type", "none")
    if kind not in _PAGINATORS:
        raise ValueError(
            f"stream {name!r}: paginator type {kind!r} does not apply to GraphQL "
            f"(use {', '.join(_PAGINATORS)})"
        )
    if kind == "relay" and not options.get("page_info_path"):
        match = _CONNECTION.match(records_path)
        if match is None:
            raise ValueError(
                f"stream {name!r}: set paginator.page_info_path (it cannot be derived "
                f"from records_path {records_path!r})"
            )
        options["page_info_path"] = match.group(1) + ".pageInfo"
    return options
