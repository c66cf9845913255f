"""Record counts from the Singer SDK's ``METRIC:`` log lines, as Meltano relays them.

With ``meltano --log-format=json`` every plugin stderr line becomes a JSON
object whose ``event`` holds the plugin's line and whose ``name`` and
``producer`` say which plugin wrote it. The SDK's metric lines look like
``METRIC: {"type": "counter", "metric": "record_count", "value": 3, "tags": {...}}``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_DECODER = json.JSONDecoder()
_MARK = "METRIC:"
_REFUSED = "pipeline is already running"
#: The last line of a Python traceback: ``package.module.SomeError: message``.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception): \S")


@dataclass
class RunMetrics:
    """What the metric lines of one run said.

    Attributes:
        extracted: Records per stream counted by the extractor (producer).
        loaded: Records per stream counted by the loader (consumer).
        by_plugin: Records per plugin and stream.
        rejected: Rejected records per stream (the data validator's ``reject_count``).
        http_requests: HTTP requests the SDK timed.
        http_429: 429 answers (SDK timers, and flext_infra.http retries on status 429).
        http_retries: Retries the ``flext_infra.http`` client scheduled.
        cache_hits: Responses served from the HTTP cache.
        breaker_opened: Hosts whose circuit breaker opened during the run.
        retries_by_stream: HTTP retries per stream (events carrying ``stream``).
        rate_limited_by_stream: 429 answers per stream.
        exit_codes: Plugin exit codes by plugin type (``extractors``, ``loaders``)
            from Meltano's ``Block run completed`` event.
        refused: Meltano's refusal ("Another '…' pipeline is already running …"), if any.
        errors: The last error-level lines (for the failure message).
        plugin_errors: The exception each plugin ended with (``tap-x: SomeError: ...``),
            from its relayed stderr; it names the stream where the plugin knows it.
    """

    extracted: Counter[str] = field(default_factory=Counter)
    loaded: Counter[str] = field(default_factory=Counter)
    by_plugin: dict[str, Counter[str]] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    http_requests: int = 0
    http_429: int = 0
    http_retries: int = 0
    cache_hits: int = 0
    breaker_opened: list[str] = field(default_factory=list)
    retries_by_stream: Counter[str] = field(default_factory=Counter)
    rate_limited_by_stream: Counter[str] = field(default_factory=Counter)
    exit_codes: dict[str, int] = field(default_factory=dict)
    refused: str | None = None
    errors: list[str] = field(default_factory=list)
    plugin_errors: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        """Account for one log line (any format; non-metric lines are ignored)."""
        text, plugin, producer = line, None, None
        last: dict[str, Any] = {}
        # Meltano wraps the plugin's line in JSON; a plugin logging JSON itself
        # (structlog in staging/production) adds a second layer.
        for _layer in range(2):
            stripped = text.strip()
            if not stripped.startswith("{"):
                break
            try:
                obj = json.loads(stripped)
            except ValueError:
                break
            if not isinstance(obj, dict):
                break
            last = obj
            text = str(obj.get("event", ""))
            if _layer == 0:
                self._meltano_event(text, obj)
                self._plugin_exception(text, obj)
            plugin = plugin or obj.get("name") or obj.get("string_id")
            producer = obj.get("producer") if producer is None else producer
            if obj.get("level") in ("error", "critical") and text:
                self.errors = [*self.errors[-4:], text.strip()[:500]]
        at = text.find(_MARK)
        if at < 0:
            self._events(text, last)
            return
        try:
            metric, _ = _DECODER.raw_decode(text, at + len(_MARK) + _spaces(text, at))
        except ValueError:
            return
        if isinstance(metric, dict):
            self._count(metric, str(plugin) if plugin else "unknown", producer)

    def _meltano_event(self, text: str, obj: dict[str, Any]) -> None:
        """Meltano's own events: a block's exit codes, and its refusal to run twice."""
        codes = obj.get("exit_codes")
        if text == "Block run completed" and isinstance(codes, dict):
            for kind, code in codes.items():
                if isinstance(code, int):
                    self.exit_codes[str(kind).rsplit(".", 1)[-1].lower()] = code
        for candidate in (text, str(obj.get("err") or "")):
            if _REFUSED in candidate and candidate.startswith("Another "):
                self.refused = candidate.strip()[:500]

    def _plugin_exception(self, text: str, obj: dict[str, Any]) -> None:
        """A plugin's traceback ends with its exception, relayed by Meltano at info level.

        A chained traceback prints the cause first: the plugin's last such line wins.
        """
        plugin = obj.get("name")
        line = text.strip()
        if plugin and obj.get("stdio") == "stderr" and _EXCEPTION_LINE.match(line):
            mine = f"{plugin}: "
            others = [e for e in self.plugin_errors if not e.startswith(mine)]
            self.plugin_errors = [*others[-2:], mine + line[:500]]

    def _events(self, text: str, fields: dict[str, Any]) -> None:
        """Count the ``flext_infra.http`` client's events (JSON or console-rendered)."""
        if "http." not in text:
            return
        if "http.retry_scheduled" in text:
            self.http_retries += 1
            stream = _field(fields, text, "stream")
            if stream:
                self.retries_by_stream[stream] += 1
            reason = str(fields.get("reason", "")) if fields else text
            if "status 429" in reason or "status 429" in text:
                self.http_429 += 1
                if stream:
                    self.rate_limited_by_stream[stream] += 1
        elif "http.cache.hit" in text:
            self.cache_hits += 1
        elif "http.breaker.opened" in text:
            host = str(fields.get("host", "")) if fields else ""
            if not host and "host=" in text:
                host = text.split("host=", 1)[1].split(maxsplit=1)[0]
            self.breaker_opened.append(host or "?")

    def _count(self, metric: dict[str, Any], plugin: str, producer: Any) -> None:
        name = metric.get("metric")
        tags = metric.get("tags") or {}
        value = metric.get("value")
        if name == "record_count" and isinstance(value, int | float):
            stream = str(tags.get("stream", "?"))
            self.by_plugin.setdefault(plugin, Counter())[stream] += int(value)
            if producer is False or plugin.startswith("target-"):
                self.loaded[stream] += int(value)
            else:
                self.extracted[stream] += int(value)
        elif name == "reject_count" and isinstance(value, int | float):
            self.rejected[str(tags.get("stream", "?"))] += int(value)
        elif name in ("cache_hits", "http_cache_hits") and isinstance(value, int | float):
            self.cache_hits += int(value)
        elif name == "http_request_duration":
            self.http_requests += 1
            if str(tags.get("http_status_code")) == "429":
                self.http_429 += 1

    @property
    def records(self) -> dict[str, int]:
        """Records per stream: extracted counts, or loaded ones if the tap gave none."""
        return dict(self.extracted or self.loaded)


def _spaces(text: str, at: int) -> int:
    i = at + len(_MARK)
    n = 0
    while i + n < len(text) and text[i + n] == " ":
        n += 1
    return n


def _field(fields: dict[str, Any], text: str, name: str) -> str:
    """A field of a JSON event, or ``name=value`` in a console-rendered line."""
    if fields and fields.get(name):
        return str(fields[name])
    marker = f" {name}="
    at = text.find(marker)
    if at < 0:
        return ""
    rest = text[at + len(marker) :]
    return rest.split(maxsplit=1)[0].strip("'\"") if rest.strip() else ""
