"""Identifier normalisation: byte-length safe, stable hash shortening, collision checks.

One :class:`IdentifierPolicy` per dialect says how long a name may be (in
bytes, since Oracle counts bytes), which case unquoted names fold to, and which
words are reserved. :meth:`IdentifierPolicy.column_names` maps a stream's field
names to column names and refuses two fields that would share a column.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.sql.elements import quoted_name

from target_flext_oracle._errors import NameCollisionError

# Separators that become "_" (the SDK conformer's behaviour, kept so names match peers).
_SEPARATORS = re.compile(r"[\s.\-/]+")
# Anything not a (unicode) word character is dropped.
_NON_WORD = re.compile(r"[^\w]", re.UNICODE)
_SIMPLE = re.compile(r"^[a-z][a-z0-9_$#]*$")
_HASH_LEN = 8


@dataclass(frozen=True)
class IdentifierPolicy:
    """How one database family spells identifiers.

    Attributes:
        max_bytes: Longest identifier in UTF-8 bytes (Oracle: 30 before 12.2, else 128).
        fold_upper: Unquoted names fold to upper case (Oracle) rather than lower.
        reserved: Upper-case reserved words that must be quoted.
        quote_leading_underscore: Names starting with ``_`` must be quoted (Oracle).
    """

    max_bytes: int
    fold_upper: bool = False
    reserved: frozenset[str] = field(default_factory=frozenset)
    quote_leading_underscore: bool = False

    def normalize(self, name: str) -> str:
        """The physical name for ``name`` (lower case; see :meth:`sql_name` for quoting).

        Unicode letters are kept (NFC), separators become ``_``, other symbols are
        dropped, a leading digit gets a ``_`` prefix, and a name longer than
        :attr:`max_bytes` is cut on a character boundary and suffixed with a
        stable hash of the original so two long names sharing a prefix differ.
        """
        text = unicodedata.normalize("NFC", name).strip()
        text = _SEPARATORS.sub("_", text)
        text = _NON_WORD.sub("", text).lower()
        if not text:
            text = "_" + _digest(name)
        if text[0].isdigit():
            text = "_" + text
        if len(text.encode()) > self.max_bytes:
            text = _shorten(text, name, self.max_bytes)
        return text

    def needs_quotes(self, physical: str) -> bool:
        """True if the (lower-case) physical name must be quoted in SQL."""
        if not _SIMPLE.match(physical):
            return True
        return physical.upper() in self.reserved

    def sql_name(self, physical: str) -> str:
        """The name to hand to SQLAlchemy so it renders exactly as intended.

        On upper-folding databases a name needing quotes is passed as an upper-case
        :class:`~sqlalchemy.sql.elements.quoted_name`, so ``date`` becomes
        ``"DATE"`` (the same column an unquoted ``date`` would mean), not the
        case-sensitive ``"date"``.
        """
        if self.fold_upper and self.needs_quotes(physical):
            return quoted_name(physical.upper(), quote=True)
        return physical

    def column_names(self, fields: Iterable[str]) -> dict[str, str]:
        """Map every field to its column name.

        Raises:
            NameCollisionError: when two fields normalise to the same column.
        """
        mapping: dict[str, str] = {}
        owners: dict[str, str] = {}
        for name in fields:
            column = self.normalize(name)
            if column in owners:
                raise NameCollisionError(
                    f"fields {owners[column]!r} and {name!r} both map to column {column!r}; "
                    "rename one upstream or with a stream map"
                )
            owners[column] = name
            mapping[name] = column
        return mapping


def _digest(original: str) -> str:
    return hashlib.sha1(original.encode(), usedforsecurity=False).hexdigest()[:_HASH_LEN]


def _shorten(text: str, original: str, max_bytes: int) -> str:
    budget = max_bytes - _HASH_LEN - 1
    cut = text.encode()[:budget].decode(errors="ignore")
    return f"{cut}_{_digest(original)}"
