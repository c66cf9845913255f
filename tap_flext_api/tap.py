"""``tap-flext-api``: a declarative REST tap with an Oracle WMS LGF v10 profile."""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import json
import os
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import structlog
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from flext_infra import ExitCode
from flext_infra.http import FlextHttpClient, HttpClientConfig, HttpError, create_http_client
from flext_infra.observability import configure_logging, get_logger, redactor
from flext_infra.runs import StreamRun
from flext_infra.runtime import (
    RuntimeSignals,
    alert_degraded,
    current_settings,
    report_http,
    report_streams,
    run_plugin_cli,
    tune_gc_for_cli,
)
from flext_infra.settings import FlextSettings
from tap_flext_api._bookmarks import field_value
from tap_flext_api._errors import StreamFatalError, StreamQuotaExhausted, request_error
from tap_flext_api._host import StreamHost
from tap_flext_api._schema import infer_schema
from tap_flext_api._settings import CONFIG_SCHEMA, StreamDefinition, TapSettings, unknown_keys
from tap_flext_api._writer import FastSingerWriter
from tap_flext_api.auth import build_auth
from tap_flext_api.client import FlextApiStream
from tap_flext_api.concurrency import Concurrency, run_streams
from tap_flext_api.profiles import describe_to_schema, wms_stream_definitions
from tap_flext_api.streams import (
    ConfiguredGraphqlStream,
    ConfiguredStream,
    WmsEntityStream,
    stream_class,
)

if TYPE_CHECKING:
    import click

    from flext_infra.quality import RejectStore

__all__ = ["TapFlextApi"]

log = get_logger("tap_flext_api")

_SECRET_SETTINGS = ("password", "bearer_token", "api_key", "oauth2_client_secret")


class TapFlextApi(RuntimeSignals, Tap, StreamHost):
    """Singer tap for JSON REST APIs, configured declaratively, with an Oracle WMS profile.

    Streams come from the `streams` setting (profile generic) or from the Oracle
    WMS Cloud LGF v10 entity list and describe endpoints (profile oracle_wms).
    Every request goes through the flext_infra HTTP client: rate limit, retries
    with backoff and Retry-After, circuit breaker and HTTP cache.
    """

    name = "tap-flext-api"
    #: The distribution that installs this plugin (for its version in --about).
    package_name = "flext-meltano"
    config_jsonschema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    # Discovery reads the API (entity list, describe), so --discover validates config.
    dynamic_catalog = True
    message_writer_class = FastSingerWriter
    #: Only what is implemented and tested (BATCH: JSONL + gzip; no ACTIVATE_VERSION).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        TapCapabilities.TEST,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
    ]

    #: Base classes of the generated streams; a subclass of the tap may point
    #: these at its own stream subclasses (to override ``post_process``,
    #: ``validate_response`` and other SDK hooks).
    generic_stream_class: ClassVar[type[FlextApiStream]] = ConfiguredStream
    wms_stream_class: ClassVar[type[FlextApiStream]] = WmsEntityStream
    #: The base of ``protocol: graphql`` streams (a ``GraphqlStream`` subclass).
    graphql_stream_class: ClassVar[type[FlextApiStream]] = ConfiguredGraphqlStream

    #: The directory of the ``--config`` file the CLI was given (see :meth:`cb_config`).
    cli_config_dir: ClassVar[Path | None] = None

    def __init__(
        self,
        *,
        http_client: FlextHttpClient | None = None,
        config_dir: Path | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the tap.

        Args:
            http_client: A ready client (for example the container's
                ``http_client``); the tap then neither builds nor closes one.
            config_dir: Where relative files named by the config (``query_file``)
                are read from. Default: the Meltano project root under Meltano
                (``MELTANO_PROJECT_ROOT``), else the ``--config`` file's
                directory, else the working directory.
            **kwargs: The SDK's ``Tap`` arguments (``config``, ``catalog``, ``state``, ...).
        """
        self._config_dir = Path(config_dir) if config_dir is not None else None
        self._client: FlextHttpClient | None = http_client
        self._owns_client = http_client is None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._tap_settings: TapSettings | None = None
        self._rejects: RejectStore | None = None
        self._infra_settings: FlextSettings
        super().__init__(**kwargs)
        self._bookmarks_before = self._bookmarks()
        report_streams(self._ledger_streams)
        report_http(lambda: self._client.metrics() if self._client is not None else {})

    # ---------------------------------------------------------------- run ledger
    def _bookmarks(self) -> dict[str, str]:
        """Each stream's replication bookmark in the tap's state, as text."""
        out: dict[str, str] = {}
        for name, entry in (self.state.get("bookmarks") or {}).items():
            value = entry.get("replication_key_value") if isinstance(entry, dict) else None
            if value is not None:
                out[name] = str(value)
        return out

    def _ledger_streams(self) -> list[StreamRun]:
        """What the runtime records for this run beyond record counts: bookmarks, retries, 429s."""
        after = self._bookmarks()
        http = self._client.metrics_by_stream() if self._client is not None else {}
        names = set(self._bookmarks_before) | set(after) | set(http)
        return [
            StreamRun(
                name,
                retries=http.get(name, {}).get("retries", 0),
                rate_limited=http.get(name, {}).get("status_429", 0),
                bookmark_before=self._bookmarks_before.get(name),
                bookmark_after=after.get(name),
            )
            for name in sorted(names)
        ]

    # ---------------------------------------------------------------- settings
    @property
    def settings(self) -> TapSettings:
        """The typed settings (built once; the first access also sets up logging)."""
        if self._tap_settings is None:
            try:
                settings = TapSettings.from_config(self.config, self.config_dir)
            except ValueError as exc:
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from exc
            redactor.add(str(self.config[k]) for k in _SECRET_SETTINGS if self.config.get(k))
            self._infra_settings = current_settings()
            if not structlog.is_configured():
                # Embedded without the runtime: unconfigured structlog would print to
                # stdout, which carries Singer messages. (run_plugin_cli configures it.)
                configure_logging(self._infra_settings)
            self._tap_settings = settings
            self._warn_unknown_settings()
        return self._tap_settings

    @property
    def config_dir(self) -> Path | None:
        """Where relative files the config names are read from (``None``: the working directory).

        Under Meltano the config is ``meltano.yml``, so its project root; Meltano
        hands the tap a generated config file elsewhere, which says nothing.
        """
        if self._config_dir is not None:
            return self._config_dir
        project = os.environ.get("MELTANO_PROJECT_ROOT")
        if project:
            return Path(project)
        return type(self).cli_config_dir

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """The SDK's ``--config`` callback, also noting the last config file's directory."""
        files = [v for v in value if v != "ENV"]
        if files:
            cls.cli_config_dir = Path(files[-1]).resolve().parent
        return super().cb_config(ctx, param, value)

    def _warn_unknown_settings(self) -> None:
        """Name each config key no setting reads (once per tap), with the closest known key."""
        schema = copy.deepcopy(type(self).config_jsonschema)
        type(self).append_builtin_config(schema)
        for key, close in unknown_keys(self.config, schema.get("properties", {})):
            log.warning("tap.unknown_setting", setting=key, did_you_mean=close)

    # ---------------------------------------------------------------- HTTP
    @property
    def http_client(self) -> FlextHttpClient:
        """The HTTP client every request goes through (built on first use)."""
        if self._client is None:
            settings = self.settings
            infra = self._infra_settings
            overrides: dict[str, Any] = {
                "base_url": settings.base_url,
                "verify_tls": settings.verify_tls,
                "cache_enabled": settings.cache_enabled,
            }
            # Auth given in the tap's config wins; with none, FLEXT_API_* may supply it.
            if settings.auth_method != "none" or self.config.get("auth_method") == "none":
                overrides["auth"] = build_auth(settings)
            optional = {
                "timeout": settings.request_timeout,
                "max_retries": settings.max_retries,
                "rate_limit_per_second": settings.rate_limit_per_second,
                "rate_limit_burst": settings.rate_limit_burst,
            }
            overrides.update({k: v for k, v in optional.items() if v is not None})
            # A hint up to max_quota_wait_s is waited out in full; a longer one is
            # a spent quota (the run stops, see sync_all). Every worker holds a
            # connection, so the pool has room for all of them.
            overrides["max_quota_wait_s"] = settings.max_quota_wait_s
            overrides["retry_after_cap"] = max(infra.api.retry_after_cap, settings.max_quota_wait_s)
            overrides["max_connections"] = max(20, settings.max_concurrency)
            # The environment's policy (the test profile: no waits, loopback
            # only) is applied there, as for the container's http_client.
            config = HttpClientConfig.for_environment(infra, **overrides)
            client = create_http_client(
                config, on_fallback=functools.partial(alert_degraded, "redis rate governor")
            )
            self._client = client
            self._finalizer = weakref.finalize(self, client.close)
        return self._client

    @property
    def rejects(self) -> RejectStore:
        """The reject store (built on first use): ``<reject_path>/<run_id>.tap-flext-api.jsonl``.

        The same store, and by default the same directory, as the target's
        rejects; the file name keeps the tap's entries apart from the target's
        when both run under one Meltano run id.
        """
        if self._rejects is None:
            from flext_infra.quality import RejectStore, current_run_id

            settings = self.settings
            directory = (
                Path(settings.reject_path)
                if settings.reject_path
                else self._infra_settings.data_dir / "rejects"
            )
            run_id = current_run_id()
            self._rejects = RejectStore(directory / f"{run_id}.{self.name}.jsonl", run_id=run_id)
            log.info("tap.reject_store", path=str(self._rejects.path))
        return self._rejects

    def close(self) -> None:
        """Close the HTTP client if the tap built it, and the reject store (safe twice)."""
        if isinstance(self.message_writer, FastSingerWriter):
            self.message_writer.flush()
        if self._rejects is not None:
            self._rejects.close()
        if self._finalizer is not None and self._owns_client:
            self._finalizer()

    def get_json(self, path: str, *, stream: str = "(discovery)") -> Any:
        """GET ``path`` (relative to ``base_url``, or absolute) and decode its JSON body.

        Raises:
            StreamRetriableError: the API stayed unavailable through the retries.
            StreamFatalError: a non-retriable status or a body that is not JSON.
        """
        url = path if path.startswith(("http://", "https://")) else self.settings.base_url + path
        try:
            response = self.http_client.get(url)
        except HttpError as exc:
            raise request_error(stream, exc, url) from exc
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise StreamFatalError(
                stream, url, response.status_code, 1, "response is not JSON"
            ) from exc

    # ---------------------------------------------------------------- discovery
    def discover_streams(self) -> list[FlextApiStream]:
        """Streams from the ``oracle_wms`` profile or from the ``streams`` setting.

        Raises:
            ConfigValidationError: no stream is defined, or a definition is inconsistent.
        """
        settings = self.settings
        base: type[FlextApiStream]
        if settings.profile == "oracle_wms":
            with self._describes_ahead(settings) as fetch:
                definitions = wms_stream_definitions(
                    settings, fetch, known_schema=self._catalog_schema
                )
            base = self.wms_stream_class
        else:
            definitions = list(settings.streams)
            base = self.generic_stream_class
        if not definitions:
            msg = "no streams: set 'streams' (generic profile) or 'entities' (oracle_wms)"
            raise ConfigValidationError(msg, errors=[msg])
        classes: dict[str, type[FlextApiStream]] = {}
        streams: list[FlextApiStream] = []
        samples: dict[str, dict[str, Any]] = {}
        for definition in _parents_first(definitions):
            parent = classes.get(definition.parent_stream) if definition.parent_stream else None
            kind = self.graphql_stream_class if definition.protocol == "graphql" else base
            cls = stream_class(definition, parent, kind)
            classes[definition.name] = cls
            schema = self._schema_for(definition, cls, samples, classes)
            streams.append(cls(self, schema=schema))
        return streams

    @contextlib.contextmanager
    def _describes_ahead(self, settings: TapSettings) -> Iterator[Callable[[str, str], Any]]:
        """``get_json``, with every entity's ``describe`` asked for at once (``max_concurrency``).

        Against a remote API each describe is a round trip; discovery waits
        for one instead of one per entity. A short-lived executor is enough
        here: discovery runs before any stream, and its errors are raised
        where the profile reads each answer, in entity order.
        """
        pending: dict[str, Future[Any]] = {}
        entities = [e for e in settings.entities if self._catalog_schema(e) is None]
        workers = min(settings.max_concurrency, len(entities))
        pool = ThreadPoolExecutor(workers, "tap-discovery") if workers > 1 else None
        if pool is not None:
            _ = self.http_client  # built once, here, before the workers share it
            context = contextvars.copy_context()
            for entity in entities:
                path = f"{settings.wms_path_prefix}/entity/{entity}/describe/"
                pending[path] = pool.submit(context.copy().run, self.get_json, path, stream=entity)

        def fetch(path: str, stream: str) -> Any:
            found = pending.pop(path, None)
            return found.result() if found is not None else self.get_json(path, stream=stream)

        try:
            yield fetch
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _catalog_schema(self, name: str) -> dict[str, Any] | None:
        catalog = self.input_catalog
        entry = catalog.get_stream(name) if catalog is not None else None
        if entry is None or not entry.schema.to_dict().get("properties"):
            return None
        return dict(entry.schema.to_dict())

    def _schema_for(
        self,
        definition: StreamDefinition,
        cls: type[FlextApiStream],
        samples: dict[str, dict[str, Any]],
        classes: dict[str, type[FlextApiStream]],
    ) -> dict[str, Any]:
        if definition.schema is not None:
            return dict(definition.schema)
        if definition.schema_file is not None:
            return dict(json.loads(Path(definition.schema_file).read_text(encoding="utf-8")))
        known = self._catalog_schema(definition.name)
        if known is not None:
            return known
        if definition.schema_url is not None:
            body = self.get_json(definition.schema_url, stream=definition.name)
            # A JSON Schema document, or a WMS-style describe listing "fields".
            if isinstance(body, dict) and "properties" not in body and "fields" in body:
                return describe_to_schema(body)
            return dict(body)
        return self._infer(definition, cls, samples, classes)

    def _infer(
        self,
        definition: StreamDefinition,
        cls: type[FlextApiStream],
        samples: dict[str, dict[str, Any]],
        classes: dict[str, type[FlextApiStream]],
    ) -> dict[str, Any]:
        """Infer a schema by reading ``infer_schema_pages`` pages through the real client."""
        context: dict[str, Any] | None = None
        if definition.parent_stream:
            parent_record = samples.get(definition.parent_stream)
            if parent_record is None:
                parent_record = self._sample(classes[definition.parent_stream], None, 1)[0]
            context = _child_context(
                definition, classes[definition.parent_stream].definition, parent_record
            )
        records = self._sample(cls, context, definition.infer_schema_pages)
        samples[definition.name] = records[0]
        schema = infer_schema(records)
        log.info("tap.schema_inferred", stream=definition.name, records=len(records))
        return schema

    def _sample(
        self, cls: type[FlextApiStream], context: dict[str, Any] | None, pages: int
    ) -> list[dict[str, Any]]:
        probe = cls(self, schema={"type": "object", "properties": {}})
        records: list[dict[str, Any]] = []
        walk = probe.sample_pages(context)
        try:
            # Stop after the last sampled page, before the next one is requested.
            for number, page in enumerate(walk, 1):
                records.extend(page.records)
                if number >= pages:
                    break
        finally:
            walk.close()
        if not records:
            msg = f"stream '{probe.name}': no records to infer a schema from; give 'schema'"
            raise FatalAPIError(msg)
        return records

    # ---------------------------------------------------------------- sync
    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every selected stream, then flush the writer and close the reject store.

        At ``max_concurrency`` 1 this is the SDK's own loop, one stream after
        another, one page at a time. Above, the streams run concurrently (see
        :mod:`tap_flext_api.concurrency`).

        Raises:
            StreamQuotaExhausted: the API's quota is spent: STATE for what
                completed has been written; the console script exits
                ``ExitCode.QUOTA_EXHAUSTED`` (75).
        """
        try:
            if self.settings.max_concurrency > 1:
                self._sync_concurrently()
            else:
                super().sync_all()
        except StreamQuotaExhausted as exc:
            self._stop_for_quota(exc)
            raise
        finally:
            self._flush()
            if self._rejects is not None:
                self._rejects.close()

    def _sync_concurrently(self) -> None:
        """The SDK's ``sync_all``, with the top-level streams synced by :func:`run_streams`.

        The SDK's preamble and epilogue are kept as its ``Tap.sync_all`` has
        them (``tests/tap/test_sdk_contract.py`` fails when that changes).
        """
        settings = self.settings
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        top: list[FlextApiStream] = []
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
            elif not stream.parent_stream_type and isinstance(stream, FlextApiStream):
                top.append(stream)
        runtime = Concurrency(settings.max_concurrency)
        streams = [s for s in self.streams.values() if isinstance(s, FlextApiStream)]
        for stream in streams:
            stream.concurrency = runtime
        log.info(
            "tap.concurrent_sync", max_concurrency=settings.max_concurrency,
            parallel_streams=settings.parallel_streams, streams=[s.name for s in top],
        )  # fmt: skip
        try:
            run_streams(runtime, top, parallel=settings.parallel_streams, on_stop=self._flush)
        finally:
            for stream in streams:
                stream.concurrency = None
            runtime.close()
        for each in self.streams.values():
            each.log_sync_costs()

    def _stop_for_quota(self, error: StreamQuotaExhausted) -> None:
        """Emit STATE for everything completed and say when to resume."""
        self._flush()
        self._state_writer.write_state(self.state)
        self._flush()
        log.error(
            "tap.quota_exhausted",
            stream=error.stream,
            url=error.url,
            resume_after=error.resume_at.isoformat(timespec="seconds"),
            exit_code=int(ExitCode.QUOTA_EXHAUSTED),
        )

    def _flush(self) -> None:
        if isinstance(self.message_writer, FastSingerWriter):
            self.message_writer.flush()


def _child_context(
    definition: StreamDefinition, parent: StreamDefinition, parent_record: dict[str, Any]
) -> dict[str, Any]:
    mapping = dict(definition.parent_context) or {"parent_id": (parent.primary_keys or ("id",))[0]}
    return {name: field_value(parent_record, field) for name, field in mapping.items()}


def _parents_first(definitions: Iterable[StreamDefinition]) -> list[StreamDefinition]:
    """Order definitions so each parent comes before its children.

    Raises:
        ConfigValidationError: an unknown parent or a parent cycle.
    """
    pending = {d.name: d for d in definitions}
    ordered: list[StreamDefinition] = []
    done: set[str] = set()
    while pending:
        ready = [d for d in pending.values() if not d.parent_stream or d.parent_stream in done]
        if not ready:
            names = sorted(pending)
            unknown = [d.parent_stream for d in pending.values() if d.parent_stream not in pending]
            msg = (
                f"unknown parent stream {unknown[0]!r}"
                if unknown
                else f"parent streams form a cycle: {names}"
            )
            raise ConfigValidationError(msg, errors=[msg])
        for d in ready:
            ordered.append(d)
            done.add(d.name)
            del pending[d.name]
    return ordered


def main() -> None:
    """The ``tap-flext-api`` console script: the SDK's CLI inside the plugin runtime.

    The runtime builds the container for ``FLEXT_ENVIRONMENT``, binds the run
    context to every log line, raises a ``pipeline_failure`` alert when a sync
    fails (and "resolved" when it next succeeds) and disposes the container.
    A spent API quota exits ``ExitCode.QUOTA_EXHAUSTED`` (75) after the STATE
    for what completed, saying when to resume.
    """
    tune_gc_for_cli()
    try:
        run_plugin_cli("tap-flext-api", TapFlextApi)
    except StreamQuotaExhausted as exc:
        print(
            f"tap-flext-api: {exc}. STATE covers what completed; run again after "
            f"{exc.resume_at.isoformat(timespec='seconds')} to finish.",
            file=sys.stderr,
        )
        raise SystemExit(ExitCode.QUOTA_EXHAUSTED) from exc
