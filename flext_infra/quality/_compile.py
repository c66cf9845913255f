"""Rules compiled once per stream into plain closures.

Per-record jsonschema validation is the SDK's slowest step; here the schema
and the configured rules become, once per stream, a list of
``(field, getter, required, not_null, checks)`` entries. Checking a record is a
loop over that list with no allocation unless something fails.

``0``, ``False`` and ``""`` are values: only a missing key is "missing" and
only ``None`` is "null". No check here ever tests truthiness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flext_infra.quality._config import FieldRules, StreamRules

MISSING: Any = object()

#: A check returns a reason when the value fails, ``None`` when it passes.
Check = Callable[[Any], "str | None"]
Getter = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Failure:
    """One rule one record broke."""

    field: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """Everything checked on one field."""

    field: str
    get: Getter
    #: The plain key when the field is not a dotted path (read with ``dict.get``).
    key: str | None
    required: bool
    not_null: bool
    checks: tuple[tuple[str, Check], ...]


def _getter(name: str) -> Getter:
    if "." not in name:

        def get(record: Mapping[str, Any]) -> Any:
            return record.get(name, MISSING)

        return get
    parts = name.split(".")

    def get_nested(record: Mapping[str, Any]) -> Any:
        # An exact key wins over a path: a field may itself contain a dot.
        if name in record:
            return record[name]
        value: Any = record
        for part in parts:
            if not isinstance(value, Mapping):
                return MISSING
            value = value.get(part, MISSING)
            if value is MISSING:
                return MISSING
        return value

    return get_nested


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    # 3.0 is an integer in JSON schema; NaN and infinities are not.
    if isinstance(v, float):
        return math.isfinite(v) and v.is_integer()
    if isinstance(v, Decimal):
        return v.is_finite() and v == v.to_integral_value()
    return False


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list | tuple),
}


#: Exact types that satisfy each JSON type without further thought (the fast path).
_EXACT: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def type_check(types: Sequence[str]) -> Check | None:
    """A check that the value is one of the JSON-schema ``types`` (``null`` excluded)."""
    names = [t for t in types if t != "null"]
    if not names or any(t not in _JSON_TYPES for t in names):
        return None  # no type, or an unknown type name: do not guess
    tests = [_JSON_TYPES[t] for t in names]
    exact = frozenset(e for t in names for e in _EXACT[t])
    expected = "/".join(names)

    def check(value: Any) -> str | None:
        if type(value) in exact:
            return None
        for test in tests:
            if test(value):
                return None
        return f"expected {expected}, got {type(value).__name__} {_short(value)}"

    return check


def _as_number(value: Any) -> float | Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def range_check(low: float | None, high: float | None) -> Check:
    """min <= value <= max for numbers (and numeric strings)."""
    low_d = Decimal(str(low)) if low is not None else None
    high_d = Decimal(str(high)) if high is not None else None
    low_f = float(low) if low is not None else -math.inf
    high_f = float(high) if high is not None else math.inf

    def judge(n: float | Decimal, value: Any) -> str | None:
        if low_d is not None and n < low_d:
            return f"{_short(value)} is below the minimum {low}"
        if high_d is not None and n > high_d:
            return f"{_short(value)} is above the maximum {high}"
        return None

    def check(value: Any) -> str | None:
        kind = type(value)
        if kind is int or kind is float:
            # Fast path; NaN fails both comparisons and is caught below.
            if low_f <= value <= high_f:
                return None
            if kind is float and not math.isfinite(value):
                return f"{_short(value)} is outside every range"
            return judge(Decimal(str(value)) if kind is float else value, value)
        number = _as_number(value)
        if number is None:
            return f"{_short(value)} is not a number"
        n = Decimal(str(number)) if isinstance(number, float) else number
        if not n.is_finite() if isinstance(n, Decimal) else not math.isfinite(n):
            return f"{_short(value)} is outside every range"
        return judge(n, value)

    return check


def enum_check(allowed: Sequence[Any]) -> Check:
    """The value is one of ``allowed``. ``True`` never matches ``1`` nor ``0`` ``False``."""
    # Key by (type, value) so that bool and int stay distinct, as JSON keeps them.
    keys = {(type(v) is bool, v) for v in allowed}
    shown = ", ".join(_short(v) for v in list(allowed)[:10])

    def check(value: Any) -> str | None:
        try:
            if (type(value) is bool, value) in keys:
                return None
        except TypeError:  # unhashable (a dict or list) is never in the list
            pass
        return f"{_short(value)} is not one of [{shown}]"

    return check


def regex_check(pattern: str) -> Check:
    """The whole string representation of the value matches ``pattern``."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        text = value if isinstance(value, str) else str(value)
        if compiled.fullmatch(text) is None:
            return f"{_short(value)} does not match /{pattern}/"
        return None

    return check


def max_length_check(limit: int) -> Check:
    """Strings, lists and objects of at most ``limit`` characters/items."""

    def check(value: Any) -> str | None:
        if type(value) is str or isinstance(value, str | list | tuple | Mapping):
            if len(value) > limit:
                return f"length {len(value)} exceeds max_length {limit}"
            return None
        text = str(value)
        if len(text) > limit:
            return f"length {len(text)} exceeds max_length {limit}"
        return None

    return check


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from an ISO-8601 string or datetime (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def timestamp_check(max_future_s: float | None, now: Callable[[], datetime]) -> Check:
    """The value is a timestamp, and not further in the future than ``max_future_s``."""

    def check(value: Any) -> str | None:
        parsed = parse_timestamp(value)
        if parsed is None:
            return f"{_short(value)} is not an ISO-8601 timestamp"
        if max_future_s is not None:
            ahead = (parsed - now()).total_seconds()
            if ahead > max_future_s:
                return f"{_short(value)} is {ahead:.0f}s in the future"
        return None

    return check


def _schema_types(prop: Mapping[str, Any]) -> list[str] | None:
    declared = prop.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        return list(declared)
    return None


@dataclass(frozen=True)
class CompiledStream:
    """A stream's rules, ready to check records.

    Attributes:
        stream: The stream name.
        key_properties: The primary key used for uniqueness and reject keys.
        fields: One entry per checked field.
        unique_key: Check key uniqueness within each batch.
        freshness_field: Timestamp field whose newest value must be recent.
        max_age_s: How old that newest value may be.
    """

    stream: str
    key_properties: tuple[str, ...]
    fields: tuple[FieldCheck, ...]
    unique_key: bool
    freshness_field: str | None
    max_age_s: float | None

    def check(self, record: Mapping[str, Any]) -> list[Failure] | None:
        """Every failure of ``record``, or ``None`` when it passes (the fast path)."""
        failures: list[Failure] | None = None
        get = record.get
        for fc in self.fields:
            key = fc.key
            value = get(key, MISSING) if key is not None else fc.get(record)
            if value is MISSING:
                if fc.required:
                    failures = failures or []
                    failures.append(Failure(fc.field, "required", f"{fc.field} is missing"))
                continue
            if value is None:
                if fc.not_null:
                    failures = failures or []
                    failures.append(Failure(fc.field, "not_null", f"{fc.field} is null"))
                continue
            for rule, fn in fc.checks:
                reason = fn(value)
                if reason is not None:
                    failures = failures or []
                    failures.append(Failure(fc.field, rule, f"{fc.field}: {reason}"))
                    break  # one failure per field is enough to explain it
        return failures


def compile_stream(
    stream: str,
    rules: StreamRules,
    *,
    schema: Mapping[str, Any] | None = None,
    key_properties: Sequence[str] = (),
    replication_key: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CompiledStream:
    """Merge the schema's constraints with the configured rules and compile them.

    From the schema: ``required``, non-nullable ``type`` (not_null), the JSON
    type, ``enum``, ``pattern``, ``maxLength``, ``minimum``/``maximum``.
    Configured rules add to (and for the same constraint override) the schema's.
    Key properties are always required and not null.
    """
    keys = tuple(rules.key_properties if rules.key_properties is not None else key_properties)
    props: Mapping[str, Any] = (schema or {}).get("properties") or {}
    schema_required = set((schema or {}).get("required") or ())
    configured = rules.field_rules()
    fresh = rules.freshness
    fresh_field = (fresh.field or replication_key) if fresh is not None else None

    names: list[str] = []
    for name in [*keys, *props, *configured, *([fresh_field] if fresh_field else [])]:
        if name not in names:
            names.append(name)

    compiled: list[FieldCheck] = []
    for name in names:
        prop: Mapping[str, Any] = props.get(name) or {}
        cfg = configured.get(name, FieldRules())
        types = _schema_types(prop)
        required = cfg.required or name in schema_required or name in keys
        not_null = cfg.not_null or name in keys or (types is not None and "null" not in types)
        checks: list[tuple[str, Check]] = []
        if types is not None and (tc := type_check(types)) is not None:
            checks.append(("type", tc))
        low = cfg.min if cfg.min is not None else prop.get("minimum")
        high = cfg.max if cfg.max is not None else prop.get("maximum")
        if low is not None or high is not None:
            checks.append(("range", range_check(low, high)))
        allowed = cfg.enum if cfg.enum is not None else prop.get("enum")
        if allowed:
            checks.append(("enum", enum_check([v for v in allowed if v is not None])))
        pattern = cfg.regex if cfg.regex is not None else prop.get("pattern")
        if pattern:
            checks.append(("regex", regex_check(pattern)))
        limit = cfg.max_length if cfg.max_length is not None else prop.get("maxLength")
        if limit is not None:
            checks.append(("max_length", max_length_check(int(limit))))
        if name == fresh_field and fresh is not None:
            checks.append(("freshness", timestamp_check(fresh.max_future, now)))
        if required or not_null or checks:
            key = None if "." in name else name
            compiled.append(FieldCheck(name, _getter(name), key, required, not_null, tuple(checks)))
    return CompiledStream(
        stream=stream,
        key_properties=keys,
        fields=tuple(compiled),
        unique_key=rules.unique_key,
        freshness_field=fresh_field,
        max_age_s=fresh.max_age if fresh is not None else None,
    )
