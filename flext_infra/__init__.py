"""FLEXT infrastructure: container, environments, settings and logging.

Everything the tap, the target and the operations layer share lives here.
Nothing in this package imports Singer code.
"""

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError, FlextInfraError
from flext_infra._exit import ExitCode
from flext_infra._result import Result, ResultError
from flext_infra.container import (
    CaptiveDependencyError,
    CircularDependencyError,
    CleanupTimeoutError,
    Container,
    ContainerDisposedError,
    ContainerError,
    DisposeError,
    Lifetime,
    Scope,
    ScopeRequiredError,
    ServiceCreationError,
    ServiceNotFoundError,
    ValidationReport,
)
from flext_infra.environments import (
    FlextContainer,
    ServiceSpec,
    configure_for_testing,
    validate_environment,
    validate_environments,
)
from flext_infra.observability import bind_context, configure_logging, get_logger, log_context
from flext_infra.settings import FlextSettings, load_settings

__all__ = [
    "CaptiveDependencyError",
    "CircularDependencyError",
    "CleanupTimeoutError",
    "ConfigurationError",
    "Container",
    "ContainerDisposedError",
    "ContainerError",
    "DisposeError",
    "Environment",
    "ExitCode",
    "FlextContainer",
    "FlextInfraError",
    "FlextSettings",
    "Lifetime",
    "Result",
    "ResultError",
    "Scope",
    "ScopeRequiredError",
    "ServiceCreationError",
    "ServiceNotFoundError",
    "ServiceSpec",
    "ValidationReport",
    "bind_context",
    "configure_for_testing",
    "configure_logging",
    "get_logger",
    "load_settings",
    "log_context",
    "validate_environment",
    "validate_environments",
]
