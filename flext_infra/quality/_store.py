"""The reject store: every rejected record, kept for a person to look at.

Always a JSONL file per run; optionally also a ``<prefix>REJECTS`` table
through a SQLAlchemy engine. Records are redacted (secret-looking keys and
known secret values masked) before they are written; everything else is
kept exactly as received.
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

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

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
    """Writes rejects to ``path`` (JSONL) and, with an engine, to ``<prefix>REJECTS``.

    Thread-safe. The target may write its own rejects through :meth:`write`.

    Args:
        path: The JSONL file for this run (parents are created). None: no file.
        run_id: Written on every entry.
        engine: A SQLAlchemy engine for the table copy (None: file only).
        table_prefix: Table name prefix; the table is ``<prefix>REJECTS``.
        schema: Database schema of the table.
    """

    def __init__(
        self,
        path: Path | str | None,
        *,
        run_id: str,
        engine: Engine | None = None,
        table_prefix: str = "",
        schema: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
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

    @classmethod
    def for_run(cls, directory: Path | str, run_id: str, **kwargs: Any) -> RejectStore:
        """A store writing ``<directory>/<run_id>.jsonl``."""
        return cls(Path(directory) / f"{run_id}.jsonl", run_id=run_id, **kwargs)

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
            if self.engine is not None:
                self._insert(rows)
            self.count += len(rows)
            for row in rows:
                self.counts[row["stream"]] = self.counts.get(row["stream"], 0) + 1
        return len(rows)

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
        """Every entry in this run's JSONL file (for tests and reports)."""
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
        if self.path is None or not self.path.exists():
            return []
        decoder = msgspec.json.Decoder()
        with self.path.open("rb") as fh:
            return [decoder.decode(line) for line in fh if line.strip()]

    def close(self) -> None:
        """Flush and close the file. A second call does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        if self.count:
            log.info("quality.rejects_stored", count=self.count, path=str(self.path))

    def __enter__(self) -> RejectStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
