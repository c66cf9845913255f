"""The root of every error flext_infra raises, and configuration errors."""

from __future__ import annotations

from collections.abc import Sequence


class FlextInfraError(Exception):
    """Root of every exception raised by ``flext_infra``."""


class ConfigurationError(FlextInfraError, ValueError):
    """Configuration is missing or invalid. Fix the named setting and start again.

    Attributes:
        problems: One readable line per problem, each naming the variable.
    """

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            super().__init__(f"invalid configuration: {self.problems[0]}")
        else:
            super().__init__(
                "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)
            )
