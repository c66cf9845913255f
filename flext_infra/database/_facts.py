"""What the connected Oracle server can do, for the target's type decisions."""

from __future__ import annotations

import re
from dataclasses import dataclass


def parse_version(version: str | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """``"19.3.0.0.0"`` or ``(19, 3)`` as a tuple of ints.

    Raises:
        ValueError: the string holds no version number.
    """
    if isinstance(version, tuple | list):
        return tuple(int(part) for part in version)
    # A banner ("... Release 19.0.0.0.0 - Production") or a bare "19.3.0.0.0".
    dotted = re.search(r"\d+(?:\.\d+)+", version)
    if dotted is None:
        dotted = re.search(r"\d+", version)
    if dotted is None:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(p) for p in dotted.group(0).split("."))


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """Facts about one Oracle server, read once and cached by the manager.

    Attributes:
        version: The server version, e.g. ``(19, 3, 0, 0, 0)``.
        max_string_size_extended: True when ``MAX_STRING_SIZE = EXTENDED``
            (``VARCHAR2`` up to 32767 bytes instead of 4000).
    """

    version: tuple[int, ...]
    max_string_size_extended: bool = False

    @classmethod
    def for_version(
        cls,
        version: str | tuple[int, ...] | list[int],
        *,
        max_string_size_extended: bool = False,
    ) -> ServerFacts:
        """Facts for a given version (tests, SQL compilation without a server).

        Example:
            >>> ServerFacts.for_version((19, 0)).max_identifier_bytes
            128
        """
        return cls(parse_version(version), max_string_size_extended)

    @property
    def major(self) -> int:
        """The major version (19, 21, 23)."""
        return self.version[0] if self.version else 0

    @property
    def max_identifier_bytes(self) -> int:
        """128 bytes from 12.2 on, 30 before."""
        return 128 if self.version[:2] >= (12, 2) else 30

    @property
    def supports_json(self) -> bool:
        """A native ``JSON`` type (21c and later); earlier: ``CLOB`` with ``IS JSON``."""
        return self.major >= 21

    @property
    def supports_boolean(self) -> bool:
        """A SQL ``BOOLEAN`` type (23ai and later); earlier: ``NUMBER(1)``."""
        return self.major >= 23

    @property
    def max_varchar2_bytes(self) -> int:
        """32767 with ``MAX_STRING_SIZE = EXTENDED``, else 4000."""
        return 32767 if self.max_string_size_extended else 4000
