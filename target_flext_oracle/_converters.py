"""Record time: typed converters that validate while converting, compiled once per stream.

Records are converted field by field with precompiled functions instead of
per-record jsonschema validation: the conversion *is* the validation, and a
value that cannot be converted raises :class:`Reject` with the field and the
reason. The logical types they convert to are decided at schema time
(:mod:`target_flext_oracle._logical`).

``0``, ``False`` and ``""`` are values; only a missing key or ``null`` is NULL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from target_flext_oracle._logical import Kind, LogicalType

_UTC = dt.UTC

_json_encoder = msgspec.json.Encoder(decimal_format="number")


class Reject(Exception):
    """A value could not be converted; the record goes to the reject store."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Converter = Callable[[Any], Any]


class NonFinite:
    """A ``NaN``/``Infinity`` token read from a line (not valid JSON, but seen in the wild)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def _bad(field: str, value: Any, expected: str) -> Reject:
    if isinstance(value, NonFinite):
        return Reject(field, f"{value.token} is not a storable value")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return Reject(field, f"expected {expected}, got {type(value).__name__} {shown}")


_DATETIME_ISOFORMAT = dt.datetime.isoformat
_DATE_ISOFORMAT = dt.date.isoformat


def utc_isoformat(value: dt.datetime) -> str:
    """ISO 8601 text of an aware datetime in UTC (``...+00:00``), for databases that parse it.

    At the ends of the calendar (year 1 east of UTC, year 9999 west of it) UTC is
    outside Python's range; the text then keeps its own offset.
    """
    try:
        return value.astimezone(_UTC).isoformat()
    except OverflowError:
        return value.isoformat()


#: ``v`` (parsed into the aware datetime ``d``) is exactly ``d.isoformat()``:
#: ``YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM`` with non-zero microseconds (isoformat drops
#: ``.000000``), or ``YYYY-MM-DDTHH:MM:SS+HH:MM``, and not ``-00:00`` (isoformat
#: writes ``+00:00``). fromisoformat accepted it, so the fixed positions leave no
#: other layout (no week dates, no ``,``, no ``Z``, no offset seconds).
_CANONICAL_TS = (
    '((len(v) == 25 or (len(v) == 32 and v[19] == "." and d.microsecond))'
    ' and v[10] == "T" and v[4] == "-" and v[7] == "-" and v[13] == ":" and v[16] == ":"'
    ' and v[-3] == ":" and (v[-6] == "+" or (v[-6] == "-" and v[-5:] != "00:00")))'
)

#: Kinds whose converters apply a ``finish`` step inline (no extra call frame).
FINISHABLE = frozenset({Kind.NUMBER, Kind.BOOLEAN, Kind.TIMESTAMP, Kind.DATE})


def make_converter(
    field: str,
    source: LogicalType,
    column: LogicalType,
    *,
    strict: bool,
    finish: Converter | None = None,
) -> Converter:
    """Compile the converter for one field.

    Args:
        field: The field name (for reject reasons).
        source: The logical type the stream's schema declares.
        column: The logical type of the column it lands in (may be wider, or text).
        strict: Reject values of the wrong JSON type instead of coercing them.
        finish: Turns the converted value into what the driver binds (e.g. ISO text
            for SQLite); applied inline for the kinds in :data:`FINISHABLE`.
    """
    if finish is not None and source.kind is column.kind and source.kind in FINISHABLE:
        return _parser(field, source, strict=strict, finish=finish)
    parse = _parser(field, source, strict=strict)
    if finish is not None:
        inner = make_converter(field, source, column, strict=strict)

        def finished(value: Any) -> Any:
            return finish(inner(value))

        return finished
    if column.kind is Kind.STRING and source.kind is not Kind.STRING:
        to_text = _text_of(source.kind)

        def as_text(value: Any) -> Any:
            return to_text(parse(value))

        return _bounded(field, as_text, column.length) if column.length else as_text
    if column.kind is Kind.TIMESTAMP and source.kind is Kind.DATE:

        def date_as_ts(value: Any) -> Any:
            d = parse(value)
            return dt.datetime(d.year, d.month, d.day, tzinfo=_UTC)

        return date_as_ts
    if source.kind is Kind.STRING and strict and source.length:
        return _bounded(field, parse, source.length)
    return parse


def _bounded(field: str, inner: Converter, length: int) -> Converter:
    def bounded(value: Any) -> Any:
        out = inner(value)
        if len(out) > length:
            raise Reject(field, f"string of {len(out)} characters exceeds maxLength {length}")
        return out

    return bounded


def _text_of(kind: Kind) -> Converter:
    if kind is Kind.BOOLEAN:
        return lambda v: "true" if v else "false"
    if kind in {Kind.TIMESTAMP, Kind.DATE}:
        return lambda v: v.isoformat()
    if kind is Kind.JSON:
        return lambda v: v
    return str


def _parser(
    field: str, lt: LogicalType, *, strict: bool, finish: Converter | None = None
) -> Converter:
    kind = lt.kind
    if kind is Kind.STRING:

        def string(value: Any) -> Any:
            if type(value) is not str:
                if strict or isinstance(value, dict | list):
                    raise _bad(field, value, "string")
                value = _text_of(Kind.BOOLEAN if isinstance(value, bool) else Kind.STRING)(value)
            if "\x00" in value:
                raise Reject(field, "string contains a NUL character (\\x00)")
            return value

        return string
    if kind is Kind.INTEGER:

        def integer(value: Any) -> Any:
            tv = type(value)
            if tv is int:
                return value
            if tv is Decimal or tv is float:
                if not math.isfinite(value):
                    raise Reject(field, f"{value} is not a storable number")
                if value == int(value):
                    return int(value)
                raise _bad(field, value, "integer")
            if tv is str and not strict:
                try:
                    return int(value)
                except ValueError:
                    pass
            raise _bad(field, value, "integer")

        return integer
    if kind is Kind.NUMBER:

        def number(value: Any) -> Any:
            tv = type(value)
            if tv is int:
                return value
            if tv is Decimal or tv is float:
                if not math.isfinite(value):
                    raise Reject(field, f"{value} is not a storable number (NaN/Infinity)")
                return value if finish is None else finish(value)
            # Decimal-preserving taps send numbers as strings; accept numeric text.
            if tv is str:
                try:
                    d = Decimal(value)
                except InvalidOperation:
                    raise _bad(field, value, "number") from None
                if not d.is_finite():
                    raise Reject(field, f"{value!r} is not a storable number (NaN/Infinity)")
                return d if finish is None else finish(d)
            raise _bad(field, value, "number")

        return number
    if kind is Kind.BOOLEAN:

        def boolean(value: Any) -> Any:
            if value is True or value is False:
                return value if finish is None else finish(value)
            if not strict and value in (0, 1, "true", "false", "0", "1"):
                out = value in (1, "true", "1")
                return out if finish is None else finish(out)
            raise _bad(field, value, "boolean")

        return boolean
    if kind is Kind.TIMESTAMP:

        def timestamp(value: Any) -> Any:
            if type(value) is str:
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    raise _bad(field, value, "ISO 8601 date-time") from None
            elif isinstance(value, dt.datetime):
                parsed = value
            else:
                raise _bad(field, value, "ISO 8601 date-time")
            # Naive timestamps are taken as UTC (Singer's convention).
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=_UTC)
            return parsed if finish is None else finish(parsed)

        return timestamp
    if kind is Kind.DATE:

        def date(value: Any) -> Any:
            d = _date(value)
            return d if finish is None else finish(d)

        def _date(value: Any) -> Any:
            if type(value) is str:
                try:
                    return dt.date.fromisoformat(value)
                except ValueError:
                    try:
                        full = dt.datetime.fromisoformat(value)
                    except ValueError:
                        raise _bad(field, value, "ISO 8601 date") from None
                    if full.time() != dt.time(0):
                        raise _bad(field, value, "ISO 8601 date") from None
                    return full.date()
            if isinstance(value, dt.date):
                return value
            raise _bad(field, value, "ISO 8601 date")

        return date
    if kind is Kind.TIME:

        def time(value: Any) -> Any:
            if type(value) is not str:
                raise _bad(field, value, "ISO 8601 time")
            try:
                dt.time.fromisoformat(value)
            except ValueError:
                raise _bad(field, value, "ISO 8601 time") from None
            return value

        return time

    def json_value(value: Any) -> Any:
        try:
            text = _json_encoder.encode(value).decode()
        except (TypeError, ValueError) as exc:
            raise Reject(field, f"not JSON-serialisable: {exc}") from None
        if "\\u0000" in text:
            raise Reject(field, "JSON value contains a NUL character (\\u0000)")
        return text

    return json_value


def _fast_paths(
    i: int, source: LogicalType, column: LogicalType, *, strict: bool, finish: Any
) -> list[str]:
    """``elif`` branches storing the common, already-valid values without a converter call.

    Every other value falls through to the converter, which validates it (and
    raises :class:`Reject` with the reason). ``X{i}`` is the finish step (or
    identity), ``C{i}`` the converter.
    """
    if source.kind is not column.kind:
        return []
    kind = source.kind
    out = "r{i} = X{i}({v})" if finish is not None else "r{i} = {v}"
    if kind is Kind.INTEGER and finish is None:
        return [f"    elif type(v) is int: r{i} = v"]
    if kind is Kind.BOOLEAN:
        return [f"    elif v is True or v is False: {out.format(i=i, v='v')}"]
    if kind is Kind.STRING and finish is None:
        guard = 'type(v) is str and "\\x00" not in v'
        if strict and source.length:
            guard += f" and len(v) <= {int(source.length)}"
        return [f"    elif {guard}: r{i} = v"]
    if kind is Kind.NUMBER:
        return [
            f"    elif type(v) is int: r{i} = v",
            f"    elif type(v) is Decimal and v.is_finite(): {out.format(i=i, v='v')}",
        ]
    if kind is Kind.TIMESTAMP:
        stored = out.format(i=i, v="d")
        if finish is _DATETIME_ISOFORMAT:
            # ISO text storage: text already in isoformat()'s exact layout (parsed, so
            # valid) is stored as it came instead of being formatted again.
            stored = f"r{i} = v if {_CANONICAL_TS} else X{i}(d)"
        elif finish is utc_isoformat:
            stored = f'r{i} = v if {_CANONICAL_TS} and v[26:] == "+00:00" else X{i}(d)'
        return [
            "    elif type(v) is str:",
            "        try:",
            "            d = datetime_fromiso(v)",
            "        except ValueError:",
            "            d = None",
            f"        if d is not None and d.tzinfo is not None: {stored}",
            f"        else: r{i} = C{i}(v)",
        ]
    if kind is Kind.JSON and finish is None:
        # The converter's encoding inline; anything unusual (NUL, unencodable) goes
        # to the converter, which raises the reject with its reason.
        return [
            "    elif type(v) is dict or type(v) is list:",
            "        try:",
            "            t = json_encode(v).decode()",
            "        except Exception:",
            "            t = None",
            # The generated code tests for the six characters \u0000 (msgspec's escape).
            f'        if t is not None and "\\\\u0000" not in t: r{i} = t',
            f"        else: r{i} = C{i}(v)",
        ]
    if kind is Kind.DATE:
        stored = out.format(i=i, v="d")
        if finish is _DATE_ISOFORMAT:
            # 10 characters that parsed with dashes here are already YYYY-MM-DD.
            stored = f'r{i} = v if v[4] == "-" and v[7] == "-" else X{i}(d)'
        return [
            "    elif type(v) is str and len(v) == 10:",
            "        try:",
            "            d = date_fromiso(v)",
            "        except ValueError:",
            "            d = None",
            f"        if d is not None: {stored}",
            f"        else: r{i} = C{i}(v)",
        ]
    return []


def compile_row_builder(
    fields: list[tuple[str, LogicalType, LogicalType, Converter, Any]],
    *,
    strict: bool,
    required: frozenset[str] = frozenset(),
) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Generate one function turning a record into a row tuple.

    Each field stores its common, already-valid values inline (an ``int`` for an
    integer column, a NUL-free ``str`` for a text column, an aware ISO timestamp,
    ...) and calls its converter only otherwise; the converter stays the single
    place that validates and explains rejects. Generated code instead of a loop
    over converters because the per-field call overhead dominates at 100k
    records/s; field names and callables are passed as variables, never pasted
    into the source.

    Args:
        fields: (field name, source type, column type, converter, finish) per column.
        strict: The converters' mode (decides whether maxLength is checked inline).
        required: Fields whose missing or null value rejects the record.
    """
    namespace: dict[str, Any] = {
        "Decimal": Decimal,
        "datetime_fromiso": dt.datetime.fromisoformat,
        "date_fromiso": dt.date.fromisoformat,
        "json_encode": _json_encoder.encode,
        "Reject": Reject,
        "MISSING": "required field is missing or null",
    }
    lines = ["def build(record):", "    get = record.get"]
    for i, (name, source, column, converter, finish) in enumerate(fields):
        namespace[f"F{i}"] = name
        namespace[f"C{i}"] = converter
        namespace[f"X{i}"] = finish
        lines.append(f"    v = get(F{i})")
        if name in required:
            lines.append(f"    if v is None: raise Reject(F{i}, MISSING)")
        else:
            lines.append(f"    if v is None: r{i} = None")
        lines += _fast_paths(i, source, column, strict=strict, finish=finish)
        lines.append(f"    else: r{i} = C{i}(v)")
    lines.append("    return (" + "".join(f"r{i}, " for i in range(len(fields))) + ")")
    exec(compile("\n".join(lines), "<row builder>", "exec"), namespace)  # noqa: S102
    build: Callable[[dict[str, Any]], tuple[Any, ...]] = namespace["build"]
    return build
