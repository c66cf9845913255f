"""A fast Singer message reader: msgspec decoding, line numbers in every error.

The SDK's reader decodes with the stdlib and reports a bad line by its text.
This one decodes bytes with msgspec (numbers as exact ``Decimal``), counts
lines, and names the line number when a line is not a JSON object. ``NaN`` and
``Infinity`` tokens are not JSON; such a line is decoded again with the stdlib
so the record can be rejected with its reason instead of failing the run.

RECORD lines of streams that load columnar are not decoded here at all: a
line that starts ``{"type":"RECORD","stream":"<name>","record":`` (the layout
the Singer SDK and tap-flext-api write, compact or with spaces) goes to its
stream's route as raw bytes, and its batch is decoded at once later. Any other
layout is decoded here and reaches the sink as a dict.

Input is read in blocks of up to 1 MiB (``read1``: a pipe's bytes are taken as
soon as they arrive, as reading by lines did). A block whose complete lines are
all compact RECORD lines of one routed stream (one ``bytes.count`` proves it)
goes to that stream's bulk route as one list; in any other block, runs of such
lines still go in bulk and every other line is handled one by one, in order.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import IO, Any

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader

from target_flext_oracle._converters import NonFinite
from target_flext_oracle._errors import InputLineError

_decode_any = msgspec.json.Decoder(float_hook=Decimal).decode

#: Layouts of a RECORD line whose stream name and record can be found by position:
#: (what comes before the stream name, what follows it before the record).
_RECORD_LAYOUTS = (
    (b'{"type":"RECORD","stream":"', b'","record":'),
    (b'{"type": "RECORD", "stream": "', b'", "record": '),
)

_COMPACT_HEAD, _COMPACT_TAIL = _RECORD_LAYOUTS[0]
_COMPACT_START = len(_COMPACT_HEAD)

#: Takes one raw RECORD line of its stream and its line number.
RawRoute = Callable[[bytes, int], None]
#: Takes consecutive raw RECORD lines of its stream and the first one's line number.
BulkRoute = Callable[[list[bytes], int], None]

#: Bytes asked of the input at a time (``read1`` may return fewer).
_BLOCK_BYTES = 1 << 20


def decode_line(line: str | bytes, number: int) -> dict[str, Any]:
    """Decode one Singer line into a message dict, as the reader does.

    Raises:
        InputLineError: the line is not a JSON object (with its line number).
    """
    try:
        message = _decode_any(line)
    except msgspec.DecodeError as exc:
        try:
            message = json.loads(line, parse_float=Decimal, parse_constant=NonFinite)
        except (ValueError, UnicodeDecodeError):
            raise InputLineError(number, f"malformed JSON ({exc})") from None
    if type(message) is not dict:
        raise InputLineError(number, "not a JSON object")
    return message


class FastSingerReader(GenericSingerReader[str]):
    """Reads Singer messages with msgspec and knows the current line number."""

    default_input = sys.stdin

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self._decode = _decode_any
        #: JSON-escaped stream name (bytes) -> where its raw RECORD lines go.
        self.raw_routes: dict[bytes, RawRoute] = {}
        #: The same streams' routes for runs of compact RECORD lines.
        self.bulk_routes: dict[bytes, BulkRoute] = {}

    def deserialize_json(self, line: str | bytes) -> dict[str, Any]:
        """Decode one line into a message dict.

        Raises:
            InputLineError: the line is not a JSON object (with its line number).
        """
        try:
            message = self._decode(line)
        except msgspec.DecodeError as exc:
            message = self._fallback(line, exc)
        if type(message) is not dict:
            raise InputLineError(self.line_number, "not a JSON object")
        return message

    def _fallback(self, line: str | bytes, exc: msgspec.DecodeError) -> Any:
        try:
            return json.loads(line, parse_float=Decimal, parse_constant=NonFinite)
        except (ValueError, UnicodeDecodeError):
            raise InputLineError(self.line_number, f"malformed JSON ({exc})") from None

    def process_lines(
        self,
        file_input: IO[str] | None,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
    ) -> Counter[str]:
        """Feed every line to the callback for its message type.

        Blank lines are skipped. An unknown message type is an error naming the line.
        """
        counts: dict[str, int] = {}
        source: Any = file_input if file_input is not None else sys.stdin
        # msgspec decodes UTF-8 bytes directly: skip the text layer when there is one.
        source = getattr(source, "buffer", source)
        read = getattr(source, "read1", None) or getattr(source, "read", None)
        if read is None:  # an iterable of lines
            records = self._each_line(source, 1, callbacks, counts)
        else:
            records = self._each_block(read, callbacks, counts)
        if records:
            counts["RECORD"] = counts.get("RECORD", 0) + records
        return Counter(counts)

    def _each_block(
        self,
        read: Callable[[int], bytes | str],
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
        counts: dict[str, int],
    ) -> int:
        """Read the input block by block; returns the RECORD lines routed or handed over."""
        records = 0
        number = 0  # lines before the current block
        partial: list[bytes] = []  # the start of a line that goes on in the next block
        while True:
            chunk = read(_BLOCK_BYTES)
            if not chunk:
                break
            block = chunk if type(chunk) is bytes else chunk.encode()  # type: ignore[union-attr]
            lines = block.split(b"\n")
            tail = lines.pop()  # after the last newline: the start of the next line
            if not lines:
                partial.append(tail)
                continue
            if partial:
                partial.append(lines[0])
                lines[0] = b"".join(partial)
                partial = []
            if tail:
                partial.append(tail)
            records += self._block(lines, block, tail, number, callbacks, counts)
            number += len(lines)
        if partial:  # a last line without a newline
            records += self._each_line([b"".join(partial)], number + 1, callbacks, counts)
        return records

    def _block(
        self,
        lines: list[bytes],
        block: bytes,
        tail: bytes,
        number: int,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
        counts: dict[str, int],
    ) -> int:
        """Handle the lines a block completed; ``number`` lines came before.

        ``lines[0]`` may have begun in earlier blocks; ``tail``, the block's
        bytes after its last newline, begins the next line.
        """
        n = len(lines)
        if not self.bulk_routes:
            return self._each_line(lines, number + 1, callbacks, counts)
        route, head = self._bulk_route(lines[0])
        # Every line after a newline in the block starts with the same head: all go at once.
        if route is not None and block.count(b"\n" + head) == n - 1 + tail.startswith(head):
            self.line_number = number + n
            route(lines, number + 1)
            return n
        # Runs of compact RECORD lines of one routed stream in bulk, the rest one by one.
        records = 0
        start = i = 0  # lines[start:i] wait to be handled one by one
        while i < n:
            route, head = self._bulk_route(lines[i])
            if route is None:
                i += 1
                continue
            if start < i:
                # Handled first, in order (a SCHEMA among them may change the routes).
                records += self._each_line(lines[start:i], number + start + 1, callbacks, counts)
                start = i
                continue
            j = i + 1
            while j < n and lines[j].startswith(head):
                j += 1
            self.line_number = number + j
            route(lines[i:j], number + i + 1)
            records += j - i
            start = i = j
        if start < n:
            records += self._each_line(lines[start:], number + start + 1, callbacks, counts)
        return records

    def _bulk_route(self, line: bytes) -> tuple[BulkRoute | None, bytes]:
        """The bulk route of a compact RECORD line and the head its stream's lines share."""
        if not line.startswith(_COMPACT_HEAD):
            return None, b""
        end = line.find(b'"', _COMPACT_START)
        route = self.bulk_routes.get(line[_COMPACT_START:end])
        if route is None or not line.startswith(_COMPACT_TAIL, end):
            return None, b""
        return route, line[: end + len(_COMPACT_TAIL)]

    def _each_line(
        self,
        lines: Iterable[str | bytes],
        first: int,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
        counts: dict[str, int],
    ) -> int:
        """Handle lines one at a time; returns the RECORD lines routed or handed over."""
        decode = self._decode
        # RECORD lines are nearly all of the input: dispatch them without the lookups.
        on_record = callbacks.get("RECORD")
        routes = self.raw_routes
        records = 0
        for number, line in enumerate(lines, first):
            self.line_number = number
            if routes:
                # Text input (an iterable of str) is encoded: routes take bytes.
                data = line if type(line) is bytes else line.encode()  # type: ignore[union-attr]
                route = _raw_route(routes, data)
                if route is not None:
                    route(data, number)
                    records += 1
                    continue
            try:
                message = decode(line)
            except msgspec.DecodeError as exc:
                if not line.strip():
                    continue
                message = self._fallback(line, exc)
            if type(message) is not dict:
                raise InputLineError(number, "not a JSON object")
            kind: str = message.get("type")  # type: ignore[assignment]
            if kind == "RECORD" and on_record is not None:
                on_record(message)
                records += 1
                continue
            callback = callbacks.get(kind) if type(kind) is str else None
            if callback is None:
                raise InputLineError(number, f"unknown or missing message type {kind!r}")
            callback(message)
            counts[kind] = counts.get(kind, 0) + 1
        return records


def _raw_route(routes: dict[bytes, RawRoute], line: bytes) -> RawRoute | None:
    """The route of a RECORD line in a known layout for a routed stream, else None."""
    for head, tail in _RECORD_LAYOUTS:
        if line.startswith(head):
            start = len(head)
            end = line.find(b'"', start)
            route = routes.get(line[start:end])
            if route is not None and line.startswith(tail, end):
                return route
            return None
    return None
