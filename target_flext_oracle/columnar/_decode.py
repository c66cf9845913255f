"""Decode a batch of RECORD lines into checked Arrow columns, with a reason for every reject.

One msgspec call decodes the whole batch into structs (``_layout``); the
structs are transposed into columns and each column becomes one Arrow array.
Checks run on whole columns (null in a key or a required field, NUL
characters, maxLength, decimals, date-times, dates, JSON text) and produce a
mask plus a reason per rejected row, the first failing check winning in field
order, as in the per-record row builder. Values a column check cannot settle
(a date-time with a ``Z``, a number in exponent notation, JSON with spaces)
go through the per-record converter one by one, so the stored value and the
reject reason are the per-record path's by construction.

Anything unexpected (msgspec refuses a value, a key is missing, Arrow cannot
cast a column) raises :class:`Refused`: the sink then runs the whole batch
through the per-record path, which isolates the bad records with their reasons.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from target_flext_oracle._converters import Reject, utc_isoformat
from target_flext_oracle._logical import Kind
from target_flext_oracle.columnar import _text
from target_flext_oracle.columnar._layout import ColumnSpec, line_struct, record_struct

_value_decoder = msgspec.json.Decoder(float_hook=Decimal)
_MAX_DECIMAL_DIGITS = 38
_NULL_RAW = pa.scalar(b"null", pa.large_binary())
_TS_UTC = pa.timestamp("us", "UTC")
#: The decimal type tried first (most numbers fit; the exact one is worked out otherwise).
_DECIMAL_FIRST_TRY = pa.decimal128(_MAX_DECIMAL_DIGITS, 9)
_RECORD_OF = attrgetter("record")


class Refused(Exception):
    """The columnar decoder cannot take this batch; it goes through the per-record path."""


@dataclass
class DecodedBatch:
    """A batch as checked columns.

    Attributes:
        table: The accepted rows; one column per planned column, named by it.
        rejects: ``(row index in the batch, field, reason)``, by ascending index.
        rows: How many RECORD lines the batch had.
    """

    table: pa.Table
    rejects: list[tuple[int, str, str]]
    rows: int
    #: Seconds spent decoding (msgspec, into columns) and checking (Arrow arrays, checks).
    decode_s: float = 0.0
    check_s: float = 0.0


class StreamDecoder:
    """Decodes one stream's batches.

    Args:
        specs: The stream's fields in load order.
        keys: Key fields (null rejects the record; missing refuses the batch).
        empty_key_reason: When set, a ``""`` key value is rejected with this reason
            (databases that store ``''`` as NULL).
        ignored: Fields outside the schema already reported: decoded and dropped.
    """

    def __init__(
        self,
        specs: Sequence[ColumnSpec],
        keys: Sequence[str],
        *,
        empty_key_reason: str | None = None,
        ignored: Sequence[str] = (),
    ) -> None:
        self.specs = list(specs)
        self.keys = list(keys)
        self._empty_key_reason = empty_key_reason
        self._key_index = [next(i for i, s in enumerate(specs) if s.field == k) for k in keys]
        record = record_struct(self.specs, self.keys, ignored)
        line: Any = line_struct(record)
        self._decode_lines = msgspec.json.Decoder(line).decode_lines
        #: One getter per planned field (the struct's ignored fields come after them).
        self._getters = [attrgetter(f"f{i}") for i in range(len(self.specs))]

    def decode(self, lines: Sequence[bytes]) -> DecodedBatch:
        """Decode and check one batch of RECORD lines.

        Raises:
            Refused: the batch must go through the per-record path.
        """
        started = time.perf_counter()
        try:
            # Newline-delimited: one join, no copy into a JSON array.
            messages = self._decode_lines(b"\n".join(lines))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise Refused(str(exc)) from None
        n = len(messages)
        if n != len(lines):  # decode_lines takes two values on one line
            raise Refused("a line holds more than one JSON value")
        # Column by column with C-level getters: no tuple per record (which also kept
        # the garbage collector busy), and ignored fields are never touched.
        records = list(map(_RECORD_OF, messages))
        columns = [list(map(get, records)) for get in self._getters]
        for i in self._key_index:
            if not self.specs[i].raw and msgspec.UNSET in columns[i]:
                raise Refused(f"a record is missing key property {self.specs[i].field!r}")
        decoded = time.perf_counter()
        reasons: dict[int, tuple[str, str]] = {}
        arrays: list[pa.Array] = []
        try:
            for spec, values in zip(self.specs, columns, strict=True):
                arrays.append(self._column(spec, values, n, reasons))
        except (
            pa.ArrowInvalid,
            pa.ArrowNotImplementedError,
            OverflowError,
            TypeError,
            ValueError,
            msgspec.DecodeError,
        ) as exc:
            raise Refused(f"{type(exc).__name__}: {exc}") from None
        for i in self._key_index:
            key = self.specs[i].field
            self._reject_where(pc.is_null(arrays[i]), key, "key is null", reasons, first=True)
        if self._empty_key_reason is not None:
            for i in self._key_index:
                if pa.types.is_string(arrays[i].type):
                    empty = pc.fill_null(pc.equal(arrays[i], ""), False)
                    self._reject_where(empty, self.specs[i].field, self._empty_key_reason, reasons)
        table = pa.table(arrays, names=[s.column for s in self.specs])
        if reasons:
            keep = [True] * n
            for index in reasons:
                keep[index] = False
            table = table.filter(pa.array(keep, pa.bool_()))
        rejects = [(i, field, reason) for i, (field, reason) in sorted(reasons.items())]
        return DecodedBatch(table, rejects, n, decoded - started, time.perf_counter() - decoded)

    # --- columns -----------------------------------------------------------------

    def _column(
        self, spec: ColumnSpec, values: Sequence[Any], n: int, reasons: dict[int, tuple[str, str]]
    ) -> pa.Array:
        kind = spec.kind
        if kind is Kind.INTEGER:
            arr = pa.array(values, pa.int64())
        elif kind is Kind.BOOLEAN:
            arr = pa.array(values, pa.bool_())
        else:
            arr = _raw_array(values, n)
            if spec.field in self.keys and pc.any(pc.equal(pc.binary_length(arr), 0)).as_py():
                raise Refused(f"a record is missing key property {spec.field!r}")
            arr = pc.if_else(_null_raw(arr), pa.scalar(None, pa.large_binary()), arr)
        if spec.required:
            missing = pc.is_null(arr)
            self._reject_where(missing, spec.field, "required field is missing or null", reasons)
        if kind is Kind.NUMBER:
            return self._number(spec, arr, reasons)
        if kind is Kind.JSON:
            return self._json(spec, arr, reasons)
        if kind is Kind.BOOLEAN:
            return pc.cast(arr, pa.int64()) if spec.form == "text" else arr
        if kind is Kind.INTEGER:
            return arr
        text, converted = self._unquote(spec, arr, reasons)
        if kind is Kind.STRING:
            # A JSON string holds no raw control character (msgspec refuses the line):
            # a NUL can only come from an escape, in a value _unquote converted.
            return self._string(spec, text, reasons, nul=converted).cast(pa.string())
        if kind is Kind.TIMESTAMP:
            return self._timestamp(spec, text, reasons)
        if kind is Kind.DATE:
            return self._date(spec, text, reasons)
        return self._replace(text, pc.is_valid(text), text, spec.convert, spec, reasons).cast(
            pa.string()
        )

    def _unquote(
        self, spec: ColumnSpec, raw: pa.Array, reasons: dict[int, tuple[str, str]]
    ) -> tuple[pa.Array, bool]:
        """JSON strings as text: sliced out where they have no escapes, else decoded.

        Returns the text and whether any value was decoded or converted.

        A value that is not a JSON string goes to the per-record converter, which
        rejects it (or, for text in lenient mode, coerces it).
        """
        text = pc.cast(raw, pa.large_string())  # UTF-8 is checked here
        plain = pc.and_(pc.starts_with(text, '"'), pc.invert(pc.match_substring(text, "\\")))
        inner = pc.utf8_slice_codeunits(text, 1, -1)
        slow = pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(plain, False)))

        def decoded(raw_value: bytes) -> str:
            value = _value_decoder.decode(raw_value)
            return value if type(value) is str else _as_text(spec.convert(value))

        text = self._replace(inner, slow, raw, decoded, spec, reasons)
        return text, text is not inner

    def _string(
        self,
        spec: ColumnSpec,
        arr: pa.Array,
        reasons: dict[int, tuple[str, str]],
        *,
        nul: bool = True,
    ) -> pa.Array:
        if nul:
            found = pc.fill_null(pc.match_substring(arr, "\x00"), False)
            self._reject_where(
                found, spec.field, "string contains a NUL character (\\x00)", reasons
            )
        if spec.max_length is not None:
            lengths = pc.utf8_length(arr)
            over = pc.fill_null(pc.greater(lengths, spec.max_length), False)
            for index in _indices(over):
                reasons.setdefault(
                    index,
                    (
                        spec.field,
                        f"string of {lengths[index].as_py()} characters exceeds "
                        f"maxLength {spec.max_length}",
                    ),
                )
        return arr

    def _number(
        self, spec: ColumnSpec, raw: pa.Array, reasons: dict[int, tuple[str, str]]
    ) -> pa.Array:
        text = pc.cast(raw, pa.large_string())
        if spec.form == "text":
            # What str(Decimal) gives the per-record path: plain texts are kept as they
            # came (the pattern proves them numbers), the rest convert one by one.
            plain = pc.and_(
                pc.match_substring_regex(text, _text.PLAIN_NUMBER),
                pc.invert(pc.match_substring_regex(text, _text.PLAIN_NUMBER_NOT)),
            )
            slow = pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(plain, False)))
            return self._replace(
                text,
                slow,
                raw,
                lambda v: _as_text(spec.convert(_value_decoder.decode(v))),
                spec,
                reasons,
            ).cast(pa.string())
        try:
            return pc.cast(text, _DECIMAL_FIRST_TRY)
        except pa.ArrowInvalid:
            pass
        # Decimal-preserving taps send numbers as JSON strings: parse the inside.
        quoted = pc.fill_null(pc.starts_with(text, '"'), False)
        if pc.any(quoted).as_py():
            text = pc.if_else(quoted, pc.utf8_slice_codeunits(text, 1, -1), text)
        return pc.cast(text, _decimal_type(text))  # every value must parse (else Refused)

    def _timestamp(
        self, spec: ColumnSpec, arr: pa.Array, reasons: dict[int, tuple[str, str]]
    ) -> pa.Array:
        if spec.form == "native":
            fast = pc.match_substring_regex(arr, _text.INSTANT)
            slow = pc.and_(pc.is_valid(arr), pc.invert(pc.fill_null(fast, False)))
            text = self._replace(
                arr, slow, arr, lambda v: utc_isoformat(spec.parse(v)), spec, reasons
            )
            return pc.cast(text, _TS_UTC)
        fast = pc.and_(
            pc.match_substring_regex(arr, _text.ISOFORMAT),
            pc.invert(pc.match_substring_regex(arr, _text.ISOFORMAT_NOT)),
        )
        slow = pc.and_(pc.is_valid(arr), pc.invert(pc.fill_null(fast, False)))
        text = self._replace(arr, slow, arr, spec.convert, spec, reasons)
        pc.cast(text, _TS_UTC)  # validates the texts kept as they came
        return text.cast(pa.string())

    def _date(
        self, spec: ColumnSpec, arr: pa.Array, reasons: dict[int, tuple[str, str]]
    ) -> pa.Array:
        fast = pc.match_substring_regex(arr, _text.DATE)
        slow = pc.and_(pc.is_valid(arr), pc.invert(pc.fill_null(fast, False)))
        if spec.form == "native":
            text = self._replace(arr, slow, arr, lambda v: spec.parse(v).isoformat(), spec, reasons)
            return pc.cast(text, pa.date32())
        text = self._replace(arr, slow, arr, spec.convert, spec, reasons)
        pc.cast(text, pa.date32())  # validates the texts kept as they came
        return text.cast(pa.string())

    def _json(
        self, spec: ColumnSpec, raw: pa.Array, reasons: dict[int, tuple[str, str]]
    ) -> pa.Array:
        text = pc.cast(raw, pa.large_string())
        if spec.form == "text":
            maybe = pc.fill_null(pc.match_substring_regex(text, _text.JSON_MAYBE_CHANGED), False)
            text = self._replace(
                text, maybe, raw, lambda v: spec.convert(_value_decoder.decode(v)), spec, reasons
            )
        nul = pc.fill_null(pc.match_substring(text, "\\u0000"), False)
        self._reject_where(
            nul, spec.field, "JSON value contains a NUL character (\\u0000)", reasons
        )
        return text

    # --- helpers -------------------------------------------------------------------

    def _replace(
        self,
        text: pa.Array,
        mask: pa.Array,
        source: pa.Array,
        convert: Callable[[Any], Any],
        spec: ColumnSpec,
        reasons: dict[int, tuple[str, str]],
    ) -> pa.Array:
        """``text`` with the masked rows replaced by ``convert(source value)`` (or rejected)."""
        indices = _indices(mask)
        if not indices:
            return text
        replaced: list[str | None] = []
        for index in indices:
            value = source[index].as_py()
            try:
                replaced.append(convert(value))
            except Reject as rej:
                reasons.setdefault(index, (rej.field, rej.reason))
                replaced.append(None)
        return pc.replace_with_mask(text, mask, pa.array(replaced, text.type))

    @staticmethod
    def _reject_where(
        mask: pa.Array,
        field: str,
        reason: str,
        reasons: dict[int, tuple[str, str]],
        *,
        first: bool = False,
    ) -> None:
        for index in _indices(mask):
            if first:
                reasons[index] = (field, reason)
            else:
                reasons.setdefault(index, (field, reason))


def _indices(mask: pa.Array) -> list[int]:
    if not pc.any(mask).as_py():
        return []
    return [int(i) for i in pc.indices_nonzero(mask).to_pylist()]


def _raw_array(values: Sequence[Any], n: int) -> pa.Array:
    """Raw JSON texts as one binary array, without a bytes object per value.

    The texts are joined with newlines and split again in Arrow: a JSON value
    taken from one input line never holds a raw newline. Missing values are empty.
    """
    joined = pa.array([b"\n".join(values)], pa.large_binary())
    arr = pc.split_pattern(joined, b"\n").values
    if len(arr) != n:  # pragma: no cover - a newline inside a value would show here
        raise Refused("a JSON value spans lines")
    return arr


def _null_raw(arr: pa.Array) -> pa.Array:
    """Missing (empty) or JSON ``null``."""
    return pc.or_(pc.equal(pc.binary_length(arr), 0), pc.equal(arr, _NULL_RAW))


def _decimal_type(text: pa.Array) -> pa.DataType:
    """decimal128 wide enough for every value (by digits before and after the point)."""
    point = pc.find_substring(text, ".")
    length = pc.utf8_length(text)
    has_point = pc.greater_equal(point, 0)
    frac = pc.max(pc.if_else(has_point, pc.subtract(pc.subtract(length, point), 1), 0)).as_py() or 0
    whole = pc.max(pc.if_else(has_point, point, length)).as_py() or 1
    if pc.any(pc.fill_null(pc.match_substring_regex(text, "[eE]"), False)).as_py():
        frac = min(frac + 12, _MAX_DECIMAL_DIGITS - 1)
        whole = max(whole, 1)
    if whole + frac > _MAX_DECIMAL_DIGITS:
        raise Refused("a number has more than 38 digits")
    return pa.decimal128(_MAX_DECIMAL_DIGITS, frac)


def _as_text(value: Any) -> str:
    return value if type(value) is str else str(value)
