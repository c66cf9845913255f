"""``HttpCollector``: the ``flext_infra.http`` client's per-host counters as Prometheus metrics.

- ``flext_http_requests_total{host,outcome}`` (counter): attempts by outcome (``2xx``,
  ``3xx``, ``4xx``, ``5xx``, ``network_error``, ``breaker_rejected``);
- ``flext_http_retries_total{host}`` and ``flext_http_rate_limited_total{host}`` (counters);
- ``flext_http_breaker_open{host}`` (gauge): 1 while the host's circuit breaker is open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Outcome label -> the client's counter behind it.
OUTCOMES = {
    "2xx": "responses_2xx",
    "3xx": "responses_3xx",
    "4xx": "responses_4xx",
    "5xx": "responses_5xx",
    "network_error": "network_errors",
    "breaker_rejected": "breaker_rejections",
}

Snapshot = Callable[[], Mapping[str, Mapping[str, Any]]]


class HttpCollector(Collector):
    """Reads a client's ``metrics()`` snapshot (``FlextHttpClient.metrics``) at each collection."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """The metric families (see the module's table)."""
        requests = CounterMetricFamily(
            "flext_http_requests", "HTTP attempts by outcome.", labels=["host", "outcome"]
        )
        retries = CounterMetricFamily("flext_http_retries", "HTTP retries.", labels=["host"])
        limited = CounterMetricFamily(
            "flext_http_rate_limited", "HTTP 429 answers.", labels=["host"]
        )
        breaker = GaugeMetricFamily(
            "flext_http_breaker_open", "1 while the host's circuit breaker is open.",
            labels=["host"],
        )  # fmt: skip
        for host, counters in sorted(self.snapshot().items()):
            for outcome, name in OUTCOMES.items():
                requests.add_metric([host, outcome], int(counters.get(name, 0)))
            retries.add_metric([host], int(counters.get("retries", 0)))
            limited.add_metric([host], int(counters.get("status_429", 0)))
            breaker.add_metric([host], 1.0 if counters.get("breaker_state") == "open" else 0.0)
        yield from (requests, retries, limited, breaker)
