"""The four deployment environments."""

from __future__ import annotations

import os
from enum import StrEnum

_ALIASES = {"dev": "development", "prod": "production", "stage": "staging", "testing": "test"}


class Environment(StrEnum):
    """Where the code runs. Chosen by ``FLEXT_ENVIRONMENT``; development by default.

    The Meltano environment names ``dev`` and ``prod`` are accepted as aliases.
    """

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"
    TEST = "test"

    @classmethod
    def _missing_(cls, value: object) -> Environment | None:
        if isinstance(value, str):
            name = value.strip().lower()
            name = _ALIASES.get(name, name)
            for member in cls:
                if member.value == name:
                    return member
        return None

    @classmethod
    def current(cls) -> Environment:
        """The environment named by ``FLEXT_ENVIRONMENT``, or development."""
        return cls(os.environ.get("FLEXT_ENVIRONMENT") or cls.DEVELOPMENT)

    @property
    def is_deployed(self) -> bool:
        """True for staging and production, where stricter rules apply."""
        return self in (Environment.STAGING, Environment.PRODUCTION)
