"""Time-window partitions of an incremental stream: ``[bookmark, run start)`` cut into windows.

Each window is read with its own serial cursor, filtered on both ends
(``<key>__gte=<start>&<key>__lt=<end>`` on LGF), so a record sitting exactly
on a boundary belongs to the window that starts there: read once, never
zero times, never twice. The upper end of the last window is the moment the
run started: a record modified during the run is read by the next one.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

__all__ = ["Window", "parse_window", "split_windows"]

_UNITS = {
    "second": 1,
    "sec": 1,
    "s": 1,
    "minute": 60,
    "min": 60,
    "m": 60,
    "hour": 3600,
    "h": 3600,
    "day": 86400,
    "d": 86400,
    "week": 604800,
    "w": 604800,
}
_PLAIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
#: More windows than this in one run is a setting mistake (a window too small for the span).
MAX_WINDOWS = 100_000


def parse_window(text: str) -> datetime.timedelta:
    """A window length from ``"1 day"``, ``"6 hours"``, ``"90 minutes"`` or ISO 8601 (``"PT6H"``).

    Raises:
        ValueError: the text is neither form, or the length is not positive.
    """
    value = text.strip()
    seconds: float | None = None
    plain = _PLAIN.match(value)
    if plain is not None:
        unit = _UNITS.get(plain.group(2).lower())
        if unit is not None:
            seconds = float(plain.group(1)) * unit
    else:
        iso = _ISO.match(value)
        if iso is not None and any(iso.groupdict().values()) and not value.upper().endswith("T"):
            parts = {k: float(v) for k, v in iso.groupdict().items() if v}
            seconds = (
                parts.get("w", 0) * 604800
                + parts.get("d", 0) * 86400
                + parts.get("h", 0) * 3600
                + parts.get("m", 0) * 60
                + parts.get("s", 0)
            )
    if seconds is None:
        raise ValueError(
            f"partition_window {text!r}: expected a length such as '1 day', '6 hours' or 'PT6H'"
        )
    if seconds <= 0:
        raise ValueError(f"partition_window {text!r}: must be longer than zero")
    return datetime.timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Window:
    """One time window ``[start, end)`` of a stream, and its place among the run's windows."""

    index: int
    start: datetime.datetime
    end: datetime.datetime

    def label(self, key: str) -> str:
        """``mod_ts [2024-01-01T00:00:00+00:00, 2024-01-02T00:00:00+00:00)``, for errors."""
        return f"{key} [{self.start.isoformat()}, {self.end.isoformat()})"


def split_windows(
    start: datetime.datetime, end: datetime.datetime, size: datetime.timedelta
) -> list[Window]:
    """``[start, end)`` in windows of ``size`` (the last one shorter); none when ``start >= end``.

    Raises:
        ValueError: more than :data:`MAX_WINDOWS` windows.
    """
    if start >= end:
        return []
    count = -(-(end - start) // size)
    if count > MAX_WINDOWS:
        raise ValueError(
            f"partition_window {size} cuts [{start.isoformat()}, {end.isoformat()}) into "
            f"{count} windows (at most {MAX_WINDOWS}); use a longer window"
        )
    windows = []
    lower = start
    for index in range(count):
        upper = min(end, start + size * (index + 1))
        windows.append(Window(index, lower, upper))
        lower = upper
    return windows
