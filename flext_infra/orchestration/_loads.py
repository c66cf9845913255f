"""What a Meltano job loads: its extract-load blocks, their streams and the tables they fill.

Everything here is read from ``meltano.yml`` (and its included files) without
running Meltano or importing a plugin: ``flext_infra`` never imports the
plugins, and an orchestrator that loads its definitions must not wait for a
``meltano config`` subprocess per plugin. A plugin setting is resolved with
Meltano's precedence: the plugin's environment variable, then the active
environment's config, then the plugin's ``config:``, then the plugin it
inherits from (resolved the same way).

The streams of an extractor come from its ``select`` patterns, else from the
``entities`` (the ``oracle_wms`` profile) or ``streams`` (the generic profile)
settings. When none of them names the streams (``entities: ["*"]``,
``discover_all_entities``), the job's tables are unknown until discovery runs,
and :attr:`JobLoads.known` says so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flext_infra._errors import ConfigurationError
from flext_infra.orchestration._project import MeltanoProject

_KINDS = ("extractors", "loaders", "mappers", "utilities", "transformers", "orchestrators")
_ENV_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z_]+")


@dataclass(frozen=True)
class LoadedTable:
    """One stream of an extract-load block and the table its loader writes.

    Attributes:
        stream: The Singer stream name.
        table: The table, as the target names it: ``table_prefix`` plus the last
            ``-`` part of the stream, lower case, separators as ``_``.
        extractor: The extractor plugin that reads it.
        loader: The loader plugin that writes it.
    """

    stream: str
    table: str
    extractor: str
    loader: str


@dataclass(frozen=True)
class JobLoads:
    """The tables one Meltano job fills.

    Attributes:
        job: The Meltano job.
        tables: Every table its blocks load (nested jobs included), in task order.
        known: False when a block's streams cannot be told from ``meltano.yml``.
    """

    job: str
    tables: tuple[LoadedTable, ...]
    known: bool = True

    @property
    def table_names(self) -> tuple[str, ...]:
        """The table names, in order, without repeats."""
        return tuple(dict.fromkeys(t.table for t in self.tables))

    def stream_of(self, table: str) -> str:
        """The stream that fills ``table``."""
        for t in self.tables:
            if t.table == table:
                return t.stream
        raise KeyError(table)


def env_var_name(plugin: str, setting: str) -> str:
    """Meltano's variable for a setting: ``tap-x--a``, ``entities`` -> ``TAP_X__A_ENTITIES``."""
    return f"{plugin}_{setting}".upper().replace("-", "_").replace(".", "_")


class ProjectSettings:
    """Plugin settings of one Meltano environment, resolved as Meltano resolves them.

    Args:
        project: The Meltano project.
        environment: The Meltano environment (``dev``, ``prod``, ...); None for none.
        env: The process environment to read variables from (default ``os.environ``).
    """

    def __init__(
        self,
        project: MeltanoProject,
        environment: str | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.environment = environment
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("MELTANO_PROJECT_ROOT", str(project.root))
        self._env.setdefault("MELTANO_ENVIRONMENT", environment or "")
        if environment is not None and environment not in project.environments():
            known = ", ".join(project.environments()) or "none"
            raise ConfigurationError(
                f"{project.file}: no environment {environment!r} (environments: {known})"
            )

    # ------------------------------------------------------------------ plugins
    def plugin(self, name: str) -> tuple[str, dict[str, Any]]:
        """The plugin's kind (``extractors``, ...) and its definition.

        Raises:
            ConfigurationError: no plugin of that name.
        """
        plugins = self.project.data.get("plugins") or {}
        for kind in _KINDS:
            for item in plugins.get(kind) or []:
                if isinstance(item, dict) and item.get("name") == name:
                    return kind, item
        raise ConfigurationError(f"{self.project.file}: no plugin {name!r}")

    def kind(self, name: str) -> str | None:
        """The plugin's kind, or None when ``name`` is not a plugin (a job, a command)."""
        try:
            return self.plugin(name.split(":", 1)[0])[0]
        except ConfigurationError:
            return None

    def base_plugin(self, name: str) -> str:
        """The plugin at the end of ``name``'s ``inherit_from`` chain (``name`` itself if none)."""
        seen = {name}
        while True:
            parent = self.plugin(name)[1].get("inherit_from")
            if not parent or parent in seen:
                return name
            name = str(parent)
            seen.add(name)

    def _environment_entry(self, kind: str, name: str) -> dict[str, Any]:
        for env in self.project.data.get("environments") or []:
            if not isinstance(env, dict) or env.get("name") != self.environment:
                continue
            items = ((env.get("config") or {}).get("plugins") or {}).get(kind) or []
            for item in items:
                if isinstance(item, dict) and item.get("name") == name:
                    return item
        return {}

    def environment_env(self) -> dict[str, str]:
        """The ``env:`` block of the active environment (``FLEXT_ENVIRONMENT``, ...)."""
        for env in self.project.data.get("environments") or []:
            if isinstance(env, dict) and env.get("name") == self.environment:
                return {str(k): str(v) for k, v in (env.get("env") or {}).items()}
        return {}

    # ------------------------------------------------------------------ settings
    def setting(self, plugin: str, key: str) -> Any:
        """A plugin setting's value, or None when nothing sets it.

        Precedence (Meltano's): ``<PLUGIN>_<SETTING>`` in the environment, the
        active environment's ``config``, the plugin's ``config``, then the
        plugin it inherits from. ``$VAR`` references are expanded; a variable
        holding JSON (an array, an object) is decoded.
        """
        return self._lookup(plugin, key, "config", set())

    def extra(self, plugin: str, key: str) -> Any:
        """A plugin extra such as ``select`` (``<PLUGIN>__SELECT`` in the environment)."""
        return self._lookup(plugin, key, "extra", set())

    def _lookup(self, plugin: str, key: str, where: str, seen: set[str]) -> Any:
        if plugin in seen:
            raise ConfigurationError(f"{self.project.file}: inherit_from cycle at {plugin!r}")
        seen.add(plugin)
        kind, item = self.plugin(plugin)
        var = env_var_name(plugin, key) if where == "config" else env_var_name(plugin, "_" + key)
        if var in self._env:
            return self._decode(self._env[var])
        scopes = (self._environment_entry(kind, plugin), item)
        for scope in scopes:
            source = (scope.get("config") or {}) if where == "config" else scope
            if key in source:
                return self._expand(source[key])
        parent = item.get("inherit_from")
        if parent:
            return self._lookup(str(parent), key, where, seen)
        return None

    def _decode(self, raw: str) -> Any:
        text = raw.strip()
        if text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return self._expand(raw)

    def _expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return _ENV_VAR.sub(lambda m: self._env.get(m[1] or m[2], m[0]), value)
        if isinstance(value, list):
            return [self._expand(v) for v in value]
        if isinstance(value, dict):
            return {k: self._expand(v) for k, v in value.items()}
        return value

    def path(self, value: str) -> Path:
        """A path setting: relative ones are relative to the project root (the plugins' cwd)."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.project.root / path

    # ------------------------------------------------------------------ streams
    def streams(self, extractor: str) -> tuple[str, ...] | None:
        """The streams ``extractor`` reads, or None when only discovery can tell."""
        selected = _selected_streams(self.extra(extractor, "select"))  # noqa: S610 (not Django)
        named: tuple[str, ...] | None = None
        if self.setting(extractor, "discover_all_entities") is not True:
            entities = self.setting(extractor, "entities")
            streams = self.setting(extractor, "streams")
            if isinstance(entities, list) and entities and "*" not in entities:
                named = tuple(str(e) for e in entities)
            elif isinstance(streams, list) and streams:
                named = tuple(
                    str(s["name"]) for s in streams if isinstance(s, dict) and "name" in s
                )
        if named is None:
            return selected
        if selected is None:
            return named
        return tuple(s for s in named if s in selected)

    def table(self, loader: str, stream: str) -> str:
        """The table ``loader`` writes ``stream`` to (the target's naming rule)."""
        prefix = self.setting(loader, "table_prefix") or ""
        return table_name(f"{prefix}{stream.rsplit('-', maxsplit=1)[-1]}")

    # ------------------------------------------------------------------ jobs
    def job_loads(self, job: str) -> JobLoads:
        """The tables ``job`` loads, from each extractor -> loader block of its tasks.

        Raises:
            JobNotFoundError: no such job.
        """
        jobs = {j.name: j for j in self.project.jobs()}
        tables: list[LoadedTable] = []
        known = True
        seen: set[str] = set()

        def visit(name: str) -> None:
            nonlocal known
            if name in seen:
                return
            seen.add(name)
            for task in self.project.job(name).tasks:
                parts = task.split()
                extractor: str | None = None
                for part in parts:
                    if part in jobs:
                        visit(part)
                        continue
                    kind = self.kind(part)
                    if kind == "extractors":
                        extractor = part
                    elif kind == "loaders" and extractor is not None:
                        streams = self.streams(extractor)
                        if streams is None:
                            known = False
                        else:
                            tables.extend(
                                LoadedTable(s, self.table(part, s), extractor, part)
                                for s in streams
                            )
                        extractor = None

        visit(job)
        return JobLoads(job, tuple(tables), known)


def table_name(text: str) -> str:
    """Lower case, every run of other characters as one ``_``, as the target names tables."""
    name = _NOT_WORD.sub("_", text.strip()).lower()
    return name or "_"


def _selected_streams(select: Any) -> tuple[str, ...] | None:
    """Streams named by ``select`` patterns (``stream.field``); None when a wildcard selects."""
    if not isinstance(select, list) or not select:
        return None
    streams: list[str] = []
    for pattern in select:
        text = str(pattern).strip()
        if text.startswith("!"):
            continue
        stream = text.split(".", 1)[0]
        if any(c in stream for c in "*?["):
            return None
        if stream not in streams:
            streams.append(stream)
    return tuple(streams) or None
