"""Watch the target's PostgreSQL transactions from outside, and cut them."""

from __future__ import annotations

from typing import Any

import psycopg

# The target's connection is the one inside an open transaction that either holds
# locks on relations of the test's unique schema, or whose statement names it (the
# first batch creates the schema and table in its transaction, so their catalog
# rows are not visible from here yet). The database layer names every connection
# "flext", so application_name alone cannot tell concurrent tests apart.
_OPEN_TX = """
SELECT a.pid, a.xact_start
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
  AND a.datname = current_database()
  AND a.xact_start IS NOT NULL
  AND (
    a.query LIKE %(pattern)s
    OR EXISTS (
      SELECT 1
      FROM pg_locks l
      JOIN pg_class c ON c.oid = l.relation
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = a.pid AND n.nspname = %(schema)s
    )
  )
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
        params = {"schema": self.schema, "pattern": f"%{self.schema}%"}
        row = self.conn.execute(_OPEN_TX, params).fetchone()
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
