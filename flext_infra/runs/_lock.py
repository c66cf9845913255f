"""``RunLock``: one running copy per job (and per Meltano state id).

How each database holds the lock:

| Database   | Mechanism                                                        |
|------------|------------------------------------------------------------------|
| PostgreSQL | ``pg_try_advisory_lock`` on a connection held for the run; the   |
|            | server frees it the moment the holder's session ends, however it |
|            | ends. A row in ``flext_run_locks`` names the holder.             |
| SQLite     | A row in ``flext_run_locks`` with a heartbeat and an expiry      |
|            | (``lock_ttl_s``); the primary key makes taking it atomic, and an |
|            | expired row may be taken over.                                   |
| Oracle     | The same lock row as SQLite. ``DBMS_LOCK`` would need an         |
|            | ``EXECUTE`` grant on ``SYS.DBMS_LOCK`` that Autonomous Database  |
|            | users rarely get; a row needs only the ledger's own tables.      |

A holder that dies leaves its row behind, but the row expires ``lock_ttl_s``
after its last heartbeat, and its run then reads as ``abandoned``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from flext_infra._errors import FlextInfraError
from flext_infra.observability import get_logger
from flext_infra.runs._models import LockHolder, current_host, iso, utcnow
from flext_infra.runs._store import LOCKS, RUNS, LedgerStore, is_duplicate_key

log = get_logger("flext.runs")

#: How often a waiting run tries the lock again (seconds).
POLL_S = 0.5


class RunLockError(FlextInfraError):
    """Root of the run lock's errors."""


class LockHeldError(RunLockError):
    """Another run holds the lock: the run was refused.

    The message names the holder:
    ``job incremental-sync-job is already running (run R, pid P on host H since T)``.

    Attributes:
        holder: Who holds it (None when the holder has not recorded itself yet).
        job: The job that was refused.
    """

    def __init__(self, job: str, key: str, holder: LockHolder | None) -> None:
        self.job = job
        self.key = key
        self.holder = holder
        super().__init__(describe_holder(job, key, holder))


def describe_holder(job: str, key: str, holder: LockHolder | None) -> str:
    """The refusal message for ``job`` finding ``key`` held by ``holder``."""
    if holder is None:
        return f"job {job} is already running (its holder has not recorded itself yet)"
    since = (iso(holder.since) or "")[:19] + "Z"
    text = (
        f"job {holder.job} is already running (run {holder.run_id}, pid {holder.pid} "
        f"on host {holder.host} since {since})"
    )
    if key.startswith("state:"):
        text += f" and holds Meltano state id {key.removeprefix('state:')}"
    return text


def job_key(job: str) -> str:
    """The lock key of a job."""
    return f"job:{job}"


def state_key(state_id: str) -> str:
    """The lock key of a Meltano state id."""
    return f"state:{state_id}"


def advisory_key(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL's advisory lock id)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class RunLock:
    """The lock of one run on its job and state ids; a context manager.

    Usually made by ``RunLedger.lock(job, run_id, keys)``.

    Args:
        store: The ledger's database, which holds the lock.
        job: The job.
        run_id: The run taking the lock (its heartbeat keeps the lock rows fresh).
        keys: Further keys to hold, e.g. ``state:dev:tap-x-to-target-y``.
        lock_ttl_s: How long a lock row outlives its last heartbeat.
        clock: The current time (the ledger's).
    """

    def __init__(
        self,
        store: LedgerStore,
        job: str,
        run_id: str,
        keys: Sequence[str] = (),
        *,
        lock_ttl_s: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.lock_ttl_s = lock_ttl_s
        self.clock = clock
        self.job = job
        self.run_id = run_id
        self.keys = sorted(dict.fromkeys([job_key(job), *keys]))  # one order: no deadlock
        self._held: list[str] = []
        self._stack = ExitStack()
        self._pg_conn: Any = None

    @property
    def store(self) -> LedgerStore:
        """The ledger's database access."""
        return self._store

    @property
    def held(self) -> bool:
        """True while every key is held."""
        return len(self._held) == len(self.keys)

    def acquire(self, wait_s: float = 0.0) -> RunLock:
        """Take every key, waiting up to ``wait_s`` seconds (``inf``: until free).

        Raises:
            LockHeldError: still held by another run when the wait is over.
        """
        deadline = time.monotonic() + wait_s
        announced = False
        while True:
            try:
                self._try_all()
                if announced:
                    log.info("runs.lock_acquired_after_wait", job=self.job, run_id=self.run_id)
                return self
            except LockHeldError as exc:
                if time.monotonic() >= deadline:
                    raise
                if not announced:
                    log.info("runs.lock_waiting", job=self.job, holder=str(exc))
                    announced = True
                time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _try_all(self) -> None:
        self.store.ensure_tables()
        try:
            for key in self.keys:
                if key not in self._held:
                    self._take(key)
                    self._held.append(key)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Give every held key back (safe to call twice, and after a failed acquire)."""
        for key in reversed(self._held):
            try:
                self.store.write(
                    f"DELETE FROM {self.store.table(LOCKS)} WHERE lock_key = :key "
                    "AND run_id = :run_id",
                    {"key": key, "run_id": self.run_id},
                )
            except Exception as exc:  # it expires after the TTL anyway
                log.warning("runs.lock_release_failed", key=key, error=str(exc))
        if self._pg_conn is not None:
            self._unlock_advisory()
        self._held.clear()
        self._stack.close()
        self._pg_conn = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    # ------------------------------------------------------------ one key
    def _take(self, key: str) -> None:
        if self.store.dialect.name == "postgresql":
            self._take_advisory(key)
        else:
            self._take_row(key)

    def _row_params(self, key: str) -> dict[str, Any]:
        now = self.clock()
        b = self.store.dialect.bind_time
        return {
            "key": key,
            "run_id": self.run_id,
            "job": self.job,
            "host": current_host(),
            "pid": os.getpid(),
            "now": b(now),
            "expires": b(now + timedelta(seconds=self.lock_ttl_s)),
        }

    _INSERT = (
        "INSERT INTO {t} (lock_key, run_id, job, host, pid, acquired_at, heartbeat_at, "
        "expires_at) VALUES (:key, :run_id, :job, :host, :pid, :now, :now, :expires)"
    )

    def _take_row(self, key: str) -> None:
        store = self.store
        params = self._row_params(key)
        with store.connection() as conn:
            try:
                store.execute(conn, self._INSERT.format(t=store.table(LOCKS)), params)
                conn.commit()
                return
            except Exception as exc:
                if not is_duplicate_key(exc):
                    raise
                conn.rollback()
            holder = self._holder(conn, key)
            if holder is None or holder.expires_at >= self.clock():
                conn.rollback()
                raise LockHeldError(self.job, key, holder)
            # The holder stopped beating longer than the TTL ago: take it over.
            taken = store.execute(
                conn,
                f"UPDATE {store.table(LOCKS)} SET run_id = :run_id, job = :job, host = :host, "
                "pid = :pid, acquired_at = :now, heartbeat_at = :now, expires_at = :expires "
                "WHERE lock_key = :key AND run_id = :old AND expires_at < :now",
                {**params, "old": holder.run_id},
            )
            if taken != 1:  # someone else took it first
                conn.rollback()
                raise LockHeldError(self.job, key, self._holder(conn, key))
            self._abandon(conn, holder)
            conn.commit()

    def _abandon(self, conn: Any, holder: LockHolder) -> None:
        log.warning(
            "runs.lock_expired", key=holder.key, run_id=holder.run_id, pid=holder.pid,
            host=holder.host, expired_at=iso(holder.expires_at),
        )  # fmt: skip
        now = self.store.dialect.bind_time(self.clock())
        self.store.execute(
            conn,
            f"UPDATE {self.store.table(RUNS)} SET status = 'abandoned' WHERE run_id = :run_id "
            "AND status = 'running' AND expires_at < :now",
            {"run_id": holder.run_id, "now": now},
        )

    def _holder(self, conn: Any, key: str) -> LockHolder | None:
        rows = self.store.query(
            conn,
            f"SELECT lock_key, run_id, job, host, pid, acquired_at, expires_at "
            f"FROM {self.store.table(LOCKS)} WHERE lock_key = :key",
            {"key": key},
        )
        if not rows:
            return None
        row = rows[0]
        t = self.store.dialect.read_time
        since, expires = t(row[5]), t(row[6])
        assert since is not None and expires is not None
        return LockHolder(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
                          since, expires)  # fmt: skip

    # ------------------------------------------------------- PostgreSQL
    def _advisory_conn(self) -> Any:
        if self._pg_conn is None:
            self.store.ensure_tables()
            self._pg_conn = self._stack.enter_context(self.store._connect())
        return self._pg_conn

    def _take_advisory(self, key: str) -> None:
        conn = self._advisory_conn()
        [(ok,)] = self.store.query(
            conn, "SELECT pg_try_advisory_lock(:k)", {"k": advisory_key(key)}
        )
        conn.commit()  # a session-level lock outlives the transaction
        store = self.store
        if not ok:
            holder = None
            with store.connection() as other:
                holder = self._holder(other, key)
                other.rollback()
            raise LockHeldError(self.job, key, holder)
        params = self._row_params(key)
        with store.connection() as rows:
            stale = self._holder(rows, key)
            store.execute(rows, f"DELETE FROM {store.table(LOCKS)} WHERE lock_key = :key",
                          {"key": key})  # fmt: skip
            store.execute(rows, self._INSERT.format(t=store.table(LOCKS)), params)
            if stale is not None and stale.expires_at < self.clock():
                self._abandon(rows, stale)
            rows.commit()

    def _unlock_advisory(self) -> None:
        conn = self._pg_conn
        try:
            self.store.query(conn, "SELECT pg_advisory_unlock_all()")
            conn.commit()
        except Exception as exc:
            log.warning("runs.advisory_unlock_failed", error=str(exc))
            # Never hand a session that may still hold the lock back to a pool.
            with contextlib.suppress(Exception):
                conn.invalidate()
