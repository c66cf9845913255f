"""The reject store: every rejected record, kept for a person to look at.

JSONL per run, either a local file (appended and flushed as rejects come) or
whole objects in an object store such as ``s3://bucket/prefix`` (one object
per stream and flush, ``<run_id>/<stream>-<part>.jsonl``; a flush happens
before every STATE the target emits, so a killed run loses no reject its
state covers and leaves no partial object). Optionally also a
``<prefix>REJECTS`` table through a SQLAlchemy engine. Records are redacted
(secret-looking keys and known secret values masked) before they are
written; everything else is kept exactly as received.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from flext_infra.observability import get_logger, redact
from flext_infra.storage import ObjectStore, is_object_url, safe_key_part

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from flext_infra.settings import S3Settings

#: Buffered reject bytes of one stream that trigger an object write on their own.
OBJECT_FLUSH_BYTES = 8 * 1024 * 1024

log = get_logger("flext.quality")


@dataclass(frozen=True)
class Reject:
    """One rejected record.

    Attributes:
        stream: The stream it came from.
        key: Its primary key values (``{}`` when the stream has none).
        field: The (first) field that failed.
        rule: The (first) rule that failed: required, not_null, unique, type,
            range, enum, regex, max_length, freshness, or the caller's own name.
        reason: A readable explanation.
        record: The record as received.
        failures: Every (field, rule, reason) the record broke.
    """

    stream: str
    key: dict[str, Any]
    field: str
    rule: str
    reason: str
    record: Mapping[str, Any]
    failures: tuple[tuple[str, str, str], ...] = dataclasses.field(default=())


def _enc_hook(value: Any) -> Any:
    # Anything msgspec cannot encode natively (sets, custom objects) as text.
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


class RejectStore:
    """Writes rejects to ``path`` (JSONL) or ``objects``, and with an engine to ``<prefix>REJECTS``.

    Thread-safe. The target may write its own rejects through :meth:`write`.

    Args:
        path: The JSONL file for this run (parents are created). None: no file.
        run_id: Written on every entry.
        engine: A SQLAlchemy engine for the table copy (None: file only).
        table_prefix: Table name prefix; the table is ``<prefix>REJECTS``.
        schema: Database schema of the table.
        objects: An object store receiving whole JSONL objects at each
            :meth:`flush` (instead of, or as well as, ``path``).
    """

    def __init__(
        self,
        path: Path | str | None,
        *,
        run_id: str,
        engine: Engine | None = None,
        table_prefix: str = "",
        schema: str | None = None,
        objects: ObjectStore | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.objects = objects
        self.run_id = run_id
        self.engine = engine
        self.table_name = f"{table_prefix}REJECTS"
        self.schema = schema
        self.count = 0
        #: Rejects written per stream.
        self.counts: dict[str, int] = {}
        self._fh: IO[bytes] | None = None
        self._table: Table | None = None
        self._lock = threading.Lock()
        # Decimals stay JSON numbers: a stored reject must be the record as it came.
        self._encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="number")
        self._closed = False
        #: Encoded lines per stream not yet in an object, and the next part number.
        self._pending: dict[str, list[bytes]] = {}
        self._pending_bytes: dict[str, int] = {}
        self._parts: dict[str, int] = {}

    @classmethod
    def for_run(cls, directory: Path | str, run_id: str, **kwargs: Any) -> RejectStore:
        """A store writing ``<directory>/<run_id>.jsonl``."""
        return cls(Path(directory) / f"{run_id}.jsonl", run_id=run_id, **kwargs)

    @classmethod
    def for_url(
        cls, location: Path | str, run_id: str, *, s3: S3Settings | None = None, **kwargs: Any
    ) -> RejectStore:
        """A store for ``location``: an ``s3://`` root (whole objects) or a local directory."""
        if is_object_url(location):
            return cls(None, run_id=run_id, objects=ObjectStore(location, s3=s3), **kwargs)
        return cls.for_run(location, run_id, **kwargs)

    @property
    def location(self) -> str:
        """Where this run's rejects go (a file path or the run's object prefix)."""
        if self.objects is not None:
            return self.objects.url_of(f"{safe_key_part(self.run_id)}/")
        return str(self.path)

    def write(
        self,
        stream: str,
        key: Mapping[str, Any] | Sequence[Any] | Any,
        field: str,
        reason: str,
        record: Mapping[str, Any],
        *,
        rule: str = "target",
    ) -> None:
        """Store one reject (the target's own, e.g. a value the database refused)."""
        key_map = dict(key) if isinstance(key, Mapping) else {"key": key}
        self.write_many([Reject(stream, key_map, field, rule, reason, record)])

    def reject(
        self,
        stream: str,
        record: Mapping[str, Any],
        field: str | None,
        reason: str,
        key: Any,
        *,
        rule: str = "target",
    ) -> None:
        """The target's ``RejectSink.reject`` signature: same as :meth:`write`."""
        self.write(stream, key if key is not None else {}, field or "", reason, record, rule=rule)

    def write_many(self, rejects: Iterable[Reject]) -> int:
        """Store several rejects; returns how many were written."""
        now = datetime.now(UTC).isoformat()
        rows = [
            {
                "run_id": self.run_id,
                "stream": r.stream,
                "key": redact(dict(r.key)),
                "field": r.field,
                "rule": r.rule,
                "reason": redact(r.reason),
                "record": redact(dict(r.record)),
                "failures": [list(f) for f in r.failures] or [[r.field, r.rule, redact(r.reason)]],
                "rejected_at": now,
            }
            for r in rejects
        ]
        if not rows:
            return 0
        with self._lock:
            if self._closed:
                raise RuntimeError("the reject store is closed")
            if self.path is not None:
                fh = self._file()
                fh.write(b"".join(self._encoder.encode(row) + b"\n" for row in rows))
                fh.flush()
            if self.objects is not None:
                self._buffer(rows)
            if self.engine is not None:
                self._insert(rows)
            self.count += len(rows)
            for row in rows:
                self.counts[row["stream"]] = self.counts.get(row["stream"], 0) + 1
        return len(rows)

    def _buffer(self, rows: list[dict[str, Any]]) -> None:
        """Hold encoded rows per stream; a stream past the size bound is written now (lock held)."""
        for row in rows:
            line = self._encoder.encode(row) + b"\n"
            stream = row["stream"]
            self._pending.setdefault(stream, []).append(line)
            self._pending_bytes[stream] = self._pending_bytes.get(stream, 0) + len(line)
        for stream in [s for s, n in self._pending_bytes.items() if n >= OBJECT_FLUSH_BYTES]:
            self._put(stream)

    def _put(self, stream: str) -> None:
        """Write ``stream``'s pending lines as one whole object (lock held).

        The lines stay pending if the write fails, for the next flush.
        """
        assert self.objects is not None
        part = self._parts.get(stream, 0) + 1
        key = f"{safe_key_part(self.run_id)}/{safe_key_part(stream)}-{part:05d}.jsonl"
        self.objects.put(key, b"".join(self._pending[stream]))
        self._parts[stream] = part
        del self._pending[stream], self._pending_bytes[stream]

    def flush(self) -> None:
        """Make every reject stored so far durable: object writes, file flush.

        The target calls this before it emits a STATE, so a run killed after the
        STATE keeps every reject it covers.

        Raises:
            StorageError: an object could not be written (its rejects stay pending).
        """
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
            for stream in list(self._pending):
                self._put(stream)

    def _file(self) -> IO[bytes]:
        if self._fh is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        return self._fh

    def table(self) -> Table:
        """The ``<prefix>REJECTS`` table definition (created on first insert)."""
        if self._table is None:
            from sqlalchemy import Column, DateTime, MetaData, String, Table, Text

            self._table = Table(
                self.table_name,
                MetaData(schema=self.schema),
                Column("run_id", String(64), nullable=False),
                Column("stream", String(255), nullable=False),
                Column("record_key", String(1000)),
                Column("field_name", String(255)),
                Column("rule_name", String(64), nullable=False),
                Column("reason", String(2000), nullable=False),
                Column("record_json", Text),
                Column("rejected_at", DateTime(timezone=True), nullable=False),
            )
        return self._table

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        assert self.engine is not None
        table = self.table()
        values = [
            {
                "run_id": row["run_id"],
                "stream": row["stream"],
                "record_key": self._encoder.encode(row["key"]).decode()[:1000],
                "field_name": row["field"],
                "rule_name": row["rule"],
                "reason": str(row["reason"])[:2000],
                "record_json": self._encoder.encode(row["record"]).decode(),
                "rejected_at": datetime.fromisoformat(row["rejected_at"]),
            }
            for row in rows
        ]
        with self.engine.begin() as conn:
            table.create(conn, checkfirst=True)
            conn.execute(table.insert(), values)

    def read(self) -> list[dict[str, Any]]:
        """Every entry stored for this run (for tests and reports); flushes first."""
        if not self._closed:
            self.flush()
        decoder = msgspec.json.Decoder()
        if self.objects is not None:
            prefix = f"{safe_key_part(self.run_id)}/"
            return [
                decoder.decode(line)
                for key in self.objects.keys(prefix)
                for line in self.objects.get(key).splitlines()
                if line.strip()
            ]
        if self.path is None or not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            return [decoder.decode(line) for line in fh if line.strip()]

    def close(self) -> None:
        """Write what is pending, close the file. A second call does nothing.

        Raises:
            StorageError: pending rejects could not be written to the object store.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                for stream in list(self._pending):
                    self._put(stream)
            finally:
                if self._fh is not None:
                    self._fh.close()
                    self._fh = None
        if self.count:
            log.info("quality.rejects_stored", count=self.count, location=self.location)

    def __enter__(self) -> RejectStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
