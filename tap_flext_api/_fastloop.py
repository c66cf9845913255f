"""The fast loop's page step: one decoded page to RECORD lines and a bookmark move.

Used instead of the SDK's per-record loop when nothing per record can differ
from it (see ``FlextApiStream._fast_eligible``). A page's records are
filtered by the client-side bookmark floor, conformed when they had to be
decoded, written in one call to :class:`~tap_flext_api._writer.FastSingerWriter`
in the form the decoder left them (decoded, raw JSON text, or shaped), and
their replication-key values move the bookmark once per page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tap_flext_api._bookmarks import is_older

if TYPE_CHECKING:
    from tap_flext_api._conform import JsonConformer
    from tap_flext_api._decode import PageDecoder
    from tap_flext_api._writer import FastSingerWriter
    from tap_flext_api.pagination import Page

__all__ = ["FastPageWriter"]


class FastPageWriter:
    """Writes one stream's pages straight to the fast writer.

    Args:
        writer: The tap's writer.
        alias: The stream name on RECORD lines (the stream map's alias).
        decoder: The stream's page decoder (it reads the key values).
        conformer: Conforms decoded records (``None``: trusted schema).
        floor: Records older than this are dropped (an API without a filter
            parameter); ``None`` keeps every record.
        advance: Receives each page's replication-key values (``None``: no key).
    """

    def __init__(
        self,
        *,
        writer: FastSingerWriter,
        alias: str,
        decoder: PageDecoder,
        conformer: JsonConformer | None,
        floor: Any,
        advance: Callable[[list[Any]], None] | None,
    ) -> None:
        self.writer = writer
        self.alias = alias
        self.decoder = decoder
        self.conformer = conformer
        self.floor = floor
        self.advance = advance
        #: Pages whose records were copied as raw JSON (no decode, no re-encode).
        self.raw_pages = 0

    def write(self, page: Page, version: int | None) -> int:
        """Write ``page``'s records and move the bookmark; returns how many were written."""
        records = page.records
        if not records:
            return 0
        form = page.form
        if self.conformer is not None and form == "decoded":
            conform = self.conformer
            records = [conform(r) for r in records]
        values: list[Any] | None = None
        if self.advance is not None:
            values = self.decoder.key_values(page, records)
            floor = self.floor
            if floor is not None:
                kept = [i for i, v in enumerate(values) if not is_older(v, floor)]
                if len(kept) != len(records):
                    records = [records[i] for i in kept]
                    values = [values[i] for i in kept]
        writer, alias, extracted = self.writer, self.alias, page.extracted_at
        if form == "decoded":
            for record in records:
                writer.write_record(alias, record, version, extracted)
        else:
            self.raw_pages += 1
            if form == "raw":
                writer.write_raw_records(alias, records, version, extracted)
            else:
                writer.write_shaped_records(alias, records, version, extracted)
        if values and self.advance is not None:
            self.advance(values)
        return len(records)
