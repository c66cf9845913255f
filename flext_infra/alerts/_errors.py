"""Alerting errors."""

from __future__ import annotations

from flext_infra._errors import FlextInfraError


class AlertError(FlextInfraError):
    """Root of the alerting errors."""


class DeliveryError(AlertError):
    """One delivery attempt on one channel failed.

    Attributes:
        retriable: Whether trying again may help (network failure, 429, 5xx).
    """

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable
