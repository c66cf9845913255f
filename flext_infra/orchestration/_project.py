"""Reading a Meltano project: its jobs and schedules from ``meltano.yml``."""

from __future__ import annotations

import difflib
import glob
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra._errors import ConfigurationError
from flext_infra._lazy import lazy_module
from flext_infra.orchestration._errors import JobNotFoundError, ProjectNotFoundError

if TYPE_CHECKING:
    import yaml
else:
    yaml = lazy_module("yaml")  # only `flext` reads meltano.yml; plugins never do

PROJECT_FILE = "meltano.yml"


@dataclass(frozen=True)
class MeltanoJob:
    """A named job: its tasks, each a space-separated block of plugins."""

    name: str
    tasks: tuple[str, ...]

    def plugins(self) -> list[str]:
        """Every plugin (or command) name the tasks mention, in order."""
        names: list[str] = []
        for task in self.tasks:
            for part in task.split():
                if part not in names:
                    names.append(part)
        return names


@dataclass(frozen=True)
class MeltanoSchedule:
    """A schedule: a job (or extractor/loader pair) and its interval."""

    name: str
    interval: str
    job: str | None = None
    extractor: str | None = None
    loader: str | None = None


def _task_list(raw: Any) -> tuple[str, ...]:
    """Meltano allows a task list of strings or lists of strings."""
    if isinstance(raw, str):
        return (raw,)
    out: list[str] = []
    for item in raw or []:
        out.append(" ".join(item) if isinstance(item, list) else str(item))
    return tuple(out)


class MeltanoProject:
    """A Meltano project directory and what its ``meltano.yml`` declares.

    ``include_paths`` files are merged, as Meltano does, for jobs, schedules and
    plugins.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.file = self.root / PROJECT_FILE
        if not self.file.is_file():
            raise ProjectNotFoundError(f"{self.file}: no meltano.yml (use --project-root)")
        self._data: dict[str, Any] | None = None

    @classmethod
    def find(cls, project_root: Path | str | None = None) -> MeltanoProject:
        """The project at ``project_root``, or the nearest ``meltano.yml`` from the cwd up."""
        if project_root is not None:
            return cls(project_root)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / PROJECT_FILE).is_file():
                return cls(folder)
        raise ProjectNotFoundError(f"no meltano.yml in {here} or its parents (use --project-root)")

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: must be a mapping at the top")
        return data

    @property
    def data(self) -> dict[str, Any]:
        """``meltano.yml`` merged with its ``include_paths`` files."""
        if self._data is None:
            data = self._read(self.file)
            for pattern in data.get("include_paths") or []:
                for name in sorted(glob.glob(str(self.root / pattern))):
                    extra = self._read(Path(name))
                    for key in ("jobs", "schedules"):
                        data[key] = [*(data.get(key) or []), *(extra.get(key) or [])]
                    plugins = data.setdefault("plugins", {})
                    for kind, items in (extra.get("plugins") or {}).items():
                        plugins[kind] = [*(plugins.get(kind) or []), *(items or [])]
            self._data = data
        return self._data

    def jobs(self) -> list[MeltanoJob]:
        """Every job, in file order."""
        return [
            MeltanoJob(str(j["name"]), _task_list(j.get("tasks")))
            for j in self.data.get("jobs") or []
            if isinstance(j, dict) and "name" in j
        ]

    def job(self, name: str) -> MeltanoJob:
        """The job called ``name``.

        Raises:
            JobNotFoundError: no such job; the message suggests close names.
        """
        jobs = {j.name: j for j in self.jobs()}
        if name in jobs:
            return jobs[name]
        close = difflib.get_close_matches(name, list(jobs), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(jobs) or "none"
        raise JobNotFoundError(f"job {name!r} is not in {self.file} (jobs: {known}){hint}")

    def schedules(self) -> list[MeltanoSchedule]:
        """Every schedule, in file order."""
        return [
            MeltanoSchedule(
                str(s["name"]),
                str(s.get("interval", "")),
                s.get("job"),
                s.get("extractor"),
                s.get("loader"),
            )
            for s in self.data.get("schedules") or []
            if isinstance(s, dict) and "name" in s
        ]

    def plugin_names(self) -> set[str]:
        """Names of every plugin declared, of any kind."""
        names: set[str] = set()
        for items in (self.data.get("plugins") or {}).values():
            for p in items or []:
                if isinstance(p, dict) and "name" in p:
                    names.add(str(p["name"]))
        return names

    def plugin_names_of(self, kind: str) -> set[str]:
        """Names of the plugins of one kind (``extractors``, ``loaders``...)."""
        items = (self.data.get("plugins") or {}).get(kind) or []
        return {str(p["name"]) for p in items if isinstance(p, dict) and "name" in p}

    def default_environment(self) -> str | None:
        """``default_environment`` of ``meltano.yml``."""
        value = self.data.get("default_environment")
        return str(value) if value else None

    def state_ids(self, job: str, environment: str | None) -> list[str]:
        """The Meltano state ids a run of ``job`` reads and writes.

        Meltano keys an extract-load block's state ``<environment>:<extractor>-to-<loader>``;
        two jobs with the same pair share it. Jobs named inside a job count too.
        """
        extractors = self.plugin_names_of("extractors")
        loaders = self.plugin_names_of("loaders")
        jobs = {j.name: j for j in self.jobs()}
        out: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for task in jobs[name].tasks:
                parts = task.split()
                for part in parts:
                    if part in jobs:
                        visit(part)
                tap = next((p for p in parts if p in extractors), None)
                target = next((p for p in reversed(parts) if p in loaders), None)
                if tap and target and environment:
                    out.append(f"{environment}:{tap}-to-{target}")

        visit(self.job(job).name)
        return list(dict.fromkeys(out))

    def environments(self) -> list[str]:
        """Names of the Meltano environments."""
        return [str(e["name"]) for e in self.data.get("environments") or [] if "name" in e]

    def problems(self) -> list[str]:
        """Jobs naming unknown plugins or jobs, schedules naming unknown jobs."""
        problems: list[str] = []
        plugins = self.plugin_names()
        job_names = {j.name for j in self.jobs()}
        # Jobs may name other jobs and Meltano commands (`dbt:run`) too.
        for job in self.jobs():
            if not job.tasks:
                problems.append(f"{self.file}: job {job.name!r} has no tasks")
            for name in job.plugins():
                base = name.split(":", 1)[0]
                if base not in plugins and name not in job_names:
                    problems.append(f"{self.file}: job {job.name!r} uses unknown plugin {name!r}")
        for sched in self.schedules():
            if sched.job is not None and sched.job not in job_names:
                problems.append(
                    f"{self.file}: schedule {sched.name!r} names unknown job {sched.job!r}"
                )
        return problems
