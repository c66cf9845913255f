"""The base stream: the SDK's REST stream with ``flext_infra``'s HTTP client as transport.

What is kept from :class:`singer_sdk.RESTStream`: the request hooks
(``get_url``, ``get_url_params``, ``http_headers``,
``prepare_request_payload``, ``get_http_request``), ``post_process``, state and
bookmarks, catalog selection, stream maps, flattening, parent-child contexts,
and the meaning of ``RetriableAPIError`` / ``FatalAPIError``.

What is replaced, each in its own module:

- the request loop (``request_records``): pages come from the
  :class:`~tap_flext_api._reader.PageReader` (one HTTP stack,
  ``flext_infra.http``, whose errors map to the SDK's), decoded by the
  :class:`~tap_flext_api._decode.PageDecoder`;
- the record loop (``_sync_records``), when nothing per record can differ
  from the SDK's: :class:`~tap_flext_api._fastloop.FastPageWriter` writes a
  page at a time;
- the per-record work the SDK spends most on: conformance compiled once
  (:mod:`tap_flext_api._conform`), deselection only when something is
  deselected, RECORD lines through :class:`~tap_flext_api._writer.FastSingerWriter`.

Incremental filters and bookmark moves are :mod:`tap_flext_api._bookmarks`.

At ``max_concurrency`` above 1 the tap gives each stream its run's
:class:`~tap_flext_api.concurrency.Concurrency`: the same loops then take
their pages from feeds the worker pool fills ahead (:meth:`_pages`), children's
first pages are asked for while the parent's page is written, and an
incremental stream with a ``partition_window`` is read in time windows at
once, its bookmark kept by a :class:`~tap_flext_api.concurrency.Watermark`.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from singer_sdk import RESTStream, Tap
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams.rest import PageContext

from flext_infra.observability import get_logger, log_context
from tap_flext_api._batch import batch_config
from tap_flext_api._bookmarks import (
    advance_bookmark,
    as_floor,
    field_value,
    format_replication_value,
    newer_than,
    parse_timestamp,
)
from tap_flext_api._conform import JsonConformer
from tap_flext_api._decode import DECODER, PageDecoder
from tap_flext_api._errors import StreamFatalError
from tap_flext_api._fastloop import FastPageWriter
from tap_flext_api._host import StreamHost
from tap_flext_api._reader import PageCall, PageReader
from tap_flext_api._settings import StreamDefinition
from tap_flext_api._template import render
from tap_flext_api._windows import Window, parse_window, split_windows
from tap_flext_api._writer import FastSingerWriter
from tap_flext_api.concurrency._feeds import PageFeed, WindowFeeds
from tap_flext_api.concurrency._watermark import Watermark
from tap_flext_api.pagination import Page, PageRequest, Paginator, build_paginator

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context, Record

    from flext_infra.http import Response
    from tap_flext_api.concurrency._runtime import Concurrency

__all__ = ["FlextApiStream"]

log = get_logger("tap_flext_api.stream")

_CONTEXT_TYPES = ("string", "integer", "number", "boolean", "null")


class FlextApiStream(RESTStream[PageRequest]):
    """A REST stream defined by a :class:`StreamDefinition`, read through ``flext_infra.http``.

    Subclasses set :attr:`definition` (see :mod:`tap_flext_api.streams`).
    """

    definition: ClassVar[StreamDefinition]
    #: Allow the fast record loop (see :meth:`_sync_records`); False keeps the SDK's loop.
    fast_path_enabled: ClassVar[bool] = True

    def __init__(self, tap: Tap, schema: dict[str, Any] | None = None) -> None:
        if not isinstance(tap, StreamHost):
            raise TypeError(f"{type(self).__name__} needs a tap that is a StreamHost")
        definition = self.definition
        self._host: StreamHost = tap
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
        #: Pages read in this run.
        self.pages_read = 0
        #: True once the stream was synced by the fast record loop.
        self.used_fast_path = False
        #: Pages whose records were copied as raw JSON (no decode, no re-encode).
        self.raw_pages = 0
        self._time_extracted: str | None = None
        #: The concurrent run this stream belongs to (set by the tap); ``None``: serial.
        self.concurrency: Concurrency | None = None
        #: The bookmark of a run read in time windows (see :meth:`_window_pages`).
        self._watermark: Watermark | None = None
        #: Set when a walk in any order saw its set change: the bookmark stays put.
        self._bookmark_frozen = False

    # ------------------------------------------------------------ SDK hooks
    @property
    def url_base(self) -> str:
        """The API root from the settings (``base_url`` or ``api_url``)."""
        return self._settings.base_url

    @property
    def is_sorted(self) -> bool:
        """True when the API returns records ordered by the replication key.

        False while the stream is read in concurrent time windows: its records
        then come out window by window, interleaved (the bookmark is kept by the
        watermark instead).
        """
        return (
            self.definition.is_sorted
            and self.replication_key is not None
            and self._watermark is None
        )

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
        values = self.template_values(context)
        params: dict[str, Any] = render(dict(self.definition.params), values, keep_types=False)
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
        values = self.template_values(context)
        body: dict[str, Any] = render(dict(self.definition.body or {}), values, keep_types=False)
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
        yield from self.page_decoder.extract(DECODER.decode(response.content))

    # ------------------------------------------------------------ the page reader's source
    def page_call(
        self, context: Context | None, token: PageRequest, window: Window | None = None
    ) -> PageCall:
        """The request for page ``token``, built by the SDK's request hooks.

        A time ``window`` replaces the incremental filter with its two bounds.
        """
        request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=token)
        )
        body = request.data if request.method == "POST" else None
        if token.url is not None:
            url, params = token.url, None
        else:
            url = request.url
            params = {k: v for k, v in request.params.items() if v is not None}
        if window is not None and token.url is None:
            bounds = self._window_bounds(window)
            if request.method == "POST" and isinstance(body, dict):
                body = {**body, **bounds}
            elif params is not None:
                params.update(bounds)
        return PageCall(
            method=request.method,
            url=url,
            params=params,
            headers=request.headers or None,
            json=body,
        )

    def check_response(self, response: Response, context: Context | None) -> None:
        """The SDK's hooks on a final response: the duration metric and ``validate_response``."""
        self._write_request_duration_log(
            endpoint=self.path,
            response=response,  # type: ignore[arg-type]
            context=context,
            extra_tags=None,
        )
        self.validate_response(response)  # type: ignore[arg-type]

    def check_page(self, page: Page, response: Response, context: Context | None) -> Page:
        """A decoded page as it is (GraphQL streams look for errors in it)."""
        return page

    @cached_property
    def page_decoder(self) -> PageDecoder:
        """Decodes this stream's pages (built at first use, after the catalog is applied)."""
        conforms = self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE
        return PageDecoder(
            self.definition.records_path,
            schema=self.effective_schema if conforms else None,
            replication_key=self.replication_key,
            body_paths=self.get_new_paginator().body_paths(),
        )

    @cached_property
    def page_reader(self) -> PageReader:
        """Fetches and decodes this stream's pages."""
        return PageReader(
            self,
            self._host.http_client,
            self.page_decoder,
            new_paginator=self.get_new_paginator,
            max_pages=self.definition.max_pages or self._settings.max_pages,
            on_max_pages=self._settings.on_max_pages,
            skip_statuses=self.definition.skip_statuses,
        )

    @property
    def skipped(self) -> Counter[int]:
        """Responses skipped per status (``skip_statuses``) in this run."""
        return self.page_reader.skipped

    # ------------------------------------------------------------ incremental
    @property
    def page_size(self) -> int:
        """The page size asked for: the paginator's, else the tap's."""
        return int(self.definition.paginator.get("page_size") or self._settings.page_size)

    def template_values(self, context: Context | None) -> dict[str, Any]:
        """What placeholders in params, bodies and GraphQL variables are filled from.

        The context's fields (a child's parent values), ``{bookmark}`` (the
        bookmark as the filter parameter would send it, or ``None`` when there
        is none) and ``{page_size}``. A context field of the same name wins.
        """
        values = dict(context or {})
        values.setdefault("page_size", self.page_size)
        if "bookmark" not in values:
            values["bookmark"] = self._bookmark(context)
        return values

    def _bookmark(self, context: Context | None) -> Any:
        """The starting bookmark, formatted and moved back as the filter sends it."""
        if not self.replication_key:
            return None
        value = self._starting_value(context)
        if value is None:
            return None
        definition = self.definition
        return format_replication_value(
            value, definition.replication_value_format, definition.replication_lookback_minutes
        )

    def _replication_params(self, context: Context | None) -> dict[str, Any]:
        param = self.definition.replication_filter_param
        if not (self.replication_key and param):
            return {}
        value = self._bookmark(context)
        return {} if value is None else {param: value}

    def _starting_value(self, context: Context | None) -> Any:
        # The SDK resolves the bookmark, falling back to ``start_date`` for
        # timestamp keys, and returns None for FULL_TABLE runs.
        return self.get_starting_replication_key_value(context)

    def _client_side_floor(self, context: Context | None) -> Any:
        """The bookmark to filter on locally, when the API has no filter parameter."""
        if not self.replication_key or self.definition.replication_filter_param:
            return None
        value = self._starting_value(context)
        return None if value is None else as_floor(value)

    def _advance_bookmark(self, values: list[Any]) -> None:
        """Move the bookmark with a page's key values (see :func:`advance_bookmark`).

        A stream read in time windows moves it by its watermark instead.
        """
        if self.replication_key and self._watermark is None and not self._bookmark_frozen:
            advance_bookmark(
                values,
                self.replication_key,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
                increment=self._increment_stream_state,
            )

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Windowed runs keep the bookmark by their watermark, page by page.
        if self._watermark is None and not self._bookmark_frozen:
            super()._increment_stream_state(latest_record, context=context)

    # ------------------------------------------------------------ time windows
    @property
    def window_size(self) -> Any:
        """The ``partition_window`` length for this stream, or ``None`` (one partition)."""
        text = self.definition.partition_window or self._settings.partition_window
        return parse_window(text) if text else None

    def _window_params(self) -> tuple[str, str] | None:
        definition = self.definition
        start = definition.window_start_param or definition.replication_filter_param
        end = definition.window_end_param
        return (start, end) if start and end else None

    def _window_bounds(self, window: Window) -> dict[str, Any]:
        params = self._window_params()
        if params is None:
            return {}
        fmt = self.definition.replication_value_format
        return {
            params[0]: format_replication_value(window.start.isoformat(), fmt),
            params[1]: format_replication_value(window.end.isoformat(), fmt),
        }

    def _plan_windows(self, runtime: Concurrency) -> list[Window] | None:
        """The run's time windows, or ``None`` to read the stream as one partition.

        Windows need an incremental stream with a timestamp bookmark (or
        ``start_date``), a ``partition_window``, and parameters for both ends.
        A stream whose first page announces the others and has no
        ``partition_window`` is read as one window ending at the run's start:
        its pages are read in any order, and the upper bound keeps records
        changed meanwhile out of the walk (they shrink its total, which the
        feed notices; see :meth:`_feed_pages`).
        """
        size = self.window_size
        rest = self.definition.protocol == "rest"
        if not rest or not self.replication_key or self._window_params() is None:
            return None
        if size is None and not self.get_new_paginator().announces_pages:
            return None
        start = parse_timestamp(self._starting_value(None))
        if start is None:
            if size is not None:
                log.info("tap.windows_skipped", stream=self.name, reason="no timestamp bookmark")
            return None
        lookback = self.definition.replication_lookback_minutes
        if lookback:
            start -= datetime.timedelta(minutes=lookback)
        if size is None:
            size = max(runtime.started_at - start, datetime.timedelta(microseconds=1))
        try:
            return split_windows(start, runtime.started_at, size)
        except ValueError as exc:
            raise StreamFatalError(self.name, self.get_url(None), None, 0, str(exc)) from None

    def _window_pages(
        self, runtime: Concurrency, windows: list[Window], raw: bool
    ) -> Iterator[Page]:
        """Every window's pages, as they arrive; the watermark moves the bookmark."""
        key = self.replication_key or ""
        watermark = Watermark(
            windows, self._starting_value(None), ordered=self.definition.is_sorted
        )
        self._watermark = watermark
        log.info(
            "tap.windows_planned", stream=self.name, windows=len(windows),
            first=windows[0].start.isoformat(), end=windows[-1].end.isoformat(),
        )  # fmt: skip

        def feed(window: Window) -> Any:
            return runtime.feed(
                self, None, raw=raw, window=window, key_values=True,
                partition=window.label(key),
            )  # fmt: skip

        def progress(window: Window, page: Page | None) -> None:
            if page is not None:
                watermark.consumed(window.index, page.key_values or [])
                self._publish_watermark(watermark)
                return
            watermark.finished(window.index)
            if self._publish_watermark(watermark):
                # A window's end is a resumable point: say so at once.
                self._write_state_message()

        pages = WindowFeeds(
            runtime, feed, windows, active=runtime.max_concurrency, on_progress=progress,
            on_changed=lambda window: watermark.taint(window.index),
        )  # fmt: skip
        for _, page in pages:
            yield page

    def _feed_pages(self, feed: PageFeed) -> Iterator[Page]:
        """A feed's pages; a set that moved under a walk in any order freezes the bookmark."""
        for page in feed:
            if feed.changed and not self._bookmark_frozen:
                # What was written before this page is safe; a record may have
                # slid from here into a page already read, so claim no further.
                self._bookmark_frozen = True
                if not self.is_sorted:
                    # The running maximum is no promise for an unsorted stream.
                    self.get_context_state(feed.context).pop("progress_markers", None)
            yield page

    def _publish_watermark(self, watermark: Watermark) -> bool:
        """Put the watermark in the stream's state for the next STATE; True if it moved."""
        value = watermark.value
        key = self.replication_key
        state = self.get_context_state(None)
        if value is None or key is None or state.get("replication_key_value") == value:
            return False
        state["replication_key"] = key
        state["replication_key_value"] = value
        self.state_manager.is_flushed = False
        return True

    # ------------------------------------------------------------ request loop
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read every page through ``flext_infra.http`` and yield its records.

        Raises:
            StreamRetriableError: a transient failure outlived the client's retries.
            StreamFatalError: a non-retriable status or an undecodable body.
            PaginationLoopError: the API repeated a token or a page.
            MaxPagesExceededError: the stream hit ``max_pages`` with pages left.
        """
        floor = self._client_side_floor(context)
        key = self.replication_key
        runtime = self.concurrency
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        prefetch = (
            runtime is not None
            and bool(children)
            and type(self).post_process is FlextApiStream.post_process
        )
        for page in self._pages(context, raw=False):
            if prefetch and runtime is not None:
                self._prefetch_children(runtime, children, page.records, context)
            if floor is None or key is None:
                yield from page.records
            else:
                yield from newer_than(page.records, key, floor)
            if prefetch and runtime is not None:
                # Children the records did not sync (filtered by a map) give their credits back.
                runtime.drop_prefetched([c.name for c in children])

    def _prefetch_children(
        self,
        runtime: Concurrency,
        children: list[Any],
        records: list[dict[str, Any]],
        context: Context | None,
    ) -> None:
        """Ask for the children's first pages while this page's records are written."""
        for record in records:
            try:
                child_context = self.get_child_context(record, dict(context) if context else None)
            except StreamFatalError:
                return  # the SDK loop raises it, with the record in order
            for child in children:
                if not isinstance(child, FlextApiStream):
                    continue
                if child.replication_key:
                    # What the child's sync writes first; its filter is read from it.
                    child._write_starting_replication_value(child_context)
                if not runtime.prefetch(child, child_context):
                    return  # no read-ahead credit left: the rest are asked for in turn

    def sample_pages(self, context: Context | None) -> Generator[Page, None, None]:
        """The stream's pages, decoded, for schema inference (closed by the caller)."""
        yield from self._pages(context, raw=False)

    def _pages(self, context: Context | None, *, raw: bool) -> Iterator[Page]:
        """Every page of the stream for ``context``, with the SDK's request counter.

        Serial: the page reader's walk. In a concurrent run: a feed the workers
        fill ahead, or (an incremental stream with a ``partition_window``) its
        time windows, read at once.
        """
        runtime = self.concurrency
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            source: Iterator[Page]
            windows = self._plan_windows(runtime) if runtime and context is None else None
            if runtime is None:
                source = self.page_reader.walk(context, raw=raw, on_request=counter.increment)
            elif windows:
                source = self._window_pages(runtime, windows, raw)
            else:
                feed = runtime.feed(self, context, raw=raw)
                source = self._feed_pages(feed)
            pages = 0
            try:
                for page in source:
                    pages += 1
                    self.pages_read += 1
                    self._time_extracted = page.extracted_at
                    if runtime is not None:
                        counter.increment()
                    yield page
            finally:
                self._watermark = None
                self._bookmark_frozen = False
        log.info(
            "tap.stream_read", stream=self.name, pages=pages,
            skipped=sum(self.skipped.values()), fast_path=self.used_fast_path,
            raw_pages=self.raw_pages,
        )  # fmt: skip

    def get_batch_config(self, config: Mapping[str, Any]) -> BatchConfig | None:
        """The SDK's BATCH config, with S3 credentials for an s3:// root (``_batch.py``)."""
        return batch_config(config)

    # ------------------------------------------------------------ the record loops
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
            if write_messages and self._fast_eligible(context):
                yield from self._sync_fast()
                return
            yield from super()._sync_records(context, write_messages=write_messages)

    def _fast_eligible(self, context: Context | None) -> bool:
        maps = self.stream_maps
        return (
            context is None
            and self.selected
            and self.page_decoder.raw_keys is not None
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
            and self.page_decoder.key_reader is not False
        )

    def _sync_fast(self) -> Generator[dict[str, Any], Any, Any]:
        writer = self._tap.message_writer
        if not isinstance(writer, FastSingerWriter):  # checked by _fast_eligible
            raise TypeError("the fast loop needs the FastSingerWriter")
        self.used_fast_path = True
        decoder = self.page_decoder
        # Untrusted schemas: decoded records, conformed by the compiled conformer.
        conformer = self._json_conformer
        every = self.STATE_MSG_FREQUENCY
        written = 0
        with self.get_record_counter() as record_counter, self.get_sync_timer() as timer:
            record_counter.with_context({})
            timer.with_context({})
            self._write_starting_replication_value(None)
            pages = FastPageWriter(
                writer=writer,
                alias=self.stream_maps[0].stream_alias,
                decoder=decoder,
                conformer=conformer,
                floor=self._client_side_floor(None),
                advance=self._advance_bookmark if isinstance(decoder.key_reader, tuple) else None,
            )
            raw = conformer is None or decoder.shape_decoder is not False
            for page in self._pages(None, raw=raw):
                if not page.records:
                    continue
                count = pages.write(page, self._stream_version)
                self.raw_pages = pages.raw_pages
                self.state_manager.is_flushed = False
                record_counter.increment(count)
                before, written = written, written + count
                if written // every != before // every:
                    self._write_state_message()
            state = self.get_context_state(None)
            self._finalize_state(state)
        self._finalize_state(self.stream_state)
        self._write_state_message()
        yield from ()  # a generator, like the SDK loop it replaces

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

    @cached_property
    def _json_conformer(self) -> JsonConformer | None:
        """The compiled ROOT_ONLY conformer, when records are plain decoded JSON.

        A ``post_process`` override may put datetimes or bytes in records; those
        streams keep the SDK's general conformance.
        """
        if (
            self.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.ROOT_ONLY
            and type(self).post_process is FlextApiStream.post_process
        ):
            return JsonConformer(self.name, self.effective_schema, self.logger)
        return None

    @cached_property
    def _all_selected(self) -> bool:
        return all(selected for crumb, selected in self.mask.items() if crumb)
