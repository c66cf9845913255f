"""The sample API's GraphQL endpoint: ``POST /graphql`` over the same tables as the REST API.

Every entity (the generic ``items`` and the WMS entities) is a root field
returning a Relay connection (``edges { cursor node }``, ``nodes``,
``pageInfo { hasNextPage endCursor }``, ``totalCount``). A connection pages
with ``first``/``after`` (keyset cursors, as the REST cursor modes) or
``offset``/``limit``; ``updatedSince`` keeps the records whose replication
key is at or after a time (inclusive, like ``mod_ts__gte``); ``orderBy``
takes the REST ``ordering`` values; ``ids`` and one ``Int`` argument per
foreign key (``order_id: 7``) filter.

Why graphql-core and not a fixed-query handler: the point of this endpoint is
to behave like a real GraphQL server in the ways a client must cope with:
syntax and validation errors answered inside a 200 with locations, variables
coerced against their declared types, fragments and aliases, a failing field
reported with its ``path`` while the rest of the data is still returned, and
nulls propagated to the nearest nullable parent. graphql-core (the reference
implementation's port, pure Python, no dependencies) does all of that; a
fixed-query handler would be a second, partial GraphQL implementation to get
wrong. Its executor resolves field by field, so it renders pages more slowly
than the REST modes' msgspec path; that is fine for tests and demos, and the
REST modes remain the benchmark workload. Parsed and validated documents are
cached per query text.

GraphQL-level faults (:class:`~flext_infra.testing.Faults`): all-errors
answers (``data: null``), partial data (one field of one record fails with
its path), ``THROTTLED`` answers carrying a Shopify-style
``extensions.cost.throttleStatus``, and a cost bucket that throttles for real
and reports its state on every answer. HTTP-level faults (5xx, 429, slow,
dropped and truncated bodies) come from the handler, as for every path.
"""

from __future__ import annotations

import functools
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.utilities import get_operation_ast, value_from_ast_untyped

from flext_infra.testing._data import ENTITIES, GENERIC_ENTITY, EntitySpec, FieldSpec, parse_ts
from flext_infra.testing._pages import MAX_PAGE_SIZE, ApiError, _decode_cursor, _encode_cursor

if TYPE_CHECKING:
    from flext_infra.testing._data import RecordContext, Table
    from flext_infra.testing._faults import FaultInjector

GRAPHQL_PATH = "/graphql"
#: Page size of a connection asked for with neither ``first`` nor ``limit``.
DEFAULT_FIRST = 100
#: The throttle status sent by ``graphql_throttle_next`` when no cost bucket is set.
DEFAULT_COST_BUCKET = (1000.0, 50.0)

_SCALARS = {
    "integer": "Int",
    "decimal": "Float",
    "string": "String",
    "boolean": "Boolean",
    "date": "String",
    "datetime": "DateTime",
    "fk": "Ref",
    "object": "JSON",
    "array": "JSON",
}


def type_name(spec: EntitySpec) -> str:
    """An entity's GraphQL object type: ``items`` -> ``Item``, ``order_hdr`` -> ``OrderHdr``."""
    base = spec.name[:-1] if spec.name.endswith("s") else spec.name
    return "".join(part.capitalize() for part in base.split("_"))


def _fk_fields(spec: EntitySpec) -> tuple[str, ...]:
    return tuple(f.name for f in spec.fields if f.type == "fk")


def schema_sdl(specs: Sequence[EntitySpec]) -> str:
    """The SDL of the sample API's GraphQL schema for ``specs``."""
    parts = [
        '"""Any JSON value (nested objects and arrays of the records)."""\nscalar JSON',
        '"""An ISO 8601 timestamp."""\nscalar DateTime',
        "type Ref { id: Int! key: String url: String }",
        "type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! "
        "startCursor: String endCursor: String }",
    ]
    roots = []
    for spec in specs:
        name = type_name(spec)
        fields = " ".join(
            f"{f.name}: {_SCALARS[f.type]}{'' if f.nullable else '!'}" for f in spec.fields
        )
        parts += [
            f"type {name} {{ {fields} }}",
            f"type {name}Edge {{ cursor: String! node: {name} }}",
            f"type {name}Connection {{ edges: [{name}Edge!]! nodes: [{name}]! "
            "pageInfo: PageInfo! totalCount: Int! }",
        ]
        fk_args = "".join(f" {fk}: Int" for fk in _fk_fields(spec))
        roots.append(
            f"{spec.name}(first: Int, after: String, offset: Int, limit: Int, "
            f'updatedSince: DateTime, orderBy: String = "id", ids: [Int!]{fk_args}): '
            f"{name}Connection!"
        )
    parts.append("type Query {\n  " + "\n  ".join(roots) + "\n}")
    return "\n\n".join(parts)


@functools.lru_cache(maxsize=1)
def sample_schema() -> GraphQLSchema:
    """The schema over the generic dataset and the WMS entities (built once)."""
    return build_schema(schema_sdl([GENERIC_ENTITY, *ENTITIES.values()]))


@functools.lru_cache(maxsize=256)
def _document(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """``query`` parsed and validated against :func:`sample_schema` (cached per text)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc,)
    return document, tuple(validate(sample_schema(), document))


@dataclass(frozen=True, slots=True)
class GraphqlCall:
    """One request the endpoint answered: what was asked, and the fault it got."""

    operation_name: str | None
    variables: Mapping[str, Any]
    fault: str | None
    status: int


@dataclass(slots=True)
class GraphqlAnswer:
    """The answer to send: status, JSON payload, and the GraphQL fault injected (if any)."""

    status: int
    payload: dict[str, Any]
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _CostBucket:
    """Shopify's leaky bucket: ``available`` refills at ``restore_rate`` per second."""

    def __init__(self, maximum: float, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = maximum
        self._at = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 3),
            "restoreRate": self.restore_rate,
        }


class GraphqlData(Protocol):
    """What the endpoint reads from its API (``SampleApi`` is one)."""

    tables: dict[str, Table]

    def view(
        self, table: Table, filters: tuple[tuple[str, str, int | str], ...], ordering: str
    ) -> Sequence[int]:
        """The ids of ``table`` matching ``filters``, in ``ordering``."""
        ...

    def record_context(self) -> RecordContext:
        """What records are rendered with."""
        ...


class GraphqlEndpoint:
    """``POST /graphql`` for one :class:`~flext_infra.testing.SampleApi`.

    Args:
        api: The tables it serves.
        injector: The API's fault injector (its lock, settings and draws).

    Attributes:
        calls: Every request answered, in order (operation, variables, fault).
    """

    def __init__(self, api: GraphqlData, injector: FaultInjector) -> None:
        self._api = api
        self._injector = injector
        self._lock = threading.Lock()
        self.calls: list[GraphqlCall] = []
        self._bucket: _CostBucket | None = None
        self._bucket_key: tuple[float, float] | None = None
        #: THROTTLED answers sent (by the cost bucket or the fault counters).
        self.throttled = 0

    # ------------------------------------------------------------------ answering
    def answer(self, method: str, body: bytes) -> GraphqlAnswer:
        """Answer one request to ``/graphql``."""
        if method != "POST":
            return self._log(
                None, {}, GraphqlAnswer(405, _errors("POST a JSON body {query, variables}"))
            )
        try:
            request = msgspec.json.decode(body or b"null")
        except msgspec.DecodeError:
            return self._log(None, {}, GraphqlAnswer(400, _errors("the body is not JSON")))
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return self._log(
                None, {}, GraphqlAnswer(400, _errors("the body needs a 'query' string"))
            )
        name = request.get("operationName")
        variables = request.get("variables") or {}
        if not isinstance(variables, dict) or (name is not None and not isinstance(name, str)):
            return self._log(name, {}, GraphqlAnswer(400, _errors("variables must be an object")))
        return self._log(name, variables, self._execute(request["query"], name, variables))

    def _log(self, name: Any, variables: Mapping[str, Any], answer: GraphqlAnswer) -> GraphqlAnswer:
        call = GraphqlCall(
            name if isinstance(name, str) else None, variables, answer.fault, answer.status
        )
        with self._lock:
            self.calls.append(call)
            if answer.fault == "graphql:throttled":
                self.throttled += 1
        return answer

    def _execute(self, query: str, name: str | None, variables: dict[str, Any]) -> GraphqlAnswer:
        document, problems = _document(query)
        if document is None or problems:
            return GraphqlAnswer(200, {"errors": [e.formatted for e in problems]})
        operation = get_operation_ast(document, name)
        if operation is None:
            why = (
                f"unknown operation {name!r}" if name else "several operations: give operationName"
            )
            return GraphqlAnswer(200, _errors(why))
        if operation.operation is not OperationType.QUERY:
            kind = operation.operation.value
            return GraphqlAnswer(200, _errors(f"{kind} operations are not served (read-only API)"))
        cost = self._requested_cost(operation, variables)
        fault, bucket = self._admit(cost)
        payload: dict[str, Any]
        if fault == "throttled":
            payload = _errors("Throttled", code="THROTTLED")
            payload["extensions"] = {"cost": _cost_extension(cost, bucket)}
            return GraphqlAnswer(200, payload, "graphql:throttled")
        if fault == "errors":
            payload = {
                "data": None,
                "errors": [
                    {
                        "message": f"Internal error while resolving '{f.name.value}': "
                        "the upstream store timed out",
                        "locations": [_location(f)],
                        "path": [(f.alias or f.name).value],
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                    for f in _root_fields(operation)
                ],
            }
            return GraphqlAnswer(200, payload, "graphql:errors")
        context = {"partial": fault == "partial"}
        result = execute(
            sample_schema(),
            document,
            root_value=self._roots(),
            context_value=context,
            variable_values=variables,
            operation_name=name,
        )
        if not isinstance(result, ExecutionResult):  # every resolver here is synchronous
            raise TypeError("the sample GraphQL schema resolved asynchronously")
        payload = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
            if result.data is None:
                del payload["data"]  # the request failed before execution (variables)
        if bucket is not None:
            payload["extensions"] = {"cost": _cost_extension(cost, bucket)}
        injected = "graphql:partial" if context.get("partial_done") else None
        return GraphqlAnswer(200, payload, injected)

    # ------------------------------------------------------------------ faults and cost
    def _admit(self, cost: int) -> tuple[str | None, dict[str, Any] | None]:
        """The GraphQL fault this request gets, and the cost bucket's state after it.

        The cost bucket (``Faults.graphql_cost``) is checked first: a request
        costing more than is available is throttled and charged nothing.
        Otherwise the fault counters and ``graphql_throttle_ratio`` decide, and
        a request that is not throttled is charged its cost.
        """
        injector = self._injector
        with injector.lock:
            f = injector.faults
            bucket = self._bucket_for(f.graphql_cost)
            if bucket is not None:
                bucket.refill()
                if cost > bucket.available:
                    return "throttled", bucket.status()
            fault = None
            if not f.paths or GRAPHQL_PATH.startswith(f.paths):
                if f.graphql_throttle_next > 0:
                    f.graphql_throttle_next -= 1
                    fault = "throttled"
                elif f.graphql_errors_next > 0:
                    f.graphql_errors_next -= 1
                    fault = "errors"
                elif f.graphql_partial_next > 0:
                    f.graphql_partial_next -= 1
                    fault = "partial"
                elif (
                    f.graphql_throttle_ratio > 0
                    and injector.rng.random() < f.graphql_throttle_ratio
                ):
                    fault = "throttled"
            if bucket is None:
                return fault, (_default_throttle() if fault == "throttled" else None)
            if fault == "throttled":
                return fault, bucket.status()
            bucket.available -= cost
            return fault, {**bucket.status(), "actual": cost}

    def _bucket_for(self, setting: tuple[float, float] | None) -> _CostBucket | None:
        if setting is None:
            self._bucket = self._bucket_key = None
        elif self._bucket is None or self._bucket_key != setting:
            self._bucket, self._bucket_key = _CostBucket(*setting), setting
        return self._bucket

    @staticmethod
    def _requested_cost(operation: OperationDefinitionNode, variables: dict[str, Any]) -> int:
        """One, plus two per connection and one per record asked for (Shopify's rule of thumb)."""
        cost = 1
        for root in _root_fields(operation):
            args = {
                a.name.value: value_from_ast_untyped(a.value, variables)
                for a in root.arguments or ()
            }
            size = args.get("first") if args.get("first") is not None else args.get("limit")
            cost += 2 + (size if isinstance(size, int) else DEFAULT_FIRST)
        return cost

    # ------------------------------------------------------------------ resolving
    def _roots(self) -> dict[str, Callable[..., Any]]:
        api = self._api
        return {
            name: functools.partial(self._connection, api.tables[name])
            for name in (GENERIC_ENTITY.name, *ENTITIES)
        }

    def _connection(self, table: Table, info: Any, **args: Any) -> dict[str, Any]:
        """One page of ``table`` as a connection (the root fields' resolver)."""
        spec = table.spec
        first, limit, offset = args.get("first"), args.get("limit"), args.get("offset")
        if first is not None and limit is not None:
            raise GraphQLError("give 'first' or 'limit', not both")
        if args.get("after") is not None and offset is not None:
            raise GraphQLError("give 'after' or 'offset', not both")
        size = first if first is not None else (limit if limit is not None else DEFAULT_FIRST)
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(f"page size must be between 0 and {MAX_PAGE_SIZE}")
        if offset is not None and offset < 0:
            raise GraphQLError("offset must be >= 0")
        ordering = args.get("orderBy") or "id"
        filters: list[tuple[str, str, int | str]] = []
        since = args.get("updatedSince")
        if since is not None:
            try:
                filters.append((spec.replication_key, "gte", parse_ts(str(since))))
            except ValueError:
                raise GraphQLError(f"updatedSince: cannot parse {since!r}") from None
        api = self._api
        try:
            view: Sequence[int] = api.view(table, tuple(sorted(filters)), ordering)
            keyfn = table.sort_key(ordering)
        except (ApiError, ValueError):
            raise GraphQLError(f"unsupported orderBy {ordering!r}") from None
        ctx = api.record_context()
        wanted_ids = args.get("ids")
        if wanted_ids is not None:
            allowed = set(wanted_ids)
            view = [i for i in view if i in allowed]
        fk_filters = [(fk, args[fk]) for fk in _fk_fields(spec) if args.get(fk) is not None]
        if fk_filters:
            view = [
                i
                for i in view
                if all(
                    (table.record(i, ctx).get(fk) or {}).get("id") == value
                    for fk, value in fk_filters
                )
            ]
        start = offset or 0
        after = args.get("after")
        if after:
            try:
                start = bisect_right(view, _decode_cursor(after, ordering), key=keyfn)
            except ApiError as exc:
                raise GraphQLError(f"after: {exc.detail}") from None
        ids = view[start : start + size]
        records = [table.record(i, ctx) for i in ids]
        if info.context.get("partial") and records:
            middle = len(records) // 2
            only = self._injector.faults.graphql_partial_field
            records[middle] = _failing_record(spec, records[middle], only)
        cursors = [_encode_cursor(keyfn(i), ordering) for i in ids]
        return {
            "edges": [{"cursor": c, "node": r} for c, r in zip(cursors, records, strict=True)],
            "nodes": records,
            "totalCount": len(view),
            "pageInfo": {
                "hasNextPage": start + len(ids) < len(view),
                "hasPreviousPage": start > 0,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }


def _failing_record(
    spec: EntitySpec, record: dict[str, Any], only: str | None = None
) -> dict[str, Any]:
    """A copy of ``record`` whose first nullable field the query reads fails to resolve.

    graphql-core's default resolver calls a callable value, so each nullable
    field (or just ``only``) becomes a function; the first one called raises,
    the rest return their value. The error then carries the field's path, its
    value is null (a non-null field nulls the record), and the rest of the
    page is intact.
    """
    failed: list[str] = []
    rigged = dict(record)

    def resolver(spec_field: FieldSpec, value: Any) -> Callable[..., Any]:
        def resolve(info: Any, **_: Any) -> Any:
            if failed:
                return value
            failed.append(spec_field.name)
            info.context["partial_done"] = True
            raise GraphQLError(
                f"could not load '{spec_field.name}' of {spec.name} {record.get('id')}: "
                "the upstream store timed out",
                extensions={"code": "UPSTREAM_TIMEOUT"},
            )

        return resolve

    for spec_field in spec.fields:
        wanted = spec_field.name == only if only is not None else spec_field.nullable
        if wanted and spec_field.name in record:
            rigged[spec_field.name] = resolver(spec_field, record[spec_field.name])
    return rigged


def _default_throttle() -> dict[str, Any]:
    maximum, rate = DEFAULT_COST_BUCKET
    return {"maximumAvailable": maximum, "currentlyAvailable": 0.0, "restoreRate": rate}


def _cost_extension(cost: int, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extensions.cost`` as Shopify's Admin API sends it."""
    state = state or _default_throttle()
    return {
        "requestedQueryCost": cost,
        "actualQueryCost": state.get("actual"),
        "throttleStatus": {
            k: state[k] for k in ("maximumAvailable", "currentlyAvailable", "restoreRate")
        },
    }


def _root_fields(operation: OperationDefinitionNode) -> list[FieldNode]:
    return [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]


def _location(node: FieldNode) -> dict[str, int]:
    loc = node.loc
    if loc is None:
        return {"line": 1, "column": 1}
    return {"line": loc.start_token.line, "column": loc.start_token.column}


def _errors(message: str, *, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    return {"errors": [error]}
