"""What a stream needs from its tap: the typed settings, the HTTP client, the reject store.

Streams receive the SDK's ``Tap``; the tap class also derives from
:class:`StreamHost`, so a stream reaches these two through a declared
interface instead of importing the tap (which imports the streams).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flext_infra.http import FlextHttpClient
    from flext_infra.quality import RejectStore
    from tap_flext_api._settings import TapSettings

__all__ = ["StreamHost"]


class StreamHost(ABC):
    """The tap's side of the tap/stream contract."""

    @property
    @abstractmethod
    def settings(self) -> TapSettings:
        """The tap's typed settings."""

    @property
    @abstractmethod
    def http_client(self) -> FlextHttpClient:
        """The HTTP client every request goes through."""

    @property
    @abstractmethod
    def rejects(self) -> RejectStore:
        """The run's reject store (records a GraphQL error hit, under ``reject``)."""
