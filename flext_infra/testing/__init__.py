"""Testing support: the sample API server (WMS LGF v10 shape, generic paginators, GraphQL, faults).

Run it in the foreground with ``python -m flext_infra.testing.sample_api --port 8080``.
"""

from flext_infra.testing._data import ENTITIES, GENERIC_ENTITY, EntitySpec, FieldSpec
from flext_infra.testing._faults import Faults, RequestLog, RequestRecord
from flext_infra.testing._graphql import GRAPHQL_PATH, GraphqlCall, GraphqlEndpoint
from flext_infra.testing._server import GENERIC_MODES, GENERIC_PREFIX, WMS_PREFIX, SampleApi

__all__ = [
    "ENTITIES",
    "GENERIC_ENTITY",
    "GENERIC_MODES",
    "GENERIC_PREFIX",
    "GRAPHQL_PATH",
    "WMS_PREFIX",
    "EntitySpec",
    "Faults",
    "FieldSpec",
    "GraphqlCall",
    "GraphqlEndpoint",
    "RequestLog",
    "RequestRecord",
    "SampleApi",
]
