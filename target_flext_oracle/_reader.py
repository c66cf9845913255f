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
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
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
        decode = self._decode
        # RECORD lines are nearly all of the input: dispatch them without the lookups.
        on_record = callbacks.get("RECORD")
        routes = self.raw_routes
        records = 0
        for number, line in enumerate(source, 1):
            self.line_number = number
            if routes:
                # Text input (io.StringIO in tests) is encoded: routes take bytes.
                data = line if type(line) is bytes else line.encode()
                if data.startswith(_COMPACT_HEAD):
                    # The common layout, inline: `{"type":"RECORD","stream":"<name>","record":`.
                    end = data.find(b'"', _COMPACT_START)
                    route = routes.get(data[_COMPACT_START:end])
                    if route is not None and data.startswith(_COMPACT_TAIL, end):
                        route(data, number)
                        records += 1
                        continue
                else:
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
        if records:
            counts["RECORD"] = counts.get("RECORD", 0) + records
        return Counter(counts)


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
