"""Prometheus metrics for batch runs: collectors over the ledger and the HTTP client, and pushes.

``LedgerCollector`` derives the run metrics from the run ledger (``flext serve``
registers it on ``/metrics``); ``HttpCollector`` turns an HTTP client's
per-host counters into metrics; :func:`push_metrics` sends them to a
Pushgateway or a node_exporter textfile. The metrics are listed in
``docs/metrics.md``. Imported only when metrics are configured: a plugin
process that pushes nothing never loads prometheus-client.
"""

from flext_infra.metrics._http import OUTCOMES, HttpCollector
from flext_infra.metrics._ledger import LedgerCollector
from flext_infra.metrics._push import push_metrics, textfile_name

__all__ = ["OUTCOMES", "HttpCollector", "LedgerCollector", "push_metrics", "textfile_name"]
