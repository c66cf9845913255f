"""Decoding GraphQL pages in one msgspec pass, records kept raw or shaped.

A GraphQL answer nests its records (``$.data.orders.edges[*].node``) and puts
what the tap needs beside them: ``pageInfo`` next to ``edges``, ``errors``
and ``extensions`` at the top. :class:`GraphqlPageDecoder` builds, from the
records path and those paths, one nested msgspec struct type that reads a
whole body at once: every record comes out as its JSON text (``msgspec.Raw``,
trusted schema) or as the stream's record shape (untrusted schema, proving
conformance would change nothing), and only the kept paths are decoded, so
GraphQL streams use the same fast loop and writer as REST streams. A page
the shape refuses, or a path the struct cannot express, is decoded in full
and its records extracted by JSONPath, exactly as for REST.

Records keep their place: a node GraphQL nulled (an error on a non-null
field) stays in the list as ``None``, so an error's path index still points
at its record; the stream drops or rejects those before writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import msgspec

from tap_flext_api._decode import DECODER, PageDecoder, _list_of, _typed_decoder
from tap_flext_api._jsonpath import simple_keys
from tap_flext_api.graphql._response import RecordLocator
from tap_flext_api.pagination import Page, PageForm

__all__ = ["GraphqlPageDecoder"]

#: Paths every GraphQL page keeps beside its records.
ALWAYS_KEPT = ("$.errors", "$.extensions")
_RECORDS = object()
_KEPT = object()
_NULL_RAW = msgspec.Raw(b"null")


class _Layout:
    """The nested struct type for one stream, and how to take a decoded body apart."""

    def __init__(self, tree: dict[str, Any], inside: tuple[str, ...], item: Any) -> None:
        self.tree = tree
        self.inside = inside
        self.item = item
        self.type = self._struct(tree, "GraphqlBody")

    def _struct(self, tree: dict[str, Any], name: str) -> Any:
        fields: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        for index, (key, child) in enumerate(tree.items()):
            attr = f"f{index}"
            rename[attr] = key
            if child is _KEPT:
                kind: Any = Any
            elif child is _RECORDS:
                element = self._element()
                if element is not msgspec.Raw:
                    element = element | None
                kind = _list_of(element) | None
            else:
                kind = self._struct(child, f"{name}_{index}") | None
            fields.append((attr, kind, None))
        return msgspec.defstruct(name, fields, rename=rename, gc=False)

    def _element(self) -> Any:
        """One item of the records list: the record itself, or objects around it."""
        kind: Any = self.item
        for depth, key in enumerate(reversed(self.inside)):
            wrapped = kind | None if kind is not msgspec.Raw else kind
            kind = msgspec.defstruct(
                f"GraphqlItem{depth}", [("f0", wrapped, None)], rename={"f0": key}, gc=False
            )
        return kind

    def unpack(self, top: Any) -> tuple[dict[str, Any], list[Any] | None]:
        """The kept paths as a plain body, and the records (``None``: no records list)."""
        found: list[list[Any] | None] = [None]
        body = self._unpack(top, self.tree, found)
        items = found[0]
        if items is None:
            return body, None
        records: list[Any] = items
        for _ in self.inside:  # edges[*].node: one wrapper per level
            records = [None if r is None else r.f0 for r in records]
        if self.item is msgspec.Raw:  # a Raw cannot be None: a nulled record is `null`
            records = [None if r is not None and r == _NULL_RAW else r for r in records]
        return body, records

    def _unpack(self, obj: Any, tree: dict[str, Any], found: list[list[Any] | None]) -> Any:
        out: dict[str, Any] = {}
        for index, (key, child) in enumerate(tree.items()):
            value = getattr(obj, f"f{index}")
            if child is _RECORDS:
                found[0] = value
                out[key] = value
            elif child is _KEPT or value is None:
                out[key] = value
            else:
                out[key] = self._unpack(value, child, found)
        return out


class GraphqlPageDecoder(PageDecoder):
    """Decodes one GraphQL stream's pages (see the module docstring).

    Args:
        records_path: JSONPath to the records (``$.data...``).
        schema: The schema records must conform to, or ``None`` when trusted.
        replication_key: The key whose values move the bookmark, if any.
        body_paths: The JSONPaths the paginator reads.
        kept_paths: More JSONPaths to keep (the cost budget's).
    """

    def __init__(
        self,
        records_path: str,
        *,
        schema: Mapping[str, Any] | None,
        replication_key: str | None,
        body_paths: tuple[str, ...],
        kept_paths: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            records_path,
            schema=schema,
            replication_key=replication_key,
            body_paths=(*body_paths, *ALWAYS_KEPT, *kept_paths),
        )
        self.locator = RecordLocator.compile(records_path)
        # The fast loop asks for plain keys; a GraphQL page goes raw through
        # :meth:`decode` whenever a layout can be built (None: never).
        self.raw_keys = () if self._layout_parts() is not None else None

    def _layout_parts(self) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        """The key tree (records marked) and the keys inside each item, or ``None``."""
        locator = self.locator
        if locator is None:
            return None
        pattern = ("data", *locator.pattern)
        star = pattern.index(None)
        outside = [k for k in pattern[:star] if k is not None]
        inside = tuple(k for k in pattern[star + 1 :] if k is not None)
        tree: dict[str, Any] = {}
        node = tree
        for key in outside[:-1]:
            node = node.setdefault(key, {})
        node[outside[-1]] = _RECORDS
        paths = [simple_keys(path) for path in self.body_paths]
        # Shorter paths first: a path inside one already kept whole is covered by it.
        for keys in sorted(paths, key=lambda k: -1 if k is None else len(k)):
            if not keys:
                return None  # not a plain path, or the whole body
            node = tree
            for key in keys[:-1]:
                child = node.setdefault(key, {})
                if child is _KEPT:
                    break  # kept whole already
                if not isinstance(child, dict):
                    return None  # inside the records
                node = child
            else:
                if isinstance(node.get(keys[-1]), dict) or node.get(keys[-1]) is _RECORDS:
                    return None  # a prefix of the records path: it cannot be kept whole
                node[keys[-1]] = _KEPT
        return tree, inside

    @cached_property
    def layout(self) -> _Layout | None:
        """The one-pass layout for raw pages, or ``None`` when there is none."""
        parts = self._layout_parts()
        if parts is None:
            return None
        item: Any = msgspec.Raw
        if self.schema is not None:
            shape = self.record_shape
            if shape is None or self.schema.get("additionalProperties"):
                return None  # a struct would drop the extra properties
            item = shape[0]
        return _Layout(parts[0], parts[1], item)

    @cached_property
    def _one_pass_decoder(self) -> Any:
        layout = self.layout
        return None if layout is None else _typed_decoder(layout.type)

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
        """Decode a GraphQL body into a :class:`Page` (records raw or shaped when possible).

        Raises:
            msgspec.DecodeError: the body is not JSON.
        """

        def page(body: Any, records: list[Any], form: PageForm = "decoded") -> Page:
            return Page(url, status, headers, body, content, records, None, form, extracted_at)

        if not content:
            return page(None, [])
        layout, decoder = self.layout, self._one_pass_decoder
        # A raw newline would split a RECORD line: such pages are decoded.
        if raw and decoder is not None and layout is not None and b"\n" not in content:
            try:
                body, records = layout.unpack(decoder.decode(content))
            except msgspec.ValidationError:
                pass  # a record the shape refuses, or a body of another shape
            else:
                form: PageForm = "raw" if layout.item is msgspec.Raw else "shaped"
                return page(body, records or [], form)
        body = DECODER.decode(content)
        return page(body, self.records_of(body))

    def container(self, body: Any) -> Any:
        """The list holding the records in ``body`` (``None`` when GraphQL nulled it)."""
        locator = self.locator
        if locator is None or not isinstance(body, Mapping):
            return None
        node: Any = body.get("data")
        for key in locator.pattern[: locator.pattern.index(None)]:
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node

    def records_of(self, body: Any) -> list[Any]:
        """Records of a decoded body, with nulled nodes kept in place (as ``None``)."""
        if not isinstance(body, Mapping):
            return []
        locator = self.locator
        if locator is None:
            return [r for r in self.extract(body) if r is not None]
        node = self.container(body)
        if not isinstance(node, list):
            return []
        inside = locator.pattern[locator.pattern.index(None) + 1 :]
        records = []
        for item in node:
            record = item
            for key in inside:
                record = record.get(key) if isinstance(record, Mapping) else None
            records.append(record)
        return records
