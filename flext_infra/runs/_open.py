"""Where the ledger lives, from the settings: one rule for ``flext`` and the plugins.

``FLEXT_RUNS_URL`` when set; otherwise the configured database, as the
``database`` service picks it: Oracle when ``FLEXT_ORACLE_*`` is configured,
``FLEXT_DATABASE_URL``, PostgreSQL at ``FLEXT_TEST_POSTGRES_URL`` in the test
environment, else the SQLite file ``FLEXT_DATABASE_SQLITE_FILE`` in the data
directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flext_infra._environment import Environment
from flext_infra.runs._ledger import RunLedger
from flext_infra.settings import FlextSettings


def open_ledger(settings: FlextSettings, data_dir: Path) -> Iterator[RunLedger]:
    """The ledger the settings name; closes what it opened when the generator ends.

    Written as a generator so the container can use it as a factory with cleanup.
    """
    runs = settings.runs
    options: dict[str, Any] = {
        "lock_ttl_s": runs.lock_ttl_s,
        "retention_days": runs.retention_days,
        "environment": str(settings.environment),
    }
    url = _ledger_url(settings)
    if url is not None:
        yield RunLedger.from_url(url, schema=runs.schema_name, **options)
        return
    if settings.oracle.configured:
        from flext_infra.database import OracleConnectionManager

        manager = OracleConnectionManager(settings.oracle)
        try:
            yield RunLedger.from_manager(manager, schema=runs.schema_name, **options)
        finally:
            manager.dispose()
        return
    path = data_dir / settings.database.sqlite_file
    yield RunLedger.for_sqlite(path, **options)


def _ledger_url(settings: FlextSettings) -> str | None:
    if settings.runs.url is not None:
        return settings.runs.url.get_secret_value()
    if settings.oracle.configured:
        return None
    if settings.database.url is not None:
        return settings.database.url.get_secret_value()
    test_pg = settings.database.test_postgres_url
    if settings.environment is Environment.TEST and test_pg is not None:
        return test_pg.get_secret_value()
    return None
