"""Pushing a batch run's metrics: to a Pushgateway, or into a node_exporter textfile.

Prometheus recommends pushing for batch jobs: the process is gone before any
scrape. With ``FLEXT_METRICS_PUSHGATEWAY_URL`` the metrics go to the
Pushgateway under the grouping key ``job``/``instance`` (a PUT: the group is
replaced, never merged), with basic auth when a user is set. With
``FLEXT_METRICS_TEXTFILE_DIR`` they are written to ``<dir>/flext_<job>.prom``
through a temporary file renamed into place (node_exporter never reads half a
file). A push that fails is logged and never fails the run.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler
from prometheus_client.registry import Collector

from flext_infra.observability import get_logger
from flext_infra.settings import MetricsSettings

log = get_logger("flext.metrics")


def textfile_name(job: str) -> str:
    """``flext_<job>.prom``, with anything but letters, digits, ``-`` and ``_`` replaced."""
    return f"flext_{re.sub(r'[^A-Za-z0-9_-]', '_', job)}.prom"


def push_metrics(settings: MetricsSettings, job: str, collectors: Iterable[Collector]) -> list[str]:
    """Push ``collectors`` for ``job`` where the settings say; returns where it went.

    Never raises: a failing destination is logged (``metrics.push_failed``).
    """
    if not settings.enabled:
        return []
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    done: list[str] = []
    instance = settings.instance or socket.gethostname()
    if settings.pushgateway_url:
        url = settings.pushgateway_url
        try:
            push_to_gateway(
                url, job=job, registry=registry, grouping_key={"instance": instance},
                timeout=settings.push_timeout_s, handler=_handler(settings),
            )  # fmt: skip
            done.append(url)
            log.info("metrics.pushed", to="pushgateway", url=url, job=job, instance=instance)
        except Exception as exc:
            log.warning("metrics.push_failed", to="pushgateway", url=url, job=job, error=str(exc))
    if settings.textfile_dir is not None:
        path = Path(settings.textfile_dir) / textfile_name(job)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(path), registry)
            done.append(str(path))
            log.info("metrics.pushed", to="textfile", path=str(path), job=job)
        except Exception as exc:
            log.warning("metrics.push_failed", to="textfile", path=str(path), error=str(exc))
    return done


def _handler(settings: MetricsSettings) -> Any:
    user, password = settings.pushgateway_username, settings.pushgateway_password
    if not user:
        return default_handler

    def handler(url: str, method: str, timeout: float | None, headers: Any, data: bytes) -> Any:
        secret = password.get_secret_value() if password is not None else ""
        return basic_auth_handler(url, method, timeout, headers, data, user, secret)

    return handler
