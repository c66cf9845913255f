"""``RunLedger``: what ran, when, with what counts and outcome.

One row per run in ``flext_runs`` and one per stream in ``flext_run_streams``,
in the configured database. A running row carries a heartbeat and an expiry
(``heartbeat + lock_ttl_s``); a running row past its expiry reads as
``abandoned``, so a run killed with SIGKILL shows as such once its TTL has
passed, without anyone having to clean up after it.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra.observability import get_logger, redact
from flext_infra.runs._lock import RunLock
from flext_infra.runs._models import (
    JobStats,
    RunKind,
    RunRecord,
    RunStatus,
    StreamRun,
    Trigger,
    current_host,
    current_os_user,
    utcnow,
)
from flext_infra.runs._store import (
    LOCKS,
    RUNS,
    STREAMS,
    LedgerStore,
    postgres_connect,
    sqlite_connect,
    sqlite_path,
    url_dialect,
)

if TYPE_CHECKING:
    from flext_infra.database import ConnectionManager

log = get_logger("flext.runs")

_RUN_COLUMNS = (
    "run_id, job, kind, environment, triggered_by, host, os_user, pid, started_at, ended_at, "
    "heartbeat_at, expires_at, status, exit_code, error, link_id, attempts, log_path"
)
_STREAM_COLUMNS = (
    "run_id, stream, records_read, records_loaded, rejects, retries, rate_limited, "
    "bookmark_before, bookmark_after"
)
_ERROR_CHARS = 1000
_BOOKMARK_CHARS = 1000


class RunLedger:
    """The run ledger over one database.

    Build it with :meth:`from_manager` (the ``database`` service),
    :meth:`from_url` or :meth:`for_sqlite`. The container's ``run_ledger``
    service is built from the settings (``FLEXT_RUNS_*``).

    Args:
        store: The database access.
        lock_ttl_s: A heartbeat is due every third of this; a run or lock whose
            heartbeat is older reads as abandoned / may be taken over.
        retention_days: :meth:`prune` removes finished runs that started longer
            ago (None keeps every row).
        environment: Recorded on every run started through this ledger.
        clock: The current time (tests pass their own).
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        lock_ttl_s: float = 60.0,
        retention_days: int | None = 90,
        environment: str = "development",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if lock_ttl_s <= 0:
            raise ValueError("lock_ttl_s must be positive")
        self.store = store
        self.lock_ttl_s = lock_ttl_s
        self.retention_days = retention_days
        self.environment = environment
        self.clock = clock

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_manager(
        cls, manager: ConnectionManager, *, schema: str | None = None, **kwargs: Any
    ) -> RunLedger:
        """A ledger in the database of a connection manager (``database``, ``oracle_manager``)."""
        store = LedgerStore(manager.acquire, manager.dialect, schema=schema, target=manager.target)
        return cls(store, **kwargs)

    @classmethod
    def for_sqlite(cls, path: Path, **kwargs: Any) -> RunLedger:
        """A ledger in an SQLite file, through ``sqlite3`` alone."""
        return cls(LedgerStore(sqlite_connect(path), "sqlite", target=str(path)), **kwargs)

    @classmethod
    def from_url(cls, url: str, *, schema: str | None = None, **kwargs: Any) -> RunLedger:
        """A ledger at a SQLAlchemy URL.

        SQLite and PostgreSQL are reached through their DB-API drivers directly
        (no SQLAlchemy import); Oracle through an :class:`OracleConnectionManager`.
        """
        dialect = url_dialect(url)
        if dialect == "sqlite":
            return cls(
                LedgerStore(sqlite_connect(sqlite_path(url)), "sqlite", target=url), **kwargs
            )
        if dialect == "postgresql":
            target = redact(url)
            store = LedgerStore(postgres_connect(url), dialect, schema=schema, target=target)
            return cls(store, **kwargs)
        from flext_infra.database import create_database_manager_from_url

        return cls.from_manager(create_database_manager_from_url(url), schema=schema, **kwargs)

    # ----------------------------------------------------------------- writing
    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.lock_ttl_s)

    def start(
        self,
        job: str,
        *,
        kind: RunKind | str = RunKind.JOB,
        trigger: Trigger | str = Trigger.CLI,
        run_id: str | None = None,
        link_id: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        log_path: str | None = None,
    ) -> RunRecord:
        """Record a run that starts now (``running``, or ``refused`` for a run that never ran)."""
        now = self.clock()
        record = RunRecord(
            run_id=run_id or str(uuid.uuid4()),
            job=job,
            kind=RunKind(kind),
            environment=self.environment,
            trigger=Trigger(trigger),
            host=current_host(),
            os_user=current_os_user(),
            pid=os.getpid(),
            started_at=now,
            status=status,
            heartbeat_at=now,
            expires_at=self._expiry(now),
            link_id=link_id,
            log_path=log_path,
        )
        b = self.store.dialect.bind_time
        self.store.write(
            f"INSERT INTO {self.store.table(RUNS)} ({_RUN_COLUMNS}) VALUES (:run_id, :job, "
            ":kind, :environment, :triggered_by, :host, :os_user, :pid, :started_at, NULL, "
            ":heartbeat_at, :expires_at, :status, NULL, NULL, :link_id, 1, :log_path)",
            {
                "run_id": record.run_id,
                "job": job,
                "kind": str(record.kind),
                "environment": record.environment,
                "triggered_by": str(record.trigger),
                "host": record.host,
                "os_user": record.os_user,
                "pid": record.pid,
                "started_at": b(now),
                "heartbeat_at": b(now),
                "expires_at": b(record.expires_at),
                "status": str(status),
                "link_id": link_id,
                "log_path": log_path,
            },
        )
        log.debug("runs.started", run_id=record.run_id, job=job, kind=str(record.kind))
        return record

    def refused(
        self,
        job: str,
        error: str,
        *,
        run_id: str | None = None,
        trigger: Trigger | str = Trigger.CLI,
        exit_code: int = 5,
    ) -> RunRecord:
        """Record a run that was refused (its lock is held): it starts and ends now."""
        record = self.start(job, trigger=trigger, run_id=run_id, status=RunStatus.REFUSED)
        return self.finish(record.run_id, RunStatus.REFUSED, exit_code, error=error)

    def beat(self, run_id: str) -> None:
        """Push the heartbeat (and the expiry) of a running run and of the locks it holds."""
        now = self.clock()
        b = self.store.dialect.bind_time
        params = {"now": b(now), "expires": b(self._expiry(now)), "run_id": run_id}
        with self.store.connection() as conn:
            self.store.execute(
                conn,
                f"UPDATE {self.store.table(RUNS)} SET heartbeat_at = :now, expires_at = :expires "
                "WHERE run_id = :run_id AND status = 'running'",
                params,
            )
            self.store.execute(
                conn,
                f"UPDATE {self.store.table(LOCKS)} SET heartbeat_at = :now, "
                "expires_at = :expires WHERE run_id = :run_id",
                params,
            )
            conn.commit()

    def finish(
        self,
        run_id: str,
        status: RunStatus | str,
        exit_code: int | None,
        *,
        error: str | None = None,
        streams: Iterable[StreamRun] = (),
        attempts: int | None = None,
        log_path: str | None = None,
    ) -> RunRecord:
        """Record how a run ended, with its streams; returns the stored row.

        Raises:
            KeyError: no such run.
        """
        now = self.clock()
        b = self.store.dialect.bind_time
        text = redact(error)[:_ERROR_CHARS] if error else None
        sets = "status = :status, exit_code = :exit_code, error = :error, ended_at = :now, "
        sets += "heartbeat_at = :now"
        params: dict[str, Any] = {
            "status": str(RunStatus(status)),
            "exit_code": exit_code,
            "error": text,
            "now": b(now),
            "run_id": run_id,
        }
        if attempts is not None:
            sets += ", attempts = :attempts"
            params["attempts"] = attempts
        if log_path is not None:
            sets += ", log_path = :log_path"
            params["log_path"] = log_path
        with self.store.connection() as conn:
            touched = self.store.execute(
                conn, f"UPDATE {self.store.table(RUNS)} SET {sets} WHERE run_id = :run_id", params
            )
            if not touched:
                conn.rollback()
                raise KeyError(f"no run {run_id} in the ledger")
            self._write_streams(conn, run_id, streams)
            conn.commit()
        found = self.get_run(run_id)
        assert found is not None
        log.info(
            "runs.finished", run_id=run_id, job=found.job, status=str(found.status),
            exit_code=exit_code, duration_s=found.duration_s,
        )  # fmt: skip
        return found

    def _write_streams(self, conn: Any, run_id: str, streams: Iterable[StreamRun]) -> None:
        store = self.store
        store.execute(
            conn, f"DELETE FROM {store.table(STREAMS)} WHERE run_id = :run_id", {"run_id": run_id}
        )
        for s in streams:
            store.execute(
                conn,
                f"INSERT INTO {store.table(STREAMS)} ({_STREAM_COLUMNS}) VALUES (:run_id, "
                ":stream, :records_read, :records_loaded, :rejects, :retries, :rate_limited, "
                ":bookmark_before, :bookmark_after)",
                {
                    "run_id": run_id,
                    "stream": s.stream,
                    "records_read": s.records_read,
                    "records_loaded": s.records_loaded,
                    "rejects": s.rejects,
                    "retries": s.retries,
                    "rate_limited": s.rate_limited,
                    "bookmark_before": _clip(s.bookmark_before),
                    "bookmark_after": _clip(s.bookmark_after),
                },
            )

    def prune(self, retention_days: int | None = None) -> int:
        """Delete runs that started more than ``retention_days`` ago and are no longer running.

        Returns:
            How many runs were removed (their streams go with them).
        """
        days = self.retention_days if retention_days is None else retention_days
        if days is None:
            return 0
        now = self.clock()
        b = self.store.dialect.bind_time
        params = {"cutoff": b(now - timedelta(days=days)), "now": b(now)}
        old = (
            f"SELECT run_id FROM {self.store.table(RUNS)} WHERE started_at < :cutoff "
            "AND (status <> 'running' OR expires_at < :now)"
        )
        with self.store.connection() as conn:
            self.store.execute(
                conn, f"DELETE FROM {self.store.table(STREAMS)} WHERE run_id IN ({old})", params
            )
            removed = self.store.execute(
                conn,
                f"DELETE FROM {self.store.table(RUNS)} WHERE started_at < :cutoff "
                "AND (status <> 'running' OR expires_at < :now)",
                params,
            )
            conn.commit()
        if removed:
            log.info("runs.pruned", removed=removed, retention_days=days)
        return removed

    # ----------------------------------------------------------------- reading
    def list_runs(
        self,
        job: str | None = None,
        status: RunStatus | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one job and/or with one status."""
        where: list[str] = []
        params: dict[str, Any] = {"limit": int(limit), "offset": int(offset)}
        if job is not None:
            where.append("job = :job")
            params["job"] = job
        if status is not None:
            where.append(self._status_clause(RunStatus(status), params))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._select(
            f"SELECT {_RUN_COLUMNS} FROM {self.store.table(RUNS)} {clause}"
            f"ORDER BY started_at DESC, run_id DESC {self.store.dialect.page()}",
            params,
        )

    def _status_clause(self, status: RunStatus, params: dict[str, Any]) -> str:
        params["now"] = self.store.dialect.bind_time(self.clock())
        if status is RunStatus.ABANDONED:
            return "(status = 'abandoned' OR (status = 'running' AND expires_at < :now))"
        if status is RunStatus.RUNNING:
            return "(status = 'running' AND expires_at >= :now)"
        params.pop("now")
        params["status"] = str(status)
        return "status = :status"

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run with its streams, or None."""
        found = self._select(
            f"SELECT {_RUN_COLUMNS} FROM {self.store.table(RUNS)} WHERE run_id = :run_id",
            {"run_id": run_id},
        )
        return found[0] if found else None

    def last_run(self, job: str) -> RunRecord | None:
        """The newest run of ``job``, or None."""
        found = self.list_runs(job=job, limit=1)
        return found[0] if found else None

    def linked(self, link_id: str) -> list[RunRecord]:
        """Every run carrying ``link_id`` (a job's row and its plugins' rows), oldest first."""
        return self._select(
            f"SELECT {_RUN_COLUMNS} FROM {self.store.table(RUNS)} WHERE link_id = :link_id "
            "ORDER BY started_at, run_id",
            {"link_id": link_id},
        )

    def _select(self, text: str, params: dict[str, Any]) -> list[RunRecord]:
        with self.store.connection() as conn:
            rows = self.store.query(conn, text, params)
            streams = self._streams(conn, [str(r[0]) for r in rows])
            conn.rollback()
        now = self.clock()
        return [self._record(row, streams.get(str(row[0]), ()), now) for row in rows]

    def _streams(self, conn: Any, run_ids: Sequence[str]) -> dict[str, tuple[StreamRun, ...]]:
        out: dict[str, list[StreamRun]] = {}
        # Bounded IN lists (Oracle allows 1000 expressions in one).
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            names = {f"r{i}": rid for i, rid in enumerate(chunk)}
            marks = ", ".join(f":{n}" for n in names)
            for row in self.store.query(
                conn,
                f"SELECT {_STREAM_COLUMNS} FROM {self.store.table(STREAMS)} "
                f"WHERE run_id IN ({marks}) ORDER BY stream",
                names,
            ):
                out.setdefault(str(row[0]), []).append(
                    StreamRun(
                        stream=str(row[1]),
                        records_read=int(row[2]),
                        records_loaded=int(row[3]),
                        rejects=int(row[4]),
                        retries=int(row[5]),
                        rate_limited=int(row[6]),
                        bookmark_before=row[7],
                        bookmark_after=row[8],
                    )
                )
        return {k: tuple(v) for k, v in out.items()}

    def _record(
        self, row: Sequence[Any], streams: tuple[StreamRun, ...], now: datetime
    ) -> RunRecord:
        t = self.store.dialect.read_time
        status = RunStatus(str(row[12]))
        expires = t(row[11])
        if status is RunStatus.RUNNING and expires is not None and expires < now:
            status = RunStatus.ABANDONED
        started = t(row[8])
        assert started is not None
        return RunRecord(
            run_id=str(row[0]),
            job=str(row[1]),
            kind=RunKind(str(row[2])),
            environment=str(row[3]),
            trigger=Trigger(str(row[4])),
            host=str(row[5]),
            os_user=str(row[6]),
            pid=int(row[7]),
            started_at=started,
            ended_at=t(row[9]),
            heartbeat_at=t(row[10]),
            expires_at=expires,
            status=status,
            exit_code=None if row[13] is None else int(row[13]),
            error=row[14],
            link_id=row[15],
            attempts=int(row[16]),
            log_path=row[17],
            streams=streams,
        )

    def job_stats(self, job: str | None = None) -> list[JobStats]:
        """Per-job totals and the latest outcome, for metrics (one job, or all of them)."""
        store = self.store
        runs, streams = store.table(RUNS), store.table(STREAMS)
        params: dict[str, Any] = {"now": store.dialect.bind_time(self.clock())}
        where = ""
        if job is not None:
            where, params["job"] = "WHERE r.job = :job", job
        derived = (
            "CASE WHEN r.status = 'running' AND r.expires_at < :now THEN 'abandoned' "
            "ELSE r.status END"
        )
        t = store.dialect.read_time
        also = where.replace("WHERE", "AND")
        plain = {k: v for k, v in params.items() if k != "now"}  # queries without :now
        with store.connection() as conn:
            by_status = store.query(
                conn,
                f"SELECT r.job, {derived}, COUNT(*) FROM {runs} r {where} "
                f"GROUP BY r.job, {derived}",
                params,
            )
            newest = store.query(
                conn,
                f"SELECT r.job, {derived}, r.started_at, r.ended_at FROM {runs} r "
                f"WHERE r.started_at = (SELECT MAX(r2.started_at) FROM {runs} r2 "
                f"WHERE r2.job = r.job) {also}",
                params,
            )
            finished = store.query(
                conn,
                f"SELECT r.job, r.started_at, r.ended_at FROM {runs} r WHERE r.ended_at = "
                f"(SELECT MAX(r2.ended_at) FROM {runs} r2 WHERE r2.job = r.job) {also}",
                plain,
            )
            success = store.query(
                conn,
                f"SELECT r.job, MAX(r.ended_at) FROM {runs} r WHERE r.status = 'succeeded' "
                f"{also} GROUP BY r.job",
                plain,
            )
            totals = store.query(
                conn,
                f"SELECT r.job, s.stream, SUM(s.records_read), SUM(s.records_loaded), "
                f"SUM(s.rejects) FROM {streams} s JOIN {runs} r ON r.run_id = s.run_id "
                f"{where} GROUP BY r.job, s.stream",
                plain,
            )
            conn.rollback()
        jobs: dict[str, dict[str, Any]] = {}

        def entry(name: Any) -> dict[str, Any]:
            return jobs.setdefault(
                str(name),
                {"runs": {}, "last_status": None, "last_duration_s": None,
                 "last_success_at": None, "records": {}, "rejects": {}},
            )  # fmt: skip

        for name, status, count in by_status:
            entry(name)["runs"][str(status)] = int(count)
        for name, status, _started, _ended in newest:
            entry(name)["last_status"] = RunStatus(str(status))
        for name, started, ended in finished:
            begin, end = t(started), t(ended)
            if begin is not None and end is not None:
                entry(name)["last_duration_s"] = round((end - begin).total_seconds(), 3)
        for name, ended in success:
            entry(name)["last_success_at"] = t(ended)
        for name, stream, read, loaded, rejects in totals:
            e = entry(name)
            e["records"][str(stream)] = int(loaded or 0) or int(read or 0)
            e["rejects"][str(stream)] = int(rejects or 0)
        return [JobStats(job=name, **values) for name, values in sorted(jobs.items())]

    # ------------------------------------------------------------------- locks
    def lock(self, job: str, run_id: str, keys: Sequence[str] = ()) -> RunLock:
        """A :class:`RunLock` on ``job`` and ``keys`` (Meltano state ids) for ``run_id``."""
        return RunLock(self.store, job, run_id, keys, lock_ttl_s=self.lock_ttl_s, clock=self.clock)

    def heartbeat(self, run_id: str) -> Heartbeat:
        """A thread beating for ``run_id`` every third of the TTL until stopped."""
        return Heartbeat(self, run_id)


def _clip(value: str | None) -> str | None:
    return None if value is None else value[:_BOOKMARK_CHARS]


class Heartbeat:
    """Beats for one run (its row and its lock rows) from a daemon thread.

    A failed beat is logged and retried at the next interval; it never stops
    the run. Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, ledger: RunLedger, run_id: str) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.interval_s = ledger.lock_ttl_s / 3
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        """Start beating (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"flext-heartbeat-{self.run_id[:8]}", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.ledger.beat(self.run_id)
            except Exception as exc:  # the ledger being unreachable must not stop the run
                log.warning("runs.heartbeat_failed", run_id=self.run_id, error=str(exc))

    def stop(self) -> None:
        """Stop beating and wait for the thread (bounded)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
