"""``/metrics``: the serving process's own metrics, in its own prometheus-client registry.

A registry per application (not the global one), so two apps in one process,
as in tests, never collide; the run metrics from the ledger join it as a
collector read at every scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flext_infra.container import Container
from flext_infra.metrics import LedgerCollector
from flext_infra.observability import get_logger

log = get_logger("flext.serve")


class ServeMetrics:
    """The registry ``/metrics`` renders, with the request counters the middleware feeds."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # No auto-describe: it would collect (query the ledger) at registration.
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "flext_serve_requests",
            "HTTP requests answered by flext serve.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "flext_serve_request_duration_seconds",
            "Time to answer one request.",
            ("method", "route"),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (the route template, never the raw path)."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def add(self, collector: Collector) -> None:
        """Serve ``collector``'s metrics too (read at each scrape)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)


class LedgerMetrics(Collector):
    """The run metrics of the ledger (``LedgerCollector``), read at each scrape.

    A ledger that cannot be read costs its families, not the scrape: the
    process's own metrics still answer, and ``flext_serve_ledger_up`` says 0.
    """

    def __init__(self, container: Container) -> None:
        self._container = container

    def collect(self) -> Iterator[Metric]:
        """The ledger's families, then ``flext_serve_ledger_up``."""
        up = GaugeMetricFamily(
            "flext_serve_ledger_up", "1 when the run ledger could be read for this scrape."
        )
        families: list[Metric] = []
        readable = False
        found = self._container.try_resolve("run_ledger")
        if found.is_failure:
            log.warning("serve.metrics.ledger_unavailable", error=str(found.error))
        else:
            try:
                families = list(LedgerCollector(found.unwrap()).collect())
                readable = True
            except Exception as exc:  # a scrape answers with what it has
                log.warning("serve.metrics.ledger_failed", error=f"{type(exc).__name__}: {exc}")
        up.add_metric([], 1.0 if readable else 0.0)
        yield from families
        yield up
