"""Per-environment service registration, declared as data.

Each subsystem lists its services as :class:`ServiceSpec` values in a
``SERVICES`` tuple (``flext_infra/<subsystem>/_services.py``). A spec names
the environments it applies to, so one key can have a different recipe per
environment (an in-memory alert channel in ``test``, say). Because profiles are
data, :func:`validate_environments` can check all four without building
anything.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError
from flext_infra.container._container import Container, Lifetime, ValidationReport
from flext_infra.observability import configure_logging, get_logger
from flext_infra.settings import FlextSettings, load_settings

if TYPE_CHECKING:
    from flext_infra.container._container import Cleanup

ALL = frozenset(Environment)


@dataclass(frozen=True)
class ServiceSpec:
    """How one service is registered, and in which environments.

    Attributes:
        key: The service name.
        factory: A class or function; its parameters are its dependencies.
        lifetime: singleton, scoped or transient.
        environments: Where this recipe applies.
        aliases: Other keys (usually the service's type) for the same registration.
        cleanup: Called with the instance on dispose.
        cleanup_timeout: Seconds a cleanup may take before it is abandoned.
        check: Returns configuration problems for these settings (empty when fine);
            used by validation without creating the service.
    """

    key: str
    factory: Callable[..., Any]
    lifetime: Lifetime = Lifetime.SINGLETON
    environments: frozenset[Environment] = ALL
    aliases: tuple[Any, ...] = ()
    cleanup: Cleanup | None = None
    cleanup_timeout: float | None = None
    check: Callable[[FlextSettings], list[str]] | None = field(default=None, compare=False)


def _data_dir(settings: FlextSettings) -> Path:
    path = settings.data_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def _temp_data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flext-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _logger(settings: FlextSettings) -> Any:
    configure_logging(settings)
    return get_logger("flext")


#: The core services every environment gets.
CORE_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("logger", _logger),
    ServiceSpec("data_dir", _data_dir, environments=ALL - {Environment.TEST}),
    ServiceSpec("data_dir", _temp_data_dir, environments=frozenset({Environment.TEST})),
)

#: Subsystems that contribute services; each has a ``SERVICES`` tuple in ``_services``.
SUBSYSTEMS: tuple[str, ...] = (
    "alerts",
    "quality",
    "database",
    "http",
    "orchestration",
    "runs",
)


def service_specs(subsystems: Iterable[str] = SUBSYSTEMS) -> list[ServiceSpec]:
    """The core specs, then each of ``subsystems``' (all of them by default)."""
    unknown = set(subsystems) - set(SUBSYSTEMS)
    if unknown:
        raise ValueError(f"unknown subsystems {sorted(unknown)}; known: {', '.join(SUBSYSTEMS)}")
    specs = list(CORE_SERVICES)
    for module in subsystems:
        specs.extend(importlib.import_module(f"flext_infra.{module}._services").SERVICES)
    return specs


def register_profile(
    container: Container,
    env: Environment,
    settings: FlextSettings | None = None,
    specs: Iterable[ServiceSpec] | None = None,
) -> None:
    """Register ``settings`` and every spec that applies to ``env`` into ``container``."""
    settings = settings or load_settings(environment=env)
    container.register_singleton("settings", settings, aliases=(FlextSettings,))
    for spec in service_specs() if specs is None else specs:
        if env not in spec.environments:
            continue
        if spec.lifetime is Lifetime.SINGLETON:
            container.register_singleton(
                spec.key, spec.factory, cleanup=spec.cleanup,
                cleanup_timeout=spec.cleanup_timeout, aliases=spec.aliases,
            )  # fmt: skip
        elif spec.lifetime is Lifetime.SCOPED:
            container.register_scoped(
                spec.key, spec.factory, cleanup=spec.cleanup,
                cleanup_timeout=spec.cleanup_timeout, aliases=spec.aliases,
            )  # fmt: skip
        else:
            container.register_transient(spec.key, spec.factory, aliases=spec.aliases)


class FlextContainer(Container):
    """The container with the environments' glue: built for an environment, upstream aliases.

    The generic :class:`~flext_infra.container.Container` knows nothing of
    profiles (as svcs's core knows nothing of web frameworks); building one for
    an environment is the profiles' business, here.
    """

    @classmethod
    def for_environment(
        cls,
        env: Environment | str | None = None,
        settings: FlextSettings | None = None,
        *,
        subsystems: Iterable[str] | None = None,
    ) -> FlextContainer:
        """A container with every service of one environment registered (none created).

        ``env`` defaults to ``FLEXT_ENVIRONMENT`` (development when unset).
        ``subsystems`` limits the registration to the core services and those
        subsystems' (``alerts``, ``quality``, ``database``, ``http``,
        ``orchestration``, ``runs``); the others are then not even imported.
        """
        if env is not None:
            environment = Environment(env)
        elif settings is not None:
            environment = settings.environment
        else:
            environment = Environment.current()
        if settings is None:
            settings = load_settings(environment=environment)
        container = cls(cleanup_timeout=30.0)
        container.environment = environment
        specs = None if subsystems is None else service_specs(subsystems)
        register_profile(container, environment, settings, specs)
        return container

    def register_production_services(self, settings: FlextSettings | None = None) -> None:
        """Upstream alias: register the production profile into this container."""
        register_profile(self, Environment.PRODUCTION, settings)

    def register_development_services(self, settings: FlextSettings | None = None) -> None:
        """Upstream alias: register the development profile into this container."""
        register_profile(self, Environment.DEVELOPMENT, settings)

    def register_test_services(self, settings: FlextSettings | None = None) -> None:
        """Upstream alias: register the test profile into this container."""
        register_profile(self, Environment.TEST, settings)


def configure_for_testing(settings: FlextSettings | None = None) -> FlextContainer:
    """The test-safe container: temp-dir SQLite, in-memory alerts, loopback HTTP, no waits."""
    if settings is not None and settings.environment is not Environment.TEST:
        raise ConfigurationError(
            "FLEXT_ENVIRONMENT: configure_for_testing needs test settings, "
            f"got {settings.environment}"
        )
    return FlextContainer.for_environment(Environment.TEST, settings)


@dataclass(frozen=True)
class EnvironmentReport:
    """Validation of one environment: its settings and its container graph."""

    environment: Environment
    config_problems: tuple[str, ...]
    graph: ValidationReport | None

    @property
    def ok(self) -> bool:
        """True when settings and graph are both sound."""
        return not self.config_problems and self.graph is not None and self.graph.ok

    def problems(self) -> list[str]:
        """Every problem, one line each."""
        return [*self.config_problems, *(self.graph.problems() if self.graph else [])]


def validate_environment(
    env: Environment | str, settings: FlextSettings | None = None
) -> EnvironmentReport:
    """Check one environment's settings and service graph without creating any service."""
    environment = Environment(env)
    try:
        settings = settings or load_settings(environment=environment)
    except ConfigurationError as exc:
        return EnvironmentReport(environment, tuple(exc.problems), None)
    specs = [s for s in service_specs() if environment in s.environments]
    problems = [p for s in specs if s.check is not None for p in s.check(settings)]
    container = Container()
    container.environment = environment
    register_profile(container, environment, settings, specs)
    graph = container.validate()
    container.dispose()  # nothing was created; this only marks it disposed
    return EnvironmentReport(environment, tuple(problems), graph)


def validate_environments(
    environments: Iterable[Environment | str] = tuple(Environment),
) -> dict[Environment, EnvironmentReport]:
    """:func:`validate_environment` for several environments (all four by default)."""
    return {Environment(e): validate_environment(e) for e in environments}
