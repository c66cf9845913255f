"""Which raw texts the per-record converters would store unchanged: regular expressions.

The columnar path keeps a value's text when the per-record path would store
exactly that text, and hands every other value to the per-record converter.
Each pattern below therefore errs on the side of "not sure": a value it does
not match is converted in Python, one value at a time, with the same function
the per-record path uses. ``tests/target/test_columnar_text.py`` checks each
pattern against the converters with generated values.

The patterns run through Arrow's RE2 engine (``pyarrow.compute``), one call per
column and batch.
"""

from __future__ import annotations

_YEAR = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_DATE = _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_OFFSET = r"[+-]([01][0-9]|2[0-3]):[0-5][0-9]"

#: A date-time Arrow parses to the same instant as ``datetime.fromisoformat``
#: (Arrow refuses the day-of-month overflows Python refuses, and both refuse the
#: rest by the ranges here).
INSTANT = "^" + _DATE + "T" + _TIME + r"(\.[0-9]{1,6})?(Z|" + _OFFSET + ")$"

#: A date-time exactly in ``datetime.isoformat()``'s layout: what the per-record
#: path stores as it came (``_converters._CANONICAL_TS``). Two more conditions
#: are checked apart: no ``.000000`` (isoformat drops it) and no ``-00:00``.
ISOFORMAT = "^" + _DATE + "T" + _TIME + r"(\.[0-9]{6})?" + _OFFSET + "$"
ISOFORMAT_NOT = r"\.000000[+-]|-00:00$"

#: A ``YYYY-MM-DD`` date (stored as it came; Arrow and Python agree on validity).
DATE = "^" + _DATE + "$"

#: A number whose ``str(Decimal(text))`` is the text itself: plain notation,
#: no exponent, no leading zeros, and not a value ``Decimal`` writes in
#: scientific notation (``0.0000001`` is ``1E-7``) or as another integer (``-0``).
PLAIN_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
PLAIN_NUMBER_NOT = r"^-?0\.0{6}|^-0$"

#: JSON text that decoding and re-encoding (msgspec, numbers as ``Decimal``)
#: might change: whitespace outside or inside strings, any ``\u`` or ``\/``
#: escape, an exponent, ``-0``, or a small decimal written out in full.
JSON_MAYBE_CHANGED = r"[ \t\r\n]|\\u|\\/|[0-9.][eE]|[^0-9.]-0[^.0-9]|^-0$|[^0-9]0\.0{6}|^0\.0{6}"
