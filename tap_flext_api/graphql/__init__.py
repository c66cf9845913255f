"""GraphQL streams: the operation, its checks, and reading answers (errors, partial data, cost).

A stream with ``protocol: graphql`` POSTs ``{query, operationName, variables}``
through the same HTTP stack, paginators, safety net, incremental state and
writer as REST streams. See docs/tap.md ("GraphQL streams").
"""

from tap_flext_api.graphql._config import GRAPHQL_KEYS, GraphqlSpec, OnPartialErrors
from tap_flext_api.graphql._operation import GraphqlOperation
from tap_flext_api.graphql._response import (
    CostGauge,
    GraphqlProblem,
    RecordLocator,
    problems_of,
    throttle_check,
)

__all__ = [
    "GRAPHQL_KEYS",
    "CostGauge",
    "GraphqlOperation",
    "GraphqlProblem",
    "GraphqlSpec",
    "OnPartialErrors",
    "RecordLocator",
    "problems_of",
    "throttle_check",
]
