"""Incremental reading: bookmark values, the API's filter, and how a page moves the bookmark.

The SDK keeps the bookmark (``replication_key_value``) in the stream's state;
these helpers decide what is sent to the API for it, which records the tap
drops itself when the API cannot filter, and which values a page of records
hands to the SDK's state, so that the page-at-a-time fast loop and the SDK's
per-record loop leave the same STATE.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = [
    "advance_bookmark",
    "as_floor",
    "field_value",
    "format_replication_value",
    "is_older",
    "newer_than",
    "parse_timestamp",
]


def field_value(record: Mapping[str, Any], field: str) -> Any:
    """``record[field]``, where a dotted ``field`` reaches into nested objects (``order_id.id``).

    Raises:
        KeyError: a part of the path is missing.
    """
    if field in record:
        return record[field]
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(field)
        value = value[part]
    return value


def parse_timestamp(value: Any) -> datetime.datetime | None:
    """An aware datetime from an ISO 8601 string or a datetime (naive means UTC); else ``None``."""
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def as_floor(value: Any) -> Any:
    """A bookmark as the value records are compared with: a datetime when it is a timestamp."""
    return parse_timestamp(value) or value


def is_older(value: Any, floor: Any) -> bool:
    """True when a record's key ``value`` is before the bookmark ``floor`` (see :func:`as_floor`).

    A record without a value is never older: it is kept.
    """
    if value is None:
        return False
    if isinstance(floor, datetime.datetime):
        moment = parse_timestamp(value)
        return moment is not None and moment < floor
    return bool(value < floor)


def newer_than(records: Iterable[dict[str, Any]], key: str, floor: Any) -> Iterator[dict[str, Any]]:
    """The ``records`` not older than ``floor`` (for APIs that cannot filter by the bookmark)."""
    for record in records:
        if not is_older(record.get(key), floor):
            yield record


def format_replication_value(value: Any, fmt: str, lookback_minutes: float = 0.0) -> Any:
    """Render a bookmark for the API's filter parameter.

    Timestamps (ISO 8601 strings) are moved back by ``lookback_minutes`` and
    rendered as ``iso8601``, ``date``, ``epoch``, ``epoch_ms`` or a strftime
    pattern. Anything else (an integer key, say) is sent as it is.
    """
    moment = parse_timestamp(value)
    if moment is None:
        return value
    if lookback_minutes:
        moment -= datetime.timedelta(minutes=lookback_minutes)
    if fmt == "iso8601":
        return moment.isoformat()
    if fmt == "date":
        return moment.date().isoformat()
    if fmt == "epoch":
        return int(moment.timestamp())
    if fmt == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if "%" in fmt:
        return moment.strftime(fmt)
    raise ValueError(f"unknown replication_value_format {fmt!r}")


def advance_bookmark(
    values: list[Any],
    key: str,
    *,
    is_sorted: bool,
    check_sorted: bool,
    increment: Callable[[dict[str, Any]], None],
) -> None:
    """Hand a page's key ``values`` to the SDK's state, as per-record increments would.

    ``increment`` is the stream's ``_increment_stream_state``. Sorted streams
    check the order (the SDK raises ``InvalidStreamSortException`` at the
    first value below its predecessor) and keep the last value; unsorted ones
    keep the page's maximum in the progress markers. One to three calls per
    page instead of one per record.
    """
    present = [v for v in values if v is not None]
    if not present:
        return
    if not is_sorted:
        increment({key: max(present)})
        return
    # The first value is checked against the bookmark of the previous page.
    increment({key: present[0]})
    if check_sorted:
        for previous, value in itertools.pairwise(present):
            if value < previous:
                increment({key: previous})
                increment({key: value})  # raises, as the SDK would
    increment({key: present[-1]})
