"""Page decoding: a response body becomes a :class:`~tap_flext_api.pagination.Page`.

Records come out in one of three forms (``Page.form``):

- ``"decoded"``: dicts, numbers as ``Decimal`` (what the SDK's loop needs);
- ``"raw"``: each record's JSON text (``msgspec.Raw``), written to its RECORD
  line as it is, when the schema is trusted or a check proves conformance
  would change nothing;
- ``"shaped"``: structs of raw field values in the schema's order (a schema
  the records match exactly, checked while decoding).

A :class:`PageDecoder` is built once per stream from what decides the form:
the records path, the schema when records must conform to it, the
replication key and the JSONPaths the paginator reads. It holds no state
between pages, so worker threads can share it.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import GenericAlias
from typing import Any

import msgspec

from tap_flext_api._conform import record_shape
from tap_flext_api._jsonpath import compile_path, simple_keys
from tap_flext_api.pagination import Page, PageForm

__all__ = ["DECODER", "OnePassReader", "PageDecoder"]

#: Decodes any JSON, numbers with a fraction as exact ``Decimal``.
DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_raw_dict = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _list_of(item: Any) -> Any:
    """``list[item]`` for an item type built at run time (a struct made from the schema)."""
    return GenericAlias(list, (item,))


def _typed_decoder(kind: Any) -> Any:
    """A decoder for ``kind``; untyped values decode as :data:`DECODER` does (exact decimals)."""
    return msgspec.json.Decoder(kind, float_hook=decimal.Decimal)


@dataclass(frozen=True, slots=True)
class OnePassReader:
    """A one-pass page decoder (see :attr:`PageDecoder.one_pass`).

    Attributes:
        decoder: Decodes a whole body.
        records_key: The body key holding the records; ``None`` when the body
            is the records array.
        body_fields: ``(struct attribute, body key)`` of each key the paginator reads.
        form: ``"raw"`` or ``"shaped"``.
    """

    decoder: Any
    records_key: str | None
    body_fields: tuple[tuple[str, str], ...]
    form: PageForm


class PageDecoder:
    """Decodes one stream's pages.

    Args:
        records_path: JSONPath to the records in a body.
        schema: The schema records must conform to (``ROOT_ONLY``), or ``None``
            when the schema is trusted and records go out as the API sent them.
        replication_key: The key whose values move the bookmark, if any.
        body_paths: The JSONPaths the paginator reads from a body
            (:meth:`~tap_flext_api.pagination.Paginator.body_paths`).
    """

    def __init__(
        self,
        records_path: str,
        *,
        schema: Mapping[str, Any] | None,
        replication_key: str | None,
        body_paths: tuple[str, ...],
    ) -> None:
        self.schema = schema
        self.replication_key = replication_key
        self.body_paths = body_paths
        self.extract: Callable[[Any], list[Any]] = compile_path(records_path)
        #: The records path as plain keys (``()`` for the whole body), or ``None``.
        self.raw_keys = simple_keys(records_path)

    # ------------------------------------------------------------ what can go raw
    @cached_property
    def record_shape(self) -> tuple[Any, str | None] | None:
        """:func:`~tap_flext_api._conform.record_shape` of the schema; ``None`` when trusted."""
        if self.schema is None:
            return None
        return record_shape(dict(self.schema), self.replication_key)

    @cached_property
    def shape_decoder(self) -> Any:
        """A decoder accepting exactly the record arrays conformance would not change.

        ``None`` when no conformance applies (trusted schema); ``False`` when
        the schema cannot be expressed as a :attr:`record_shape`.
        """
        if self.schema is None:
            return None
        shape = self.record_shape
        return False if shape is None else msgspec.json.Decoder(_list_of(shape[0]))

    @cached_property
    def one_pass(self) -> OnePassReader | None:
        """One msgspec pass over a whole raw page: its records and the paginator's keys.

        Instead of splitting the body, then the records array, then checking the
        records (three passes), a struct typed from the records path, the
        paginator's body paths and the record shape reads a page at once. The
        records come out as raw slices (trusted schema) or as
        :attr:`record_shape` structs, written back field by field (``"shaped"``:
        each value keeps its JSON text, keys follow the schema's order).
        ``None`` when this cannot be set up: a records path deeper than one key,
        a paginator path that is not a plain key path, or a schema allowing
        properties a struct would drop.
        """
        keys = self.raw_keys
        if keys is None or len(keys) > 1:
            return None
        item: Any = msgspec.Raw
        form: PageForm = "raw"
        if self.schema is not None:
            shape = self.record_shape
            if shape is None or self.schema.get("additionalProperties"):
                return None  # a struct would drop the extra properties
            item, form = shape[0], "shaped"
        wanted: list[str] = []
        for path in self.body_paths:
            path_keys = simple_keys(path)
            if not path_keys:  # not a plain path, or the whole body
                return None
            wanted.append(path_keys[0])
        if not keys:  # the body is the records array
            if wanted:
                return None
            return OnePassReader(_typed_decoder(_list_of(item)), None, (), form)
        names = [name for name in dict.fromkeys(wanted) if name != keys[0]]
        if len(names) != len(set(wanted)):
            return None  # the paginator reads inside the records
        fields: list[tuple[str, Any, Any]] = [("records", _list_of(item) | None, None)]
        fields += [(f"b{index}", Any, None) for index in range(len(names))]
        rename = {"records": keys[0]} | {f"b{index}": name for index, name in enumerate(names)}
        body: Any = msgspec.defstruct("PageBody", fields, rename=rename, gc=False)
        body_fields = tuple((f"b{index}", name) for index, name in enumerate(names))
        return OnePassReader(_typed_decoder(body), keys[0], body_fields, form)

    @cached_property
    def key_reader(self) -> tuple[Any, str] | bool | None:
        """Decodes only the replication key of every record of an encoded array.

        ``(decoder, key)``; ``None`` without a replication key; ``False`` when
        the key is not a plain name (raw pages cannot then give its values).
        """
        key = self.replication_key
        if not key:
            return None
        if not key.isidentifier():
            return False
        struct: Any = msgspec.defstruct("ReplicationKey", [(key, Any, None)])
        return (msgspec.json.Decoder(list[struct]), key)

    # ------------------------------------------------------------ decoding
    def decode(
        self,
        url: str,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        raw: bool,
        extracted_at: str | None = None,
    ) -> Page:
        """Decode a response body into a :class:`Page`.

        In raw mode, and when the records path is a plain key path and the body
        has no raw newline (each record must fit on one Singer line), records
        keep their JSON text: no per-record decode or re-encode, and numbers
        keep their exact text. Where it can (see :attr:`one_pass`), one msgspec
        pass reads the records and the keys the paginator needs, and a page it
        refuses is decoded; otherwise the body is split, then the records array
        is checked. Anything else is decoded (numbers as ``Decimal``).

        Raises:
            msgspec.DecodeError: the body is not JSON.
            msgspec.ValidationError: the records are not where the path says.
        """

        def page(
            body: Any, records: list[Any], encoded: Any = None, form: PageForm = "decoded"
        ) -> Page:
            return Page(url, status, headers, body, content, records, encoded, form, extracted_at)

        if not content:
            return page(None, [])
        keys = self.raw_keys
        if not raw or keys is None or b"\n" in content or b"\r" in content:
            body = DECODER.decode(content)
            return page(body, self.extract(body) if body is not None else [])
        reader = self.one_pass
        if reader is not None:
            try:
                top = reader.decoder.decode(content)
            except msgspec.ValidationError:
                # A record conformance would change, or records that are not an
                # array: decoded (and conformed) like any page that cannot go raw.
                body = DECODER.decode(content)
                return page(body, self.extract(body))
            if reader.records_key is None:
                return page(top, top, None, reader.form)
            records = top.records or []
            body = {key: getattr(top, attr) for attr, key in reader.body_fields}
            body[reader.records_key] = records
            return page(body, records, None, reader.form)
        if not keys:
            encoded = content
            try:
                items = _raw_list.decode(content)
            except msgspec.ValidationError:  # one object, not an array
                items, encoded = [msgspec.Raw(content)], b"[" + content + b"]"
            if not self.conforms_as_is(encoded):
                body = DECODER.decode(content)
                return page(body, self.extract(body))
            return page(items, items, encoded, "raw")
        top = _raw_dict.decode(content)
        body = {k: DECODER.decode(v) for k, v in top.items() if k != keys[0]}
        node: Any = top.get(keys[0])
        for key in keys[1:]:
            if node is None:
                break
            inner = _raw_dict.decode(node)
            node = inner.get(key)
        if node is None or bytes(node) == b"null":
            body[keys[0]] = []
            return page(body, [])
        try:
            records = _raw_list.decode(node)
        except msgspec.ValidationError:  # a single object, not an array
            records = [node]
            node = b"[" + bytes(node) + b"]"
        if not self.conforms_as_is(node):
            full = DECODER.decode(content)
            return page(full, self.extract(full))
        body[keys[0]] = records
        return page(body, records, node, "raw")

    def conforms_as_is(self, encoded: Any) -> bool:
        """True when conformance would leave every record of the array unchanged.

        Trusted schemas need no check. Otherwise one msgspec pass over the
        array, typed from the schema, proves it: no property outside the
        schema (unless ``additionalProperties``), and only true/false/null in
        exclusively-boolean properties. Any other page is decoded and conformed.
        """
        shape = self.shape_decoder
        if shape is None:
            return True
        try:
            shape.decode(encoded)
        except msgspec.ValidationError:
            return False
        return True

    def page_key_values(self, page: Page) -> list[Any]:
        """The replication key's value in each record of ``page`` (``None`` where absent)."""
        key = self.replication_key
        if not key:
            return [None] * len(page.records)
        if page.form == "decoded":
            return [r.get(key) if isinstance(r, dict) else None for r in page.records]
        return self.key_values(page, page.records)

    def key_values(self, page: Page, records: list[Any]) -> list[Any]:
        """The replication key's value in each of ``records`` (held as ``page.form`` says).

        Only called when :attr:`key_reader` is a decoder.
        """
        reader = self.key_reader
        if not isinstance(reader, tuple):
            raise TypeError("key_values needs a replication key that is a plain name")
        decoder, name = reader
        if page.form == "decoded":
            return [r.get(name) for r in records]
        if page.form == "shaped":
            shape = self.record_shape
            attr = shape[1] if shape is not None else None
            if attr is None:  # the key is not in the schema, so not in any record
                return [None] * len(records)
            unset = msgspec.UNSET
            return [None if (v := getattr(r, attr)) is unset else v for r in records]
        encoded = page.encoded
        if encoded is None:
            encoded = b"[" + b",".join(records) + b"]"
        return [getattr(k, name) for k in decoder.decode(encoded)]
