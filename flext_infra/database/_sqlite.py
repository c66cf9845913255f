"""sqlite3 connections that bind ``Decimal`` and ``datetime`` exactly, per connection.

``sqlite3.register_adapter`` would do this process-wide, changing behaviour
for every other sqlite3 user in the process (and Python 3.12 deprecates the
default datetime adapters). Instead our connections use a connection and
cursor subclass that converts parameters on the way in:

- ``Decimal`` becomes its exact decimal string (never a float);
- ``datetime`` becomes ISO 8601 with a space separator, keeping microseconds
  and the UTC offset, a format SQLite's date functions read;
- ``date`` and ``time`` become ISO 8601.

Values read back are text; ``Decimal(text)`` and ``datetime.fromisoformat``
return the original values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


def _datetime(value: datetime) -> str:
    return value.isoformat(" ")


_ADAPTERS: dict[type, Callable[[Any], Any]] = {
    Decimal: str,
    datetime: _datetime,
    date: date.isoformat,
    time: time.isoformat,
}


#: Types sqlite3 binds natively: checked first because they are nearly every value.
_NATIVE = frozenset({str, int, float, bytes, bool, type(None)})


def adapt_sqlite_value(value: Any) -> Any:
    """The value sqlite3 should store for ``value`` (Decimal/datetime/date/time as text)."""
    cls = type(value)
    if cls in _NATIVE:
        return value
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        for kind, fn in _ADAPTERS.items():  # subclasses (e.g. pendulum.DateTime)
            if isinstance(value, kind):
                return fn(value)
        return value
    return adapter(value)


_KNOWN = _NATIVE | frozenset(_ADAPTERS)


def _adapt_params(params: Any) -> Any:
    # Hot path of executemany: the set checks run in C, so rows of native values
    # pass untouched and rows of known types take one comprehension, no call per value.
    if isinstance(params, tuple | list):
        if _NATIVE.issuperset(map(type, params)):
            return params
        if _KNOWN.issuperset(map(type, params)):
            get = _ADAPTERS.get
            return tuple([v if (f := get(type(v))) is None else f(v) for v in params])
        return tuple(map(adapt_sqlite_value, params))
    if isinstance(params, Mapping):
        return {k: adapt_sqlite_value(v) for k, v in params.items()}
    return params


class AdaptingCursor(sqlite3.Cursor):
    """A cursor that adapts Decimal/datetime parameters (see the module docs)."""

    def execute(self, sql: str, parameters: Any = (), /) -> AdaptingCursor:
        super().execute(sql, _adapt_params(parameters))
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> AdaptingCursor:
        super().executemany(sql, map(_adapt_params, seq_of_parameters))
        return self


class AdaptingConnection(sqlite3.Connection):
    """A connection whose cursors (and shortcut ``execute``) adapt parameters."""

    def cursor(self, factory: Any = AdaptingCursor) -> Any:
        return super().cursor(factory)

    # Connection.execute/executemany in C bypass a Python cursor() override's
    # execute, so route them through our cursor explicitly.
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        return self.cursor().executemany(sql, parameters)
