"""A buffered msgspec Singer writer.

The SDK's ``MsgSpecWriter`` encodes with msgspec but flushes stdout after
every message and builds a message dict per record. This writer:

- writes RECORD lines as ``prefix + msgspec(record) + suffix``, where the
  prefix and suffix (stream, version, time extracted) are encoded once per
  page, not per record;
- buffers lines and hands them to stdout in large writes; a page's records
  are kept as the one bytes object they were encoded into, not copied into
  the buffer (copies of page-sized buffers cost as much as encoding them);
- flushes before every non-RECORD message, so a STATE message never reaches
  the target ahead of the records it covers.

``sys.stdout`` is looked up at write time, so test runners that redirect it
still capture everything.
"""

from __future__ import annotations

import datetime
import decimal
import sys
from typing import Any

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerWriter, SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message

_FLUSH_AT = 1 << 20  # bytes buffered before a write to stdout


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, datetime.datetime):
        return obj.isoformat(sep="T")
    if isinstance(obj, datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):  # pragma: no cover - msgspec encodes Decimal natively
        return str(obj)
    return str(obj)


class FastSingerWriter(GenericSingerWriter[bytes, Message]):
    """Writes Singer messages to stdout with msgspec, buffered, flushed at each STATE."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="number")
        #: Small writes (messages, single records), after everything in ``_chunks``.
        self._buffer = bytearray()
        #: Page-sized writes, in order, and their total size.
        self._chunks: list[bytes | memoryview] = []
        self._chunked = 0
        self._affixes: dict[tuple[str, int | None, str | None], tuple[bytes, bytes]] = {}

    def serialize_message(self, message: Message) -> bytes:
        """One JSON line (with its newline) for ``message``."""
        return self._encoder.encode(message.to_dict()) + b"\n"

    def write_message(self, message: Message) -> None:
        """Write ``message``; anything but a RECORD flushes the buffer first and after."""
        buffer = self._buffer
        buffer += self.serialize_message(message)
        if message.type != SingerMessageType.RECORD or len(buffer) + self._chunked >= _FLUSH_AT:
            self.flush()

    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        version: int | None = None,
        time_extracted: str | None = None,
    ) -> None:
        """Write one RECORD message without building a message object.

        Args:
            stream: The stream (alias) name.
            record: The record dict.
            version: The stream version, for ACTIVATE_VERSION users.
            time_extracted: An ISO 8601 UTC timestamp, usually one per page.
        """
        prefix, suffix = self._affixes_for(stream, version, time_extracted)
        buffer = self._buffer
        buffer += prefix
        self._encoder.encode_into(record, buffer, -1)
        buffer += suffix
        if len(buffer) + self._chunked >= _FLUSH_AT:
            self.flush()

    def _affixes_for(
        self, stream: str, version: int | None, time_extracted: str | None
    ) -> tuple[bytes, bytes]:
        key = (stream, version, time_extracted)
        affixes = self._affixes.get(key)
        if affixes is None:
            if len(self._affixes) > 64:
                self._affixes.clear()
            prefix = b'{"type":"RECORD","stream":' + self._encoder.encode(stream) + b',"record":'
            suffix = b""
            if version is not None:
                suffix += b',"version":' + self._encoder.encode(version)
            if time_extracted is not None:
                suffix += b',"time_extracted":' + self._encoder.encode(time_extracted)
            affixes = (prefix, suffix + b"}\n")
            self._affixes[key] = affixes
        return affixes

    def write_raw_records(
        self,
        stream: str,
        records: list[Any],
        version: int | None = None,
        time_extracted: str | None = None,
    ) -> None:
        """Write RECORD messages around already-encoded JSON objects (``msgspec.Raw``).

        The caller guarantees each item is one JSON object with no raw newline.
        """
        if not records:
            return
        prefix, suffix = self._affixes_for(stream, version, time_extracted)
        self._add_chunks(prefix, (suffix + prefix).join(records), suffix)

    def write_shaped_records(
        self,
        stream: str,
        records: list[Any],
        version: int | None = None,
        time_extracted: str | None = None,
    ) -> None:
        """Write RECORD messages for msgspec structs, encoded in one call.

        The caller guarantees no encoded record holds a raw newline (its raw
        field values come from a body without one), so each line of msgspec's
        ``encode_lines`` is one record.
        """
        if not records:
            return
        prefix, suffix = self._affixes_for(stream, version, time_extracted)
        # Every newline becomes "suffix + prefix"; the last one's prefix is cut.
        lines = self._encoder.encode_lines(records).replace(b"\n", suffix + prefix)
        self._add_chunks(prefix, memoryview(lines)[: -len(prefix)])

    def _add_chunks(self, *chunks: bytes | memoryview) -> None:
        buffer = self._buffer
        if buffer:  # earlier small writes go first
            self._chunks.append(bytes(buffer))
            self._chunked += len(buffer)
            buffer.clear()
        self._chunks.extend(chunks)
        self._chunked += sum(len(chunk) for chunk in chunks)
        if self._chunked >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Hand buffered lines to stdout and flush it."""
        out = sys.stdout
        buffer = self._buffer
        pending = [*self._chunks, buffer] if buffer else self._chunks
        if pending:
            binary = getattr(out, "buffer", None)
            if binary is not None:
                out.flush()  # keep any text written earlier in order
                binary.writelines(pending)
                binary.flush()
            else:
                out.write(b"".join(pending).decode("utf-8"))
            self._chunks.clear()
            self._chunked = 0
            buffer.clear()
        out.flush()
