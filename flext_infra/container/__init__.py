"""The dependency-injection container."""

from flext_infra.container._container import (
    Container,
    Lifetime,
    MissingDependency,
    Registration,
    Resolver,
    Scope,
    ValidationReport,
)
from flext_infra.container._errors import (
    CaptiveDependencyError,
    CircularDependencyError,
    CleanupTimeoutError,
    ContainerDisposedError,
    ContainerError,
    DisposeError,
    ScopeRequiredError,
    ServiceCreationError,
    ServiceNotFoundError,
)

__all__ = [
    "CaptiveDependencyError",
    "CircularDependencyError",
    "CleanupTimeoutError",
    "Container",
    "ContainerDisposedError",
    "ContainerError",
    "DisposeError",
    "Lifetime",
    "MissingDependency",
    "Registration",
    "Resolver",
    "Scope",
    "ScopeRequiredError",
    "ServiceCreationError",
    "ServiceNotFoundError",
    "ValidationReport",
]
