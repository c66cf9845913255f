"""``LedgerCollector``: the run metrics, derived from the run ledger at each collection.

Derived rather than counted in memory: a batch job's process ends after each
run, and the ledger is what survives it. ``flext run`` pushes these for its
job after every run; ``flext serve``'s ``/metrics`` registers the collector for
every job.

- ``flext_run_duration_seconds{job}`` (gauge): the newest finished run's duration;
- ``flext_run_records_total{job,stream}`` and ``flext_run_rejects_total{job,stream}``
  (counters): records (loaded; read for an extractor's own rows) and rejects over
  every recorded run;
- ``flext_run_last_success_timestamp_seconds{job}`` (gauge);
- ``flext_run_status{job,flext_run_status}`` (stateset): the newest run's status;
- ``flext_runs_total{job,status}`` (counter): runs recorded, by status.

Totals cover the rows the ledger keeps: pruning (``FLEXT_RUNS_RETENTION_DAYS``)
lowers them, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

from flext_infra.runs import RunLedger, RunStatus


class LedgerCollector(Collector):
    """Run metrics from a :class:`RunLedger`, read at every collection.

    Args:
        ledger: The ledger.
        job: Only this job's metrics (what ``flext run`` pushes for its job).
    """

    def __init__(self, ledger: RunLedger, job: str | None = None) -> None:
        self.ledger = ledger
        self.job = job

    def describe(self) -> Iterator[Metric]:
        """The families without samples: registering the collector reads no database."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """The metric families (see the module's docstring), read from the ledger now."""
        duration, records, rejects, last_success, status, runs = self._families()
        for stats in self.ledger.job_stats(self.job):
            job = stats.job
            if stats.last_duration_s is not None:
                duration.add_metric([job], stats.last_duration_s)
            for stream, count in sorted(stats.records.items()):
                records.add_metric([job, stream], count)
            for stream, count in sorted(stats.rejects.items()):
                rejects.add_metric([job, stream], count)
            if stats.last_success_at is not None:
                last_success.add_metric([job], stats.last_success_at.timestamp())
            if stats.last_status is not None:
                status.add_metric([job], {s.value: s is stats.last_status for s in RunStatus})
            for name, count in sorted(stats.runs.items()):
                runs.add_metric([job, name], count)
        yield from (duration, records, rejects, last_success, status, runs)

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily, GaugeMetricFamily,
        StateSetMetricFamily, CounterMetricFamily,
    ]:  # fmt: skip
        duration = GaugeMetricFamily(
            "flext_run_duration_seconds", "Duration of the newest finished run.", labels=["job"]
        )
        records = CounterMetricFamily(
            "flext_run_records", "Records over every recorded run, per stream.",
            labels=["job", "stream"],
        )  # fmt: skip
        rejects = CounterMetricFamily(
            "flext_run_rejects", "Rejected records over every recorded run, per stream.",
            labels=["job", "stream"],
        )  # fmt: skip
        last_success = GaugeMetricFamily(
            "flext_run_last_success_timestamp_seconds",
            "When the newest successful run ended (Unix time).",
            labels=["job"],
        )
        status = StateSetMetricFamily(
            "flext_run_status", "Status of the newest run.", labels=["job"]
        )
        runs = CounterMetricFamily(
            "flext_runs", "Runs recorded in the ledger, by status.", labels=["job", "status"]
        )
        return duration, records, rejects, last_success, status, runs
