"""``/metrics``: the serving process's own metrics, in its own prometheus-client registry.

A registry per application (not the global one), so two apps in one process,
as in tests, never collide; the run metrics from the ledger join it as a
collector read at every scrape.
"""

from __future__ import annotations

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
from prometheus_client.registry import Collector


class ServeMetrics:
    """The registry ``/metrics`` renders, with the request counters the middleware feeds."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
