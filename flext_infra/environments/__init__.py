"""Environments and their declarative service profiles."""

from flext_infra._environment import Environment
from flext_infra.environments._profiles import (
    ALL,
    CORE_SERVICES,
    EnvironmentReport,
    FlextContainer,
    ServiceSpec,
    configure_for_testing,
    register_profile,
    service_specs,
    validate_environment,
    validate_environments,
)

__all__ = [
    "ALL",
    "CORE_SERVICES",
    "Environment",
    "EnvironmentReport",
    "FlextContainer",
    "ServiceSpec",
    "configure_for_testing",
    "register_profile",
    "service_specs",
    "validate_environment",
    "validate_environments",
]
