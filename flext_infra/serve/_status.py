"""The status page: server-rendered HTML (Jinja2, autoescaped), inline SVG, no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from flext_infra.orchestration import MeltanoProject
from flext_infra.serve._models import Readiness

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


def project_jobs(project: MeltanoProject | None) -> list[JobView]:
    """The project's jobs, each with its schedules as ``name (interval)``."""
    if project is None:
        return []
    schedules: dict[str, list[str]] = {}
    for schedule in project.schedules():
        if schedule.job:
            schedules.setdefault(schedule.job, []).append(f"{schedule.name} ({schedule.interval})")
    return [JobView(job.name, schedules.get(job.name, [])) for job in project.jobs()]


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
            history=HISTORY,
            now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
