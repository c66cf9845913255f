"""Reading the files a BATCH message names (the Singer SDK's BATCH extension).

A tap with ``batch_config`` writes records into JSONL files (usually gzip) on
a shared root, a local directory or ``s3://bucket/prefix``, and sends one
BATCH message naming them. The SDK's ``Sink.process_batch_files`` hook reads
them with anonymous storage options and hands whole files to
``process_batch``, which would skip this target's per-record conversion and
rejects. Here each file is streamed through fsspec (s3fs with the
``FLEXT_S3_*`` / ``AWS_*`` credentials for ``s3://``) and every line is
decoded exactly as a RECORD line is (msgspec, numbers as ``Decimal``), so the
sink can take the records the RECORD way and load the same table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from flext_infra.storage import StorageError, is_object_url, s3_options
from target_flext_oracle._converters import NonFinite
from target_flext_oracle._errors import TargetError

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

    from flext_infra.settings import S3Settings


class BatchFileError(TargetError):
    """A BATCH file could not be read, or a line of it is not a JSON object."""


_DECODE = msgspec.json.Decoder(float_hook=Decimal).decode


def _decode(line: bytes, url: str, number: int) -> dict[str, Any]:
    try:
        record = _DECODE(line)
    except msgspec.DecodeError as exc:
        # NaN / Infinity: decoded so the record can be rejected with its reason.
        try:
            record = json.loads(line, parse_float=Decimal, parse_constant=NonFinite)
        except (ValueError, UnicodeDecodeError):
            raise BatchFileError(f"{url}, line {number}: malformed JSON ({exc})") from None
    if type(record) is not dict:
        raise BatchFileError(f"{url}, line {number}: not a JSON object")
    return record


def batch_records(
    encoding: BaseBatchFileEncoding, files: Sequence[str], *, s3: S3Settings
) -> Iterator[dict[str, Any]]:
    """Every record of ``files``, in order, decoded as RECORD lines are.

    Raises:
        BatchFileError: an unsupported encoding, an unreadable file (its URL and
            why, never a credential), or a line that is not a JSON object.
    """
    if encoding.format != "jsonl":
        raise BatchFileError(
            f"BATCH encoding {encoding.format!r} is not supported (only jsonl, gzip or not)"
        )
    compression = "gzip" if encoding.compression == "gzip" else None
    import fsspec

    for url in files:
        options = s3_options(s3) if is_object_url(url) else {}
        try:
            with fsspec.open(url, "rb", compression=compression, **options) as stream:
                for number, line in enumerate(stream, 1):
                    if line.strip():
                        yield _decode(line, url, number)
        except (OSError, ValueError, EOFError) as exc:
            error = StorageError(f"{type(exc).__name__}: {exc}", url=url, reason="unreadable")
            raise BatchFileError(f"BATCH file {url} could not be read: {error}") from exc
