"""tap-flext-api: a declarative Singer tap for JSON REST and GraphQL APIs, with a WMS profile.

Run it as ``tap-flext-api --config config.json``; embed it with
``TapFlextApi(config=..., http_client=container.resolve("http_client"))``.
"""

from tap_flext_api._bookmarks import field_value, format_replication_value
from tap_flext_api._errors import (
    GraphqlResponseError,
    GraphqlThrottledError,
    MaxPagesExceededError,
    PaginationError,
    PaginationLoopError,
    RequestFailure,
    StreamFatalError,
    StreamQuotaExhausted,
    StreamRetriableError,
    WorkCancelled,
)
from tap_flext_api._schema import infer_schema
from tap_flext_api._settings import CONFIG_SCHEMA, StreamDefinition, TapSettings
from tap_flext_api._writer import FastSingerWriter
from tap_flext_api.client import FlextApiStream
from tap_flext_api.graphql._stream import GraphqlStream
from tap_flext_api.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    PaginationGuard,
    Paginator,
    RelayPaginator,
    SinglePagePaginator,
    build_paginator,
)
from tap_flext_api.profiles import describe_to_schema, wms_field_schema, wms_stream_definitions
from tap_flext_api.streams import (
    ConfiguredGraphqlStream,
    ConfiguredStream,
    WmsEntityStream,
    stream_class,
)
from tap_flext_api.tap import TapFlextApi

__all__ = [
    "CONFIG_SCHEMA",
    "ConfiguredGraphqlStream",
    "ConfiguredStream",
    "CursorPaginator",
    "FastSingerWriter",
    "FlextApiStream",
    "GraphqlResponseError",
    "GraphqlStream",
    "GraphqlThrottledError",
    "LinkHeaderPaginator",
    "MaxPagesExceededError",
    "NextUrlPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationError",
    "PaginationGuard",
    "PaginationLoopError",
    "Paginator",
    "RelayPaginator",
    "RequestFailure",
    "SinglePagePaginator",
    "StreamDefinition",
    "StreamFatalError",
    "StreamQuotaExhausted",
    "StreamRetriableError",
    "TapFlextApi",
    "TapSettings",
    "WmsEntityStream",
    "WorkCancelled",
    "build_paginator",
    "describe_to_schema",
    "field_value",
    "format_replication_value",
    "infer_schema",
    "stream_class",
    "wms_field_schema",
    "wms_stream_definitions",
]
