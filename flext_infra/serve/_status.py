"""The status page: server-rendered HTML (Jinja2, autoescaped), inline SVG, no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from flext_infra.observability import get_logger
from flext_infra.orchestration import MeltanoProject
from flext_infra.runs import RunLedger, RunRecord
from flext_infra.serve._charts import Bar, bar_chart
from flext_infra.serve._models import Readiness

log = get_logger("flext.serve")

#: Runs shown per stream chart.
HISTORY = 20


@dataclass(frozen=True, slots=True)
class RunView:
    """A run as one row of the jobs table."""

    run_id: str
    status: str
    started: str
    duration: str
    records: int
    rejects: int
    error: str | None
    href: str

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id, enough to tell runs apart on a page."""
        return self.run_id[:8]

    @property
    def bad(self) -> bool:
        """True when the run did not succeed and is not still running."""
        return self.status not in ("succeeded", "running")


@dataclass(frozen=True, slots=True)
class JobView:
    """One job: its schedules and its last run."""

    name: str
    schedules: list[str]
    last_run: RunView | None = None


@dataclass(frozen=True, slots=True)
class StreamChart:
    """One stream's records over its last runs."""

    job: str
    stream: str
    svg: Markup
    last: int


@dataclass
class PageData:
    """Everything the template shows."""

    environment: str
    ready: Readiness
    jobs: list[JobView] = field(default_factory=list)
    charts: list[StreamChart] = field(default_factory=list)
    project: str | None = None
    ledger_error: str | None = None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {int(secs):02d}s"
    return f"{secs:.1f}s"


def _records(run: RunRecord, loaded: int, read: int) -> int:
    """Records loaded, what landed; read where the run recorded no loader counts at all."""
    return loaded if run.records_loaded else read


def run_view(run: RunRecord) -> RunView:
    """A ledger row as the jobs table shows it."""
    return RunView(
        run_id=run.run_id,
        status=str(run.status),
        started=run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        duration=_duration(run.duration_s),
        records=_records(run, run.records_loaded, run.records_read),
        rejects=run.rejects,
        error=run.error,
        href=f"/runs/{run.run_id}",
    )


def stream_charts(job: str, runs: list[RunRecord]) -> list[StreamChart]:
    """One chart per stream seen in ``runs`` (newest first, as the ledger lists them)."""
    oldest_first = list(reversed(runs))
    names = sorted({s.stream for run in runs for s in run.streams})
    charts = []
    for name in names:
        bars = []
        for run in oldest_first:
            stream = next((s for s in run.streams if s.stream == name), None)
            value = (
                0 if stream is None else _records(run, stream.records_loaded, stream.records_read)
            )
            title = f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC · {run.status}"
            if stream is not None:
                title += f" · read {stream.records_read} · loaded {stream.records_loaded}"
                title += f" · {stream.rejects} rejects" if stream.rejects else ""
            bars.append(Bar(value, str(run.status), title, f"/runs/{run.run_id}"))
        last = bars[-1].value if bars else 0
        charts.append(StreamChart(job, name, bar_chart(bars, slots=HISTORY, label=name), last))
    return charts


def page_data(
    *,
    environment: str,
    ready: Readiness,
    project: MeltanoProject | None,
    ledger: RunLedger | None,
) -> PageData:
    """What the page shows: the project's jobs, their runs from the ledger, the checks."""
    schedules: dict[str, list[str]] = {}
    names: list[str] = []
    if project is not None:
        for schedule in project.schedules():
            if schedule.job:
                entry = f"{schedule.name} ({schedule.interval})"
                schedules.setdefault(schedule.job, []).append(entry)
        names = [job.name for job in project.jobs()]
    jobs: list[JobView] = []
    charts: list[StreamChart] = []
    ledger_error = None if ledger is not None else "the run ledger cannot be opened"
    for name in names:
        runs: list[RunRecord] = []
        if ledger is not None and ledger_error is None:
            try:
                runs = ledger.list_runs(job=name, limit=HISTORY)
            except Exception as exc:  # the page still shows the jobs and the checks
                log.warning("serve.ledger_read_failed", error=f"{type(exc).__name__}: {exc}")
                ledger_error = "the run ledger cannot be read; runs are not shown"
        last = run_view(runs[0]) if runs else None
        jobs.append(JobView(name, schedules.get(name, []), last))
        charts.extend(stream_charts(name, runs))
    return PageData(
        environment=environment,
        ready=ready,
        jobs=jobs,
        charts=charts,
        project=str(project.root) if project is not None else None,
        ledger_error=ledger_error,
    )


class StatusPage:
    """Renders the page from a :class:`PageData`."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("flext_infra.serve", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, data: PageData) -> str:
        """The HTML page."""
        template = self._env.get_template("status.html")
        return template.render(
            environment=data.environment,
            ready=data.ready,
            jobs=data.jobs,
            charts=data.charts,
            project=data.project,
            ledger_error=data.ledger_error,
            history=HISTORY,
            now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
