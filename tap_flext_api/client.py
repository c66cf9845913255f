"""The base stream: the SDK's REST stream with ``flext_infra``'s HTTP client as transport.

What is kept from :class:`singer_sdk.RESTStream`: the request hooks
(``get_url``, ``get_url_params``, ``http_headers``,
``prepare_request_payload``, ``get_http_request``), ``post_process``, state and
bookmarks, catalog selection, stream maps, flattening, parent-child contexts,
and the meaning of ``RetriableAPIError`` / ``FatalAPIError``.

What is replaced: the request loop (``request_records``). The SDK's loop sends
through a ``requests`` session wrapped in its own ``backoff`` retries; here the
one retry/rate-limit/breaker/cache stack is ``flext_infra.http``, and its
final errors are mapped to the SDK's exception types with the stream, URL,
status and attempts. Pages are decoded once with msgspec and walked by
:mod:`tap_flext_api.pagination` under the :class:`PaginationGuard`.

Per-record work is trimmed where the SDK spends most: type conformance is
skipped for trusted schemas, deselection only runs when something is
deselected, and RECORD lines go through :class:`FastSingerWriter`.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import msgspec
from singer_sdk import RESTStream
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams.rest import PageContext

from flext_infra.http import CircuitOpenError, FatalHTTPError, HttpError, RetriableHTTPError
from flext_infra.observability import get_logger, log_context
from tap_flext_api._conform import JsonConformer, record_shape
from tap_flext_api._errors import StreamFatalError, StreamRetriableError
from tap_flext_api._jsonpath import compile_path, simple_keys
from tap_flext_api._settings import StreamDefinition
from tap_flext_api._writer import FastSingerWriter
from tap_flext_api.pagination import (
    Page,
    PageForm,
    PageRequest,
    PaginationGuard,
    Paginator,
    build_paginator,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_flext_api.tap import TapFlextApi

__all__ = ["FlextApiStream", "field_value", "format_replication_value"]

log = get_logger("tap_flext_api.stream")

_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)
_CONTEXT_TYPES = ("string", "integer", "number", "boolean", "null")
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_raw_dict = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _page_decoder(kind: Any) -> Any:
    """A decoder for ``kind``; untyped values decode as :data:`_decoder` does (exact decimals)."""
    return msgspec.json.Decoder(kind, float_hook=decimal.Decimal)


@dataclass(frozen=True, slots=True)
class _PageReader:
    """A one-pass page decoder (see ``FlextApiStream._page_reader``).

    Attributes:
        decoder: Decodes a whole body.
        records_key: The body key holding the records; ``None`` when the body
            is the records array.
        body_fields: ``(struct attribute, body key)`` of each key the paginator reads.
        form: ``"raw"`` or ``"shaped"`` (see :class:`~tap_flext_api.pagination.Page`).
    """

    decoder: Any
    records_key: str | None
    body_fields: tuple[tuple[str, str], ...]
    form: PageForm


def _render(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in strings (recursively) from ``values``."""
    if isinstance(template, str):
        if "{" not in template:
            return template
        try:
            return template.format_map(values)
        except KeyError as exc:
            raise ValueError(f"template {template!r} needs context field {exc}") from exc
    if isinstance(template, Mapping):
        return {k: _render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_render(v, values) for v in template]
    return template


def field_value(record: Mapping[str, Any], field: str) -> Any:
    """``record[field]``, where a dotted ``field`` reaches into nested objects (``order_id.id``).

    Raises:
        KeyError: a part of the path is missing.
    """
    if field in record:
        return record[field]
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(field)
        value = value[part]
    return value


def _older(value: Any, floor: Any) -> bool:
    """True when a record's key ``value`` is before the bookmark ``floor``."""
    if value is None:
        return False
    if isinstance(floor, datetime.datetime):
        moment = _parse_timestamp(value)
        return moment is not None and moment < floor
    return bool(value < floor)


def _parse_timestamp(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def format_replication_value(value: Any, fmt: str, lookback_minutes: float = 0.0) -> Any:
    """Render a bookmark for the API's filter parameter.

    Timestamps (ISO 8601 strings) are moved back by ``lookback_minutes`` and
    rendered as ``iso8601``, ``date``, ``epoch``, ``epoch_ms`` or a strftime
    pattern. Anything else (an integer key, say) is sent as it is.
    """
    moment = _parse_timestamp(value)
    if moment is None:
        return value
    if lookback_minutes:
        moment -= datetime.timedelta(minutes=lookback_minutes)
    if fmt == "iso8601":
        return moment.isoformat()
    if fmt == "date":
        return moment.date().isoformat()
    if fmt == "epoch":
        return int(moment.timestamp())
    if fmt == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if "%" in fmt:
        return moment.strftime(fmt)
    raise ValueError(f"unknown replication_value_format {fmt!r}")


class FlextApiStream(RESTStream[PageRequest]):
    """A REST stream defined by a :class:`StreamDefinition`, read through ``flext_infra.http``.

    Subclasses set :attr:`definition` (see :mod:`tap_flext_api.streams`).
    """

    definition: ClassVar[StreamDefinition]
    #: Allow the fast record loop (see :meth:`_sync_records`); False keeps the SDK's loop.
    fast_path_enabled: ClassVar[bool] = True

    def __init__(self, tap: TapFlextApi, schema: dict[str, Any] | None = None) -> None:
        definition = self.definition
        self._flext_tap = tap
        self._settings = tap.settings
        if schema is not None and definition.parent_stream:
            # The SDK copies the parent context into each child record; declare
            # those fields so conformance keeps them and targets get a column.
            properties = dict(schema.get("properties", {}))
            schema = {**schema, "properties": properties}
            for name in definition.parent_context or ("parent_id",):
                properties.setdefault(name, {"type": [*_CONTEXT_TYPES]})
        super().__init__(
            tap=tap,
            name=definition.name,
            schema=schema,
            path=definition.path,
            http_method=definition.method,
        )
        # The SDK opens a requests.Session per stream; data goes through
        # flext_infra.http instead, so close it rather than leave it idle.
        if self._requests_session is not None:
            self._requests_session.close()
            self._requests_session = None
        self.primary_keys = list(definition.primary_keys)
        self.replication_key = definition.replication_key
        trusted = definition.trusted_schema or self._settings.trust_schema
        self.TYPE_CONFORMANCE_LEVEL = (
            TypeConformanceLevel.NONE if trusted else TypeConformanceLevel.ROOT_ONLY
        )
        self._extract = compile_path(definition.records_path)
        self._raw_keys = simple_keys(definition.records_path)
        #: Responses skipped per status (``skip_statuses``), for this run.
        self.skipped: Counter[int] = Counter()
        #: Pages read in this run.
        self.pages_read = 0
        #: True once the stream was synced by the fast record loop.
        self.used_fast_path = False
        #: Pages whose records were copied as raw JSON (no decode, no re-encode).
        self.raw_pages = 0
        self._time_extracted: str | None = None

    # ------------------------------------------------------------ SDK hooks
    @property
    def url_base(self) -> str:
        """The API root from the settings (``base_url`` or ``api_url``)."""
        return self._settings.base_url

    @property
    def is_sorted(self) -> bool:
        """True when the API returns records ordered by the replication key."""
        return self.definition.is_sorted and self.replication_key is not None

    @property
    def records_jsonpath(self) -> str:
        """Where the records are in a response body."""
        return self.definition.records_path

    @property
    def http_headers(self) -> dict[str, str]:
        """The tap's headers, then the stream's."""
        return {**self._settings.headers, **self.definition.headers}

    def get_url(self, context: Context | None) -> str:
        """``base_url + path``, with ``{field}`` placeholders filled from the context."""
        path = self.definition.path
        if "{" in path:
            values = {k: quote(str(v), safe="") for k, v in (context or {}).items()}
            try:
                path = path.format_map(values)
            except KeyError as exc:
                raise StreamFatalError(
                    self.name, self.url_base + path, None, 0,
                    f"path needs context field {exc} (set parent_stream and parent_context)",
                ) from None  # fmt: skip
        if path.startswith(("http://", "https://")):
            return path
        return self.url_base + (path if path.startswith("/") else "/" + path)

    def get_url_params(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict[str, Any]:
        """Static params, the incremental filter and, for GET, the page token."""
        params: dict[str, Any] = _render(dict(self.definition.params), context or {})
        if self.definition.method == "GET":
            params.update(self._replication_params(context))
            if next_page_token is not None:
                params.update(next_page_token.params)
        return params

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict[str, Any] | None:
        """For POST: the body template, the incremental filter and the page token."""
        if self.definition.method != "POST":
            return None
        body: dict[str, Any] = _render(dict(self.definition.body or {}), context or {})
        body.update(self._replication_params(context))
        if next_page_token is not None:
            body.update(next_page_token.params)
        return body

    def get_new_paginator(self) -> Paginator:  # type: ignore[override]
        """A fresh paginator from the stream's ``paginator`` settings."""
        return build_paginator(self.definition.paginator, self._settings.page_size)

    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """The fields each child asked for (``parent_context``), taken from the parent record."""
        child_context: dict[str, Any] = {}
        for child in self.child_streams:
            mapping = getattr(child, "definition", None)
            wanted = mapping.parent_context if mapping is not None else {}
            if not wanted:
                wanted = {"parent_id": (list(self.primary_keys) or ["id"])[0]}
            for name, field in wanted.items():
                try:
                    child_context[name] = field_value(record, field)
                except KeyError:
                    raise StreamFatalError(
                        self.name, self.get_url(context), None, 0,
                        f"record has no field '{field}' for child stream '{child.name}'",
                    ) from None  # fmt: skip
        return child_context

    def parse_response(self, response: Any) -> Iterable[dict[str, Any]]:
        """The records of a response (decoded with msgspec, numbers as Decimal)."""
        yield from self._extract(_decoder.decode(response.content))

    # ------------------------------------------------------------ incremental
    def _replication_params(self, context: Context | None) -> dict[str, Any]:
        definition = self.definition
        if not (self.replication_key and definition.replication_filter_param):
            return {}
        value = self._starting_value(context)
        if value is None:
            return {}
        return {
            definition.replication_filter_param: format_replication_value(
                value,
                definition.replication_value_format,
                definition.replication_lookback_minutes,
            )
        }

    def _starting_value(self, context: Context | None) -> Any:
        # The SDK resolves the bookmark, falling back to ``start_date`` for
        # timestamp keys, and returns None for FULL_TABLE runs.
        return self.get_starting_replication_key_value(context)

    # ------------------------------------------------------------ request loop
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read every page through ``flext_infra.http`` and yield its records.

        Raises:
            StreamRetriableError: a transient failure outlived the client's retries.
            StreamFatalError: a non-retriable status or an undecodable body.
            PaginationLoopError: the API repeated a token or a page.
            MaxPagesExceededError: the stream hit ``max_pages`` with pages left.
        """
        keep_from = self._client_side_floor(context)
        for page in self._pages(context, raw=False):
            if keep_from is None:
                yield from page.records
            else:
                yield from self._newer_than(page.records, keep_from)

    def sample_pages(self, context: Context | None) -> Generator[Page, None, None]:
        """The stream's pages, decoded, for schema inference (closed by the caller)."""
        yield from self._pages(context, raw=False)

    def _pages(self, context: Context | None, *, raw: bool) -> Iterator[Page]:
        """Every page of the stream, walked by the paginator under the safety net.

        With ``raw``, records are left encoded (``msgspec.Raw``) when the page
        allows it (see :meth:`_decode`).
        """
        client = self._flext_tap.http_client
        paginator = self.get_new_paginator()
        guard = PaginationGuard(
            self.name,
            self.definition.max_pages or self._settings.max_pages,
            self._settings.on_max_pages,
        )
        first = paginator.first()
        guard.start(first)
        token: PageRequest | None = first
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            while token is not None:
                request = self.get_http_request(
                    page=PageContext(stream_context=context, next_page_token=token)
                )
                if token.url is not None:
                    url, params = token.url, None
                else:
                    url, params = (
                        request.url,
                        {k: v for k, v in request.params.items() if v is not None},
                    )
                page = self._fetch(
                    client, request.method, url, params, request, raw=raw, context=context
                )
                counter.increment()
                if page is None:  # a skipped status ends the stream
                    break
                self.pages_read += 1
                yield page
                token = guard.check(page, paginator.next(page, token))
            if guard.capped:
                log.warning("tap.max_pages_reached", stream=self.name, max_pages=guard.max_pages)
        log.info(
            "tap.stream_read", stream=self.name, pages=guard.pages,
            skipped=sum(self.skipped.values()), fast_path=self.used_fast_path,
            raw_pages=self.raw_pages,
        )  # fmt: skip

    def _client_side_floor(self, context: Context | None) -> Any:
        """The bookmark to filter on locally, when the API has no filter parameter."""
        if not self.replication_key or self.definition.replication_filter_param:
            return None
        value = self._starting_value(context)
        if value is None:
            return None
        return _parse_timestamp(value) or value

    def _newer_than(self, records: list[dict[str, Any]], floor: Any) -> Iterable[dict[str, Any]]:
        key = self.replication_key
        as_time = isinstance(floor, datetime.datetime)
        for record in records:
            value = record.get(key) if key else None
            if value is None:
                yield record
                continue
            if as_time:
                moment = _parse_timestamp(value)
                if moment is not None and moment < floor:
                    continue
            elif value < floor:
                continue
            yield record

    def _fetch(
        self,
        client: Any,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        request: Any,
        *,
        raw: bool = False,
        context: Context | None = None,
    ) -> Page | None:
        """One page through the HTTP client; HTTP errors become the SDK's types."""
        try:
            response = client.request(
                method,
                url,
                params=params,
                headers=request.headers or None,
                json=request.data if method == "POST" else None,
            )
        except CircuitOpenError as exc:
            raise StreamRetriableError(
                self.name, exc.url or url, exc.status, exc.attempts, "circuit breaker open"
            ) from exc
        except FatalHTTPError as exc:
            if exc.status in self.definition.skip_statuses:
                self.skipped[exc.status] += 1
                log.warning(
                    "tap.status_skipped", stream=self.name, url=exc.url, status=exc.status,
                    skipped_total=sum(self.skipped.values()),
                )  # fmt: skip
                return None
            raise StreamFatalError.from_http(self.name, exc, url) from exc
        except RetriableHTTPError as exc:
            reason = "retries exhausted"
            if "open" in client.breaker_states().values():
                reason += "; circuit breaker now open"
            raise StreamRetriableError(
                self.name, exc.url or url, exc.status, exc.attempts, reason
            ) from exc
        except HttpError as exc:
            raise StreamFatalError(
                self.name, getattr(exc, "url", None) or url, getattr(exc, "status", None),
                getattr(exc, "attempts", 1), f"HTTP error: {exc}",
            ) from exc  # fmt: skip
        # The SDK's hooks on a final response: its duration metric, and
        # validate_response for APIs that report errors inside a 200 body (a
        # RetriableAPIError raised there is not retried again: the client
        # already owns retries).
        self._write_request_duration_log(
            endpoint=self.path, response=response, context=context, extra_tags=None
        )
        self.validate_response(response)
        self._time_extracted = utc_now().isoformat()
        final_url = str(response.request.url)
        try:
            return self._decode(final_url, response, raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StreamFatalError(
                self.name, final_url, response.status_code, 1, f"response is not JSON ({exc})"
            ) from exc

    def _decode(self, url: str, response: Any, raw: bool) -> Page:
        """Decode a response body into a :class:`Page`.

        In raw mode, and when the records path is a plain key path and the body
        has no raw newline (each record must fit on one Singer line), records
        keep their JSON text: no per-record decode or re-encode, and numbers
        keep their exact text. Where it can (see :meth:`_page_reader`), one
        msgspec pass reads the records and the keys the paginator needs, and a
        page it refuses is decoded; otherwise the body is split, then the
        records array is checked. Anything else is decoded (numbers as
        ``Decimal``).
        """
        content = response.content

        def page(
            body: Any, records: list[Any], encoded: Any = None, form: PageForm = "decoded"
        ) -> Page:
            return Page(url, response.status_code, response.headers, body, response.content,
                        records, encoded, form)  # fmt: skip

        if not content:
            return page(None, [])
        keys = self._raw_keys
        if not raw or keys is None or b"\n" in content or b"\r" in content:
            body = _decoder.decode(content)
            return page(body, self._extract(body) if body is not None else [])
        reader = self._page_reader
        if reader is not None:
            try:
                top = reader.decoder.decode(content)
            except msgspec.ValidationError:
                # A record conformance would change, or records that are not an
                # array: decoded (and conformed) like any page that cannot go raw.
                body = _decoder.decode(content)
                return page(body, self._extract(body))
            if reader.records_key is None:
                return page(top, top, None, reader.form)
            records = top.records or []
            body = {key: getattr(top, attr) for attr, key in reader.body_fields}
            body[reader.records_key] = records
            return page(body, records, None, reader.form)
        if not keys:
            try:
                items = _raw_list.decode(content)
            except msgspec.ValidationError:  # one object, not an array
                items, content = [msgspec.Raw(content)], b"[" + content + b"]"
            if not self._conforms_as_is(content):
                body = _decoder.decode(content)
                return page(body, self._extract(body))
            return page(items, items, content, "raw")
        top = _raw_dict.decode(content)
        body = {k: _decoder.decode(v) for k, v in top.items() if k != keys[0]}
        node: Any = top.get(keys[0])
        for key in keys[1:]:
            if node is None:
                break
            inner = _raw_dict.decode(node)
            node = inner.get(key)
        if node is None or bytes(node) == b"null":
            body[keys[0]] = []
            return page(body, [])
        try:
            records = _raw_list.decode(node)
        except msgspec.ValidationError:  # a single object, not an array
            records = [node]
            node = b"[" + bytes(node) + b"]"
        if not self._conforms_as_is(node):
            full = _decoder.decode(content)
            return page(full, self._extract(full))
        body[keys[0]] = records
        return page(body, records, node, "raw")

    def _conforms_as_is(self, encoded: Any) -> bool:
        """True when conformance would leave every record of the array unchanged.

        Trusted schemas need no check. Otherwise one msgspec pass over the
        array, typed from the schema, proves it: no property outside the
        schema (unless ``additionalProperties``), and only true/false/null in
        exclusively-boolean properties. Any other page is decoded and conformed.
        """
        shape = self._shape_decoder
        if shape is None:
            return True
        try:
            shape.decode(encoded)
        except msgspec.ValidationError:
            return False
        return True

    @property
    def _shape_decoder(self) -> Any:
        """A decoder that accepts exactly the record arrays conformance would not change.

        ``None`` when no conformance applies (trusted schema); ``False`` when
        the schema cannot be expressed as a :attr:`_record_shape`.
        """
        cached = getattr(self, "_shape_decoder_cache", 0)
        if cached == 0:
            cached = None
            if self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE:
                shape = self._record_shape
                cached = False if shape is None else msgspec.json.Decoder(list[shape[0]])
            self._shape_decoder_cache = cached
        return cached

    @property
    def _record_shape(self) -> tuple[Any, str | None] | None:
        """:func:`~tap_flext_api._conform.record_shape` for this stream; None when trusted."""
        cached = getattr(self, "_record_shape_cache", 0)
        if cached == 0:
            cached = None
            if self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE:
                cached = record_shape(self.effective_schema, self.replication_key)
            self._record_shape_cache = cached
        return cached

    @property
    def _page_reader(self) -> _PageReader | None:
        """One msgspec pass over a whole raw page: its records and the paginator's keys.

        Instead of splitting the body, then the records array, then checking the
        records (three passes), a struct typed from the records path, the
        paginator's :meth:`~tap_flext_api.pagination.Paginator.body_paths` and
        the record shape reads a page at once. The records come out as raw
        slices (trusted schema) or as :attr:`_record_shape` structs, written
        back field by field (``"shaped"``: each value keeps its JSON text, keys
        follow the schema's order). ``None`` when this cannot be set up: a
        records path deeper than one key, a paginator path that is not a plain
        key path, or a schema allowing properties a struct would drop.
        """
        cached = getattr(self, "_page_reader_cache", 0)
        if cached == 0:
            cached = self._build_page_reader()
            self._page_reader_cache = cached
        return cached

    def _build_page_reader(self) -> _PageReader | None:
        keys = self._raw_keys
        if keys is None or len(keys) > 1:
            return None
        item: Any = msgspec.Raw
        form: PageForm = "raw"
        if self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE:
            shape = self._record_shape
            if shape is None or self.effective_schema.get("additionalProperties"):
                return None  # a struct would drop the extra properties
            item, form = shape[0], "shaped"
        wanted: list[str] = []
        for path in self.get_new_paginator().body_paths():
            path_keys = simple_keys(path)
            if not path_keys:  # not a plain path, or the whole body
                return None
            wanted.append(path_keys[0])
        if not keys:  # the body is the records array
            if wanted:
                return None
            return _PageReader(_page_decoder(list[item]), None, (), form)
        names = [name for name in dict.fromkeys(wanted) if name != keys[0]]
        if len(names) != len(set(wanted)):
            return None  # the paginator reads inside the records
        fields: list[tuple[str, Any, Any]] = [("records", list[item] | None, None)]
        fields += [(f"b{index}", Any, None) for index in range(len(names))]
        rename = {"records": keys[0]} | {f"b{index}": name for index, name in enumerate(names)}
        body: Any = msgspec.defstruct("PageBody", fields, rename=rename, gc=False)
        body_fields = tuple((f"b{index}", name) for index, name in enumerate(names))
        return _PageReader(_page_decoder(body), keys[0], body_fields, form)

    # ------------------------------------------------------------ raw fast path
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        """The SDK's record loop, or the fast loop when it gives the same output.

        The fast loop writes a page at a time and advances the bookmark once
        per page. With a trusted schema it copies each record's JSON text from
        the response into its RECORD line (raw); otherwise it decodes and
        conforms records with the compiled ROOT_ONLY conformer. It is taken
        only when nothing per record could differ from the SDK loop: every
        property selected, no stream map or flattening, no child streams or
        partitions, no ``post_process`` override, no dry-run record limit, and
        the fast writer.
        """
        # Every log line of the stream's sync (ours, the SDK's, the HTTP
        # client's) carries stream=<name>; child syncs nest their own.
        with log_context(stream=self.name):
            if write_messages and self._raw_eligible(context):
                yield from self._sync_raw()
                return
            yield from super()._sync_records(context, write_messages=write_messages)

    def _raw_eligible(self, context: Context | None) -> bool:
        maps = self.stream_maps
        return (
            context is None
            and self.selected
            and self._raw_keys is not None
            and self.fast_path_enabled
            and isinstance(self._tap.message_writer, FastSingerWriter)
            and (
                self.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.NONE
                or self._json_conformer is not None
            )
            and self.ABORT_AT_RECORD_COUNT is None
            and not self.child_streams
            and not self.partitions
            and type(self).post_process is FlextApiStream.post_process
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and self._all_selected
            and self._key_decoder is not False
        )

    @property
    def _key_decoder(self) -> Any:
        """Decodes only the replication key of every record of an encoded array."""
        cached = getattr(self, "_key_decoder_cache", None)
        if cached is None:
            key = self.replication_key
            if not key:
                cached = None
            elif key.isidentifier():
                struct: Any = msgspec.defstruct("ReplicationKey", [(key, Any, None)])
                cached = (msgspec.json.Decoder(list[struct]), key)
            else:
                cached = False
            self._key_decoder_cache = cached
        return cached

    def _sync_raw(self) -> Generator[dict[str, Any], Any, Any]:
        writer = self._tap.message_writer
        assert isinstance(writer, FastSingerWriter)  # checked by _raw_eligible
        self.used_fast_path = True
        alias = self.stream_maps[0].stream_alias
        keys = self._key_decoder
        # Untrusted schemas: decoded records, conformed by the compiled conformer.
        conformer = self._json_conformer
        every = self.STATE_MSG_FREQUENCY
        written = 0
        with self.get_record_counter() as record_counter, self.get_sync_timer() as timer:
            record_counter.with_context({})
            timer.with_context({})
            self._write_starting_replication_value(None)
            floor = self._client_side_floor(None)
            raw = conformer is None or self._shape_decoder is not False
            for page in self._pages(None, raw=raw):
                records = page.records
                if not records:
                    continue
                form = page.form
                if conformer is not None and form == "decoded":
                    records = [conformer(r) for r in records]
                values: list[Any] | None = None
                if keys is not None:
                    values = self._key_values(page, records)
                    if floor is not None:
                        kept = [i for i, v in enumerate(values) if not _older(v, floor)]
                        if len(kept) != len(records):
                            records = [records[i] for i in kept]
                            values = [values[i] for i in kept]
                version, extracted = self._stream_version, self._time_extracted
                if form == "decoded":
                    for record in records:
                        writer.write_record(alias, record, version, extracted)
                else:
                    self.raw_pages += 1
                    if form == "raw":
                        writer.write_raw_records(alias, records, version, extracted)
                    else:
                        writer.write_shaped_records(alias, records, version, extracted)
                self.state_manager.is_flushed = False
                if values:
                    self._advance_bookmark(values)
                record_counter.increment(len(records))
                before, written = written, written + len(records)
                if written // every != before // every:
                    self._write_state_message()
            state = self.get_context_state(None)
            self._finalize_state(state)
        self._finalize_state(self.stream_state)
        self._write_state_message()
        yield from ()  # a generator, like the SDK loop it replaces

    def _key_values(self, page: Page, records: list[Any]) -> list[Any]:
        """The replication key's value in each of ``records`` (held as ``page.form`` says)."""
        decoder, name = self._key_decoder
        if page.form == "decoded":
            return [r.get(name) for r in records]
        if page.form == "shaped":
            shape = self._record_shape
            attr = shape[1] if shape is not None else None
            if attr is None:  # the key is not in the schema, so not in any record
                return [None] * len(records)
            unset = msgspec.UNSET
            return [None if (v := getattr(r, attr)) is unset else v for r in records]
        encoded = page.encoded
        if encoded is None:
            encoded = b"[" + b",".join(records) + b"]"
        return [getattr(k, name) for k in decoder.decode(encoded)]

    def _advance_bookmark(self, values: list[Any]) -> None:
        """Advance the bookmark with a page's key values, as per-record increments would.

        Sorted streams check the order (raising the SDK's
        ``InvalidStreamSortException``) and keep the last value; unsorted ones
        keep the page maximum in the progress markers.
        """
        present = [v for v in values if v is not None]
        key = self.replication_key
        if not present or key is None:
            return
        if not self.is_sorted:
            self._increment_stream_state({key: max(present)})
            return
        # The first value is checked against the bookmark of the previous page.
        self._increment_stream_state({key: present[0]})
        if self.check_sorted:
            for previous, value in itertools.pairwise(present):
                if value < previous:
                    self._increment_stream_state({key: previous})
                    self._increment_stream_state({key: value})  # raises, as the SDK would
        self._increment_stream_state({key: present[-1]})

    # ------------------------------------------------------------ per-record path
    def _process_record(
        self,
        record: dict[str, Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # Without children the SDK's version only copies the record and
        # evaluates a filter per record for nothing; skip that.
        if self.child_streams:
            super()._process_record(record, child_context, partition_context)
            return
        if partition_context:
            for key, value in partition_context.items():
                if key not in record:
                    record[key] = value

    def _write_record_message(self, record: dict[str, Any]) -> None:
        writer = self._tap.message_writer
        if not isinstance(writer, FastSingerWriter):
            super()._write_record_message(record)
            return
        if not self._all_selected:
            pop_deselected_record_properties(record, self.schema, self.mask)
        conformer = self._json_conformer
        if conformer is not None:
            record = conformer(record)
        elif self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=self.effective_schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        time_extracted = self._time_extracted
        version = self._stream_version
        for stream_map in self.stream_maps:
            if type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled:
                writer.write_record(stream_map.stream_alias, record, version, time_extracted)
                continue
            mapped = stream_map.transform(record)
            if mapped is not None:
                writer.write_record(stream_map.stream_alias, mapped, version, time_extracted)
        self.state_manager.is_flushed = False

    @property
    def _json_conformer(self) -> JsonConformer | None:
        """The compiled ROOT_ONLY conformer, when records are plain decoded JSON.

        A ``post_process`` override may put datetimes or bytes in records; those
        streams keep the SDK's general conformance.
        """
        cached: JsonConformer | bool | None = getattr(self, "_json_conformer_cache", False)
        if cached is False:
            cached = None
            if (
                self.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.ROOT_ONLY
                and type(self).post_process is FlextApiStream.post_process
            ):
                cached = JsonConformer(self.name, self.effective_schema, self.logger)
            self._json_conformer_cache = cached
        return cached  # type: ignore[return-value]

    @property
    def _all_selected(self) -> bool:
        cached: bool | None = getattr(self, "_all_selected_cache", None)
        if cached is None:
            cached = all(selected for crumb, selected in self.mask.items() if crumb)
            self._all_selected_cache = cached
        return cached
