"""Watch the target's PostgreSQL transactions from outside, and cut them."""

from __future__ import annotations

from typing import Any

import psycopg

# The target's connection is the one holding locks on relations of the test's
# unique schema inside an open transaction (the database layer names every
# connection "flext", so application_name alone cannot tell tests apart).
_OPEN_TX = """
SELECT l.pid, a.xact_start
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE n.nspname = %s AND l.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
ORDER BY a.xact_start
LIMIT 1
"""


class TxWatcher:
    """Finds the target's open batch transaction in a schema; terminates backends.

    Args:
        dsn: libpq connection string.
        schema: The test's schema.
    """

    def __init__(self, dsn: str, schema: str) -> None:
        self.schema = schema
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="rel-watcher")
        self.terminated: list[int] = []

    def open_tx(self) -> tuple[int, Any] | None:
        """``(backend_pid, (pid, xact_start))`` of the open transaction, or None."""
        row = self.conn.execute(_OPEN_TX, (self.schema,)).fetchone()
        if row is None:
            return None
        return int(row[0]), (int(row[0]), row[1])

    def terminate(self, pid: int) -> bool:
        """``pg_terminate_backend(pid)``; True when the backend was signalled."""
        row = self.conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
        ok = bool(row and row[0])
        if ok:
            self.terminated.append(pid)
        return ok

    def close(self) -> None:
        """Close the watcher's connection."""
        self.conn.close()
