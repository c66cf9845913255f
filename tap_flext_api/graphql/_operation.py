"""A GraphQL stream's operation, checked once when the config is validated.

The document is parsed with graphql-core (the reference implementation's
Python port), never searched for keywords: a comment or a string holding the
word ``mutation`` is not a mutation, and ``query`` written as the shorthand
``{ ... }`` is one. graphql-core is imported only when a GraphQL stream is
configured, so REST-only runs do not pay for it.

Variables are templates rendered like REST params (``tap_flext_api._template``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GraphqlOperation"]


@dataclass(frozen=True)
class GraphqlOperation:
    """The query a GraphQL stream sends, checked.

    Attributes:
        query: The document text, sent as it is.
        operation_name: The operation to run (``None`` when the document has one).
        declared: The variables the operation declares (without ``$``).
        kind: Always ``"query"``: anything else is refused by :meth:`parse`.
    """

    query: str
    operation_name: str | None
    declared: frozenset[str]
    kind: str = "query"

    @classmethod
    def parse(cls, stream: str, query: str, operation_name: str | None) -> GraphqlOperation:
        """Parse ``query`` and pick its operation.

        Raises:
            ValueError: a syntax error (with line and column), no operation or
                an ambiguous one, or an operation that is not a query: a
                mutation or subscription is refused, because a tap only reads
                and its requests are retried.
        """
        from graphql import GraphQLSyntaxError, OperationDefinitionNode
        from graphql import parse as parse_document

        try:
            document = parse_document(query)
        except GraphQLSyntaxError as exc:
            location = exc.locations[0] if exc.locations else None
            where = f" at line {location.line}, column {location.column}" if location else ""
            raise ValueError(
                f"stream {stream!r}: the GraphQL query does not parse{where}: {exc.message}"
            ) from None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        writes = [op for op in operations if op.operation.value != "query"]
        if writes:
            op = writes[0]
            name = f" {op.name.value!r}" if op.name else ""
            loc = op.loc.start_token if op.loc is not None else None
            where = f" (line {loc.line})" if loc is not None else ""
            raise ValueError(
                f"stream {stream!r}: the GraphQL document declares a {op.operation.value}"
                f"{name}{where}; only queries are allowed: a tap reads, and its requests "
                "are retried, so a mutation could write twice"
            )
        if not operations:
            raise ValueError(f"stream {stream!r}: the GraphQL document has no query operation")
        names = [op.name.value for op in operations if op.name is not None]
        if operation_name is None:
            if len(operations) > 1:
                raise ValueError(
                    f"stream {stream!r}: the GraphQL document has {len(operations)} operations "
                    f"({', '.join(names) or 'unnamed'}); set operation_name"
                )
            chosen = operations[0]
        else:
            found = [op for op in operations if op.name and op.name.value == operation_name]
            if not found:
                raise ValueError(
                    f"stream {stream!r}: operation_name {operation_name!r} is not in the "
                    f"GraphQL document (it has: {', '.join(names) or 'one unnamed operation'})"
                )
            chosen = found[0]
        declared = frozenset(v.variable.name.value for v in chosen.variable_definitions or ())
        return cls(query, operation_name, declared)

    def check_variables(self, stream: str, names: Mapping[str, Any] | set[str]) -> None:
        """Refuse variables the operation does not declare (a typo, or a stale query).

        Raises:
            ValueError: naming each undeclared variable and what the query declares.
        """
        unknown = sorted(set(names) - self.declared)
        if unknown:
            declared = ", ".join(f"${v}" for v in sorted(self.declared)) or "none"
            raise ValueError(
                f"stream {stream!r}: the query does not declare "
                f"{', '.join('$' + v for v in unknown)} (it declares {declared})"
            )
