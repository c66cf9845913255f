"""The tap's settings: the JSON Schema Meltano reads, and typed models built from it.

``CONFIG_SCHEMA`` is the one source of truth for plugin settings (``--about``,
Meltano and the SDK's validation all read it). :class:`TapSettings` and
:class:`StreamDefinition` are typed views over the already-validated config,
so the rest of the tap never digs through dictionaries.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from singer_sdk import typing as th

from tap_flext_api._batch import check_batch_config
from tap_flext_api._windows import parse_window
from tap_flext_api.graphql import GRAPHQL_KEYS, GraphqlSpec

DEFAULT_PAGE_SIZE = 1000
DEFAULT_MAX_PAGES = 100_000
DEFAULT_WMS_ENTITIES = ("allocation", "order_hdr", "order_dtl")
DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY = 64
DEFAULT_MAX_QUOTA_WAIT_S = 300.0


def _p(
    name: str,
    kind: Any,
    title: str,
    description: str,
    **kwargs: Any,
) -> th.Property[Any]:
    return th.Property(name, kind, title=title, description=description, **kwargs)


PAGINATOR_SCHEMA = th.ObjectType(
    _p("type", th.StringType, "Paginator type",
       "none, page_number, offset, cursor, next_url or link_header; GraphQL: none, relay "
       "or offset.",
       allowed_values=["none", "page_number", "offset", "cursor", "next_url", "link_header",
                       "relay"]),
    _p("page_size", th.IntegerType, "Page size", "Overrides the tap's page_size for this stream."),
    _p("page_param", th.StringType, "Page parameter", "page_number: the page-number parameter."),
    _p("start_page", th.IntegerType, "First page", "page_number: the first page's number."),
    _p("page_size_param", th.StringType, "Page-size parameter",
       "page_number: the parameter carrying the page size, if any."),
    _p("total_pages_path", th.StringType, "Total pages JSONPath",
       "page_number: JSONPath to the page count; without it, stop on an empty page."),
    _p("offset_param", th.StringType, "Offset parameter",
       "offset: the offset parameter (GraphQL: the variable)."),
    _p("limit_param", th.StringType, "Limit parameter",
       "offset: the limit parameter (GraphQL: the variable)."),
    _p("total_path", th.StringType, "Total records JSONPath",
       "offset: JSONPath to the record count; without it, stop on an empty page. "
       "page_number: compared between pages read concurrently (a change freezes the bookmark)."),
    _p("stop_on_short_page", th.BooleanType, "Stop on short page",
       "page_number/offset: stop when a page has fewer records than the page size."),
    _p("cursor_path", th.StringType, "Cursor JSONPath", "cursor: JSONPath to the next token."),
    _p("cursor_param", th.StringType, "Cursor parameter", "cursor: the parameter for the token."),
    _p("next_url_path", th.StringType, "Next URL JSONPath", "next_url: JSONPath to the next URL."),
    _p("rel", th.StringType, "Link relation", "link_header: the relation to follow (next)."),
    _p("has_more_path", th.StringType, "Has-more JSONPath",
       "Any type: JSONPath to a boolean; false ends pagination."),
    _p("page_info_path", th.StringType, "pageInfo JSONPath",
       "relay: JSONPath to the connection's pageInfo {hasNextPage endCursor} (default: "
       "beside the records, e.g. $.data.orders.pageInfo for $.data.orders.edges[*].node)."),
    _p("cursor_variable", th.StringType, "Cursor variable",
       "relay: the variable endCursor is passed back in (default after)."),
)  # fmt: skip

STREAM_SCHEMA = th.ObjectType(
    _p("name", th.StringType, "Stream name", "The Singer stream name.", required=True),
    _p("protocol", th.StringType, "Protocol",
       "rest (default) or graphql (POST {query, operationName, variables} to path).",
       allowed_values=["rest", "graphql"]),
    _p("path", th.StringType, "Path template",
       "URL path appended to base_url; {field} placeholders come from the parent context. "
       "GraphQL: the endpoint (default /graphql)."),
    _p("records_path", th.StringType, "Records JSONPath",
       "JSONPath to the records in a response body (default $[*]; GraphQL: required, "
       "e.g. $.data.orders.edges[*].node)."),
    _p("primary_keys", th.ArrayType(th.StringType), "Primary keys", "Record key properties."),
    _p("replication_key", th.StringType, "Replication key",
       "Property that orders changes; enables INCREMENTAL replication."),
    _p("replication_filter_param", th.StringType, "Replication filter parameter",
       "Query parameter given the bookmark (e.g. updated_since). Without it the tap "
       "filters records older than the bookmark itself."),
    _p("replication_value_format", th.StringType, "Replication value format",
       "How the bookmark is sent: iso8601 (default), date, epoch, epoch_ms or a strftime pattern."),
    _p("replication_lookback_minutes", th.NumberType, "Lookback minutes",
       "Subtracted from a timestamp bookmark before it is sent, to catch late writes."),
    _p("is_sorted", th.BooleanType, "Sorted by replication key",
       "The API returns records in replication-key order (makes interrupted runs resumable)."),
    _p("params", th.ObjectType(), "Query parameters",
       "Static query parameters; string values may use {field} placeholders."),
    _p("headers", th.ObjectType(), "Headers", "Extra request headers for this stream."),
    _p("method", th.StringType, "HTTP method", "GET (default) or POST.",
       allowed_values=["GET", "POST"]),
    _p("body", th.ObjectType(), "Body template",
       "POST body; string values may use {field} placeholders. Paging parameters go here too."),
    _p("paginator", PAGINATOR_SCHEMA, "Paginator", "How to walk pages (see docs/tap.md)."),
    _p("schema", th.ObjectType(), "Schema", "The stream's JSON Schema, inline."),
    _p("schema_file", th.StringType, "Schema file", "Path to a JSON Schema file."),
    _p("schema_url", th.StringType, "Schema endpoint",
       "Path (or URL) of an endpoint returning the stream's JSON Schema."),
    _p("infer_schema_pages", th.IntegerType, "Pages sampled for inference",
       "When no schema is given, infer one from this many pages (default 1)."),
    _p("parent_stream", th.StringType, "Parent stream", "Name of the parent stream."),
    _p("parent_context", th.ObjectType(), "Parent context",
       "Map of context name to parent record field, passed to the child's path and params."),
    _p("max_pages", th.IntegerType, "Maximum pages", "Caps this stream's pages."),
    _p("skip_statuses", th.ArrayType(th.IntegerType), "Statuses to skip",
       "HTTP statuses treated as 'no data' (logged and counted), e.g. [404]."),
    # GraphQL (protocol: graphql)
    _p("query", th.StringType, "GraphQL query",
       "GraphQL: the query document, inline. Mutations are refused."),
    _p("query_file", th.StringType, "GraphQL query file",
       "GraphQL: a file holding the query, relative to the config (the Meltano project "
       "root under Meltano, else the --config file's directory)."),
    _p("operation_name", th.StringType, "Operation name",
       "GraphQL: the operation to run when the document holds several."),
    _p("variables", th.ObjectType(), "Variables",
       "GraphQL: variables; strings may use {field} (parent context), {bookmark} and "
       "{page_size}; a string that is one placeholder keeps the value's type."),
    _p("on_partial_errors", th.StringType, "On partial errors",
       "GraphQL: data with errors: fail (default), warn (log and count), or reject (the "
       "records the errors' paths point into go to the reject store).",
       allowed_values=["fail", "warn", "reject"]),
    _p("retriable_error_codes", th.ArrayType(th.StringType), "Retriable error codes",
       "GraphQL: errors[].extensions.code values retried like a 429 (e.g. THROTTLED)."),
    _p("cost_path", th.StringType, "Cost JSONPath",
       "GraphQL: JSONPath to a cost budget that paces requests (Shopify "
       "$.extensions.cost, or GitHub $.data.rateLimit)."),
    _p("partition_window", th.StringType, "Partition window",
       "Incremental streams at max_concurrency > 1: read [bookmark, run start) in windows "
       "of this length, concurrently (\"1 day\", \"6 hours\", ISO 8601 \"PT6H\"). "
       "Overrides the tap's partition_window."),
    _p("window_start_param", th.StringType, "Window start parameter",
       "The parameter given each window's start (default: replication_filter_param)."),
    _p("window_end_param", th.StringType, "Window end parameter",
       "The parameter given each window's end, exclusive (e.g. updated_before); "
       "windows need it."),
)  # fmt: skip

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    # Connection
    _p("profile", th.StringType, "Profile",
       "generic (streams from config) or oracle_wms (Oracle WMS Cloud LGF v10 conventions). "
       "Unset: generic when 'streams' is given, else oracle_wms (so upstream WMS configs "
       "work unchanged).",
       allowed_values=["generic", "oracle_wms"]),
    _p("base_url", th.StringType, "Base URL", "The API root, e.g. https://host/env."),
    _p("api_url", th.StringType, "API URL (alias)", "Accepted as an alias of base_url."),
    _p("auth_method", th.StringType, "Auth method",
       "basic, bearer, api_key, oauth2 or none; inferred from the fields given when unset.",
       allowed_values=["basic", "bearer", "api_key", "oauth2", "none"]),
    _p("username", th.StringType, "Username", "Basic auth user."),
    _p("password", th.StringType, "Password", "Basic auth password.", secret=True),
    _p("bearer_token", th.StringType, "Bearer token", "Token for bearer auth.", secret=True),
    _p("api_key", th.StringType, "API key", "Value for api_key auth.", secret=True),
    _p("api_key_name", th.StringType, "API key name",
       "Header or query parameter carrying the API key (default X-API-Key).", default="X-API-Key"),
    _p("api_key_location", th.StringType, "API key location", "header (default) or query.",
       allowed_values=["header", "query"], default="header"),
    _p("oauth2_token_url", th.StringType, "OAuth2 token URL", "Client-credentials token endpoint."),
    _p("oauth2_client_id", th.StringType, "OAuth2 client id", "Client-credentials client id."),
    _p("oauth2_client_secret", th.StringType, "OAuth2 client secret",
       "Client-credentials secret.", secret=True),
    _p("oauth2_scope", th.StringType, "OAuth2 scope", "Optional scope to request."),
    _p("headers", th.ObjectType(), "Headers", "Extra headers sent with every request."),
    _p("page_size", th.IntegerType, "Page size", "Records asked for per page.",
       default=DEFAULT_PAGE_SIZE),
    _p("start_date", th.DateTimeType, "Start date",
       "Earliest replication-key value read when no bookmark exists."),
    _p("request_timeout", th.NumberType, "Request timeout", "Per-attempt timeout in seconds."),
    _p("timeout", th.NumberType, "Timeout (alias)", "Upstream alias of request_timeout."),
    _p("max_retries", th.IntegerType, "Max retries", "Retries after the first attempt."),
    _p("rate_limit_per_second", th.NumberType, "Rate limit",
       "Requests per second across the tap (unset: no limit)."),
    _p("rate_limit_burst", th.IntegerType, "Rate limit burst", "Requests allowed in a burst."),
    _p("cache_enabled", th.BooleanType, "HTTP cache",
       "Revalidate unchanged pages with ETag/Last-Modified.", default=False),
    _p("verify_tls", th.BooleanType, "Verify TLS", "Verify server certificates.",
       default=True),
    _p("max_pages", th.IntegerType, "Maximum pages",
       "Caps every stream's pages.", default=DEFAULT_MAX_PAGES),
    _p("on_max_pages", th.StringType, "At the page cap",
       "fail (default) makes reaching max_pages with pages left an error; stop ends the stream.",
       allowed_values=["fail", "stop"], default="fail"),
    _p("trust_schema", th.BooleanType, "Trust schema",
       "Skip per-record type conformance (the API already returns schema-typed JSON).",
       default=False),
    _p("reject_path", th.StringType, "Reject path",
       "Directory of the reject store (<run_id>.tap-flext-api.jsonl), for GraphQL "
       "on_partial_errors: reject. Default: <FLEXT_DATA_DIR or .flext>/rejects."),
    # Concurrency
    _p("max_concurrency", th.IntegerType, "Max concurrency",
       "Most requests in flight at once for the whole tap, across streams (1 to 64). "
       "1 reads one page at a time, one stream after another.",
       default=DEFAULT_MAX_CONCURRENCY),
    _p("parallel_streams", th.BooleanType, "Parallel streams",
       "Sync the selected streams at the same time, sharing max_concurrency.", default=True),
    _p("partition_window", th.StringType, "Partition window",
       "Incremental streams at max_concurrency > 1: read [bookmark, run start) in windows "
       "of this length, concurrently (\"1 day\", \"6 hours\", ISO 8601 \"PT6H\"); "
       "unset reads each stream as one partition."),
    _p("max_quota_wait_s", th.NumberType, "Max quota wait",
       "A rate-limit hint asking for a longer wait (Retry-After, X-RateLimit-Reset) means the "
       "quota is spent: the tap stops cleanly, with STATE for what completed, and exits 75.",
       default=DEFAULT_MAX_QUOTA_WAIT_S),
    _p("streams", th.ArrayType(STREAM_SCHEMA), "Streams",
       "Stream definitions for the generic profile (see docs/tap.md)."),
    # Oracle WMS profile (upstream keys)
    _p("entities", th.ArrayType(th.StringType), "WMS entities",
       "oracle_wms: entities to extract (default allocation, order_hdr, order_dtl); "
       "[\"*\"] discovers every entity."),
    _p("discover_all_entities", th.BooleanType, "Discover all entities",
       "oracle_wms: extract every entity listed by /entity/."),
    _p("enable_incremental", th.BooleanType, "Incremental",
       "oracle_wms: read incrementally on replication_key (default true).", default=True),
    _p("replication_key", th.StringType, "WMS replication key",
       "oracle_wms: the change timestamp field (default mod_ts).", default="mod_ts"),
    _p("overlap_minutes", th.NumberType, "Overlap minutes",
       "oracle_wms: minutes subtracted from the bookmark in mod_ts__gte (default 0).", default=0),
    _p("company_code", th.StringType, "Company code", "oracle_wms: company context."),
    _p("facility_code", th.StringType, "Facility code", "oracle_wms: facility context."),
    _p("wms_path_prefix", th.StringType, "WMS API prefix",
       "oracle_wms: path of the LGF API under base_url.", default="/wms/lgfapi/v10"),
    _p("page_mode", th.StringType, "WMS page mode",
       "oracle_wms: sequenced (default; follows next_page) or paged (page_nbr/page_count: "
       "after the first page, the others are read concurrently).",
       allowed_values=["sequenced", "paged"], default="sequenced"),
).to_dict()  # fmt: skip


AuthMethod = Literal["basic", "bearer", "api_key", "oauth2", "none"]


def unknown_keys(config: Mapping[str, Any], known: Iterable[str]) -> list[tuple[str, str | None]]:
    """Config keys no setting reads, each with the closest known key (``None`` if none is close).

    ``max_concurency`` is otherwise accepted without a word and the default
    stays in force.
    """
    names = sorted(set(known))
    found = []
    for key in sorted(config):
        if key in names:
            continue
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
        found.append((key, close[0] if close else None))
    return found


@dataclass(frozen=True)
class StreamDefinition:
    """One declarative stream, typed.

    Built from a ``streams`` entry of the config, or by a profile.
    """

    name: str
    path: str = ""
    records_path: str = "$[*]"
    primary_keys: tuple[str, ...] = ()
    replication_key: str | None = None
    replication_filter_param: str | None = None
    replication_value_format: str = "iso8601"
    replication_lookback_minutes: float = 0.0
    is_sorted: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    method: Literal["GET", "POST"] = "GET"
    body: Mapping[str, Any] | None = None
    paginator: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] | None = None
    schema_file: str | None = None
    schema_url: str | None = None
    infer_schema_pages: int = 1
    parent_stream: str | None = None
    parent_context: Mapping[str, str] = field(default_factory=dict)
    max_pages: int | None = None
    skip_statuses: frozenset[int] = frozenset()
    partition_window: str | None = None
    window_start_param: str | None = None
    window_end_param: str | None = None
    #: Set by profiles: the schema is exact (from describe), so records need no conformance.
    trusted_schema: bool = False
    protocol: Literal["rest", "graphql"] = "rest"
    #: The checked GraphQL operation and error handling (``protocol: graphql`` only).
    graphql: GraphqlSpec | None = None

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], base_dir: Path | None = None) -> StreamDefinition:
        """Build from one ``streams`` entry (already schema-validated).

        Args:
            raw: The entry.
            base_dir: Where a relative ``query_file`` is looked for (default: the
                working directory).

        Raises:
            ValueError: an unknown key, or settings that contradict each other.
        """
        name = raw.get("name")
        graphql_keys = {k for k in GRAPHQL_KEYS if raw.get(k) is not None}
        unknown = (set(raw) - set(cls.__dataclass_fields__) - {"trusted_schema", "graphql"}) - set(
            GRAPHQL_KEYS
        )
        if unknown:
            raise ValueError(f"stream {name!r}: unknown keys {sorted(unknown)}")
        protocol = raw.get("protocol") or "rest"
        if protocol not in ("rest", "graphql"):
            raise ValueError(f"stream {name!r}: protocol must be rest or graphql")
        if protocol == "rest" and graphql_keys:
            raise ValueError(
                f"stream {name!r}: {', '.join(sorted(graphql_keys))} only apply to "
                "protocol: graphql"
            )
        values: dict[str, Any] = {
            k: v for k, v in raw.items() if v is not None and k not in GRAPHQL_KEYS
        }
        if "primary_keys" in values:
            values["primary_keys"] = tuple(values["primary_keys"])
        if "skip_statuses" in values:
            values["skip_statuses"] = frozenset(int(s) for s in values["skip_statuses"])
        if "method" in values:
            values["method"] = str(values["method"]).upper()
        if protocol == "graphql":
            if values.get("method", "POST") != "POST" or "body" in values:
                raise ValueError(
                    f"stream {name!r}: a GraphQL stream always POSTs "
                    "{query, operationName, variables}; drop method and body"
                )
            if not values.get("records_path"):
                raise ValueError(
                    f"stream {name!r}: a GraphQL stream needs records_path "
                    "(e.g. $.data.orders.edges[*].node)"
                )
            spec = GraphqlSpec.build(str(name), raw, values["records_path"], base_dir)
            values.update(
                method="POST",
                path=values.get("path") or "/graphql",
                paginator=spec.paginator,
                graphql=spec,
            )
        if values.get("partition_window"):
            try:
                parse_window(values["partition_window"])
            except ValueError as exc:
                raise ValueError(f"stream {raw.get('name')!r}: {exc}") from None
        return cls(**values)


@dataclass(frozen=True)
class TapSettings:
    """The tap-level settings, typed, with aliases and defaults resolved."""

    profile: Literal["generic", "oracle_wms"]
    base_url: str
    auth_method: AuthMethod
    username: str | None
    password: str | None
    bearer_token: str | None
    api_key: str | None
    api_key_name: str
    api_key_location: Literal["header", "query"]
    oauth2_token_url: str | None
    oauth2_client_id: str | None
    oauth2_client_secret: str | None
    oauth2_scope: str | None
    headers: Mapping[str, str]
    page_size: int
    start_date: str | None
    request_timeout: float | None
    max_retries: int | None
    rate_limit_per_second: float | None
    rate_limit_burst: int | None
    cache_enabled: bool
    verify_tls: bool
    max_pages: int
    on_max_pages: Literal["fail", "stop"]
    trust_schema: bool
    reject_path: str | None
    max_concurrency: int
    parallel_streams: bool
    partition_window: str | None
    max_quota_wait_s: float
    streams: tuple[StreamDefinition, ...]
    entities: tuple[str, ...]
    discover_all_entities: bool
    enable_incremental: bool
    replication_key: str
    overlap_minutes: float
    company_code: str | None
    facility_code: str | None
    wms_path_prefix: str
    page_mode: Literal["sequenced", "paged"]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base_dir: Path | None = None) -> TapSettings:
        """Resolve aliases and defaults from the validated config.

        Args:
            config: The validated config.
            base_dir: Where relative ``query_file`` paths are looked for (default:
                the working directory).

        Raises:
            ValueError: a setting is missing or contradicts another.
        """
        base_url = config.get("base_url") or config.get("api_url")
        if not base_url:
            raise ValueError("base_url (or api_url) is required")
        check_batch_config(config)
        entities = tuple(config.get("entities") or DEFAULT_WMS_ENTITIES)
        discover_all = bool(config.get("discover_all_entities", False)) or entities == ("*",)
        timeout = config.get("request_timeout", config.get("timeout"))
        concurrency = int(config.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY)
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}")
        if config.get("partition_window"):
            parse_window(config["partition_window"])
        quota_wait = config.get("max_quota_wait_s")
        quota_wait = DEFAULT_MAX_QUOTA_WAIT_S if quota_wait is None else float(quota_wait)
        if quota_wait < 0:
            raise ValueError("max_quota_wait_s must be >= 0")
        return cls(
            profile=config.get("profile") or ("generic" if config.get("streams") else "oracle_wms"),
            base_url=str(base_url).rstrip("/"),
            auth_method=config.get("auth_method") or _infer_auth(config),
            username=config.get("username"),
            password=config.get("password"),
            bearer_token=config.get("bearer_token"),
            api_key=config.get("api_key"),
            api_key_name=config.get("api_key_name") or "X-API-Key",
            api_key_location=config.get("api_key_location") or "header",
            oauth2_token_url=config.get("oauth2_token_url"),
            oauth2_client_id=config.get("oauth2_client_id"),
            oauth2_client_secret=config.get("oauth2_client_secret"),
            oauth2_scope=config.get("oauth2_scope"),
            headers=dict(config.get("headers") or {}),
            page_size=int(config.get("page_size") or DEFAULT_PAGE_SIZE),
            start_date=config.get("start_date"),
            request_timeout=float(timeout) if timeout is not None else None,
            max_retries=config.get("max_retries"),
            rate_limit_per_second=config.get("rate_limit_per_second"),
            rate_limit_burst=config.get("rate_limit_burst"),
            cache_enabled=bool(config.get("cache_enabled", False)),
            verify_tls=bool(config.get("verify_tls", True)),
            max_pages=int(config.get("max_pages") or DEFAULT_MAX_PAGES),
            on_max_pages=config.get("on_max_pages") or "fail",
            trust_schema=bool(config.get("trust_schema", False)),
            reject_path=config.get("reject_path") or None,
            streams=tuple(
                StreamDefinition.from_config(s, base_dir) for s in config.get("streams") or ()
            ),
            max_concurrency=concurrency,
            parallel_streams=bool(config.get("parallel_streams", True)),
            partition_window=config.get("partition_window") or None,
            max_quota_wait_s=quota_wait,
            entities=() if discover_all else entities,
            discover_all_entities=discover_all,
            enable_incremental=bool(config.get("enable_incremental", True)),
            replication_key=config.get("replication_key") or "mod_ts",
            overlap_minutes=float(config.get("overlap_minutes") or 0),
            company_code=config.get("company_code"),
            facility_code=config.get("facility_code"),
            wms_path_prefix=_prefix(config.get("wms_path_prefix")),
            page_mode=config.get("page_mode") or "sequenced",
        )


def _infer_auth(config: Mapping[str, Any]) -> AuthMethod:
    if config.get("oauth2_client_id") and config.get("oauth2_token_url"):
        return "oauth2"
    if config.get("bearer_token"):
        return "bearer"
    if config.get("api_key"):
        return "api_key"
    if config.get("username"):
        return "basic"
    return "none"


def _prefix(value: str | None) -> str:
    return "/" + str(value or "/wms/lgfapi/v10").strip("/")
