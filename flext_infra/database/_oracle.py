"""``OracleConnectionManager``: a python-oracledb pool, its engine, health and facts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flext_infra._lazy import lazy_module
from flext_infra._result import Result
from flext_infra.database._base import DatabaseHealth, _Leases, _ManagerBase
from flext_infra.database._errors import (
    DatabaseConfigurationError,
    DatabaseDisposedError,
    DatabaseError,
    FatalDatabaseError,
)
from flext_infra.database._facts import ServerFacts, parse_version
from flext_infra.database._oracle_params import (
    build_pool_params,
    check_wallet,
    describe_target,
    oracle_settings,
    secret_values,
    session_statement,
)
from flext_infra.observability import get_logger, redactor
from flext_infra.settings import OracleSettings

if TYPE_CHECKING:
    import oracledb
    from sqlalchemy.engine import Engine
else:
    oracledb = lazy_module("oracledb")

_log = get_logger("flext.database.oracle")

#: Seconds ``pool.close()`` may take before dispose gives up on it. python-oracledb
#: joins its background thread on close, which never returns if that thread is
#: stuck reading from a server that accepted the socket but never answers.
POOL_CLOSE_TIMEOUT = 5.0

_thick_lock = threading.Lock()
_thick_lib_dir: list[Path] = []


def _enable_thick_mode(lib_dir: Path, target: str) -> None:
    """Load the Oracle Client libraries once per process (thick mode is process-wide)."""
    with _thick_lock:
        if _thick_lib_dir:
            return
        try:
            oracledb.init_oracle_client(lib_dir=str(lib_dir))
        except oracledb.Error as exc:
            raise FatalDatabaseError(
                str(exc).splitlines()[0],
                target=target,
                hint=(
                    f"{OracleSettings.variable('thick_lib_dir')}={lib_dir} holds the Oracle "
                    "Instant Client libraries, or unset it to use thin mode"
                ),
            ) from exc
        _thick_lib_dir.append(lib_dir)
        _log.info("oracle.thick_mode_enabled", lib_dir=str(lib_dir))


class OracleConnectionManager(_ManagerBase):
    """A python-oracledb connection pool (thin mode) with engine, health and server facts.

    Build it from the ``FLEXT_ORACLE_*`` group, from keyword arguments, or
    both (arguments win)::

        OracleConnectionManager(settings.oracle)
        OracleConnectionManager(host="db", port=1521, service_name="ORCLPDB1",
                                user="etl", password="...")
        OracleConnectionManager(dsn="myadb_high", wallet_location="/wallet",
                                wallet_password="...", protocol="tcps", user="ADMIN",
                                password="...")

    The pool is created on first use, so building the manager opens nothing.
    Thick mode is used only when ``thick_lib_dir`` is set.

    Raises:
        DatabaseConfigurationError: the settings cannot name one database.
        WalletError: TCPS wallet directory or ``ewallet.pem`` missing or unreadable.
    """

    dialect = "oracle"

    def __init__(self, settings: OracleSettings | None = None, /, **options: Any) -> None:
        self.settings = oracle_settings(settings, **options)
        problems = self.settings.problems()
        if problems:
            raise DatabaseConfigurationError(problems)
        self._target = describe_target(self.settings)
        self._secrets = secret_values(self.settings)
        redactor.add(self._secrets)
        check_wallet(self.settings)
        self._statement = session_statement(self.settings)
        self._pool: Any = None
        self._engine: Engine | None = None
        self._facts: ServerFacts | None = None
        self._lock = threading.RLock()
        self._leases = _Leases()
        #: Seconds dispose waits for ``pool.close()`` itself (see POOL_CLOSE_TIMEOUT).
        self.close_timeout = POOL_CLOSE_TIMEOUT

    # --------------------------------------------------------------------- basics
    def pool_params(self) -> dict[str, Any]:
        """The arguments given to ``oracledb.create_pool`` (they hold the password)."""
        callback = self._session_callback if self._needs_callback() else None
        return build_pool_params(self.settings, session_callback=callback)

    def _needs_callback(self) -> bool:
        return self._statement is not None or self.settings.call_timeout > 0

    def _session_callback(self, connection: Any, requested_tag: str | None) -> None:
        """Runs on each new pooled session: NLS settings and CURRENT_SCHEMA, call timeout."""
        if self._statement is not None:
            with connection.cursor() as cursor:
                cursor.execute(self._statement)
        if self.settings.call_timeout > 0:
            connection.call_timeout = self.settings.call_timeout

    # ----------------------------------------------------------------------- pool
    @property
    def pool(self) -> Any:
        """The ``oracledb.ConnectionPool``, created on first access.

        Raises:
            DatabaseDisposedError: the manager was disposed.
            DatabaseError: the pool could not be created.
        """
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._leases.disposed:
                raise DatabaseDisposedError("the Oracle manager was disposed", target=self._target)
            if self._pool is None:
                self._pool = self._create_pool()
            return self._pool

    def _create_pool(self) -> Any:
        s = self.settings
        if s.thick_lib_dir is not None:
            _enable_thick_mode(s.thick_lib_dir, self._target)
        params = self.pool_params()
        try:
            pool = oracledb.create_pool(**params)
        except oracledb.Error as exc:
            raise self._error(exc) from exc
        _log.info(
            "oracle.pool_created",
            target=self._target,
            mode="thin" if oracledb.is_thin_mode() else "thick",
            min=s.pool_min,
            max=s.pool_max,
            increment=s.pool_increment,
            getmode=s.pool_getmode,
        )
        return pool

    @contextmanager
    def acquire(self) -> Iterator[Any]:
        """A pooled ``oracledb.Connection``, released on exit.

        Uncommitted work is rolled back when the connection goes back to the
        pool: call ``commit()`` inside the block. Driver errors, raised while
        acquiring or inside the block, become :class:`DatabaseError` subclasses.

        Raises:
            DatabaseError: e.g. ``ListenerUnreachableError``, ``DatabaseTimeoutError``.
        """
        self._leases.begin(self._target)
        try:
            pool = self.pool
            try:
                connection = pool.acquire()
            except oracledb.Error as exc:
                raise self._acquire_error(exc, _log, "oracle.acquire_failed") from exc
            try:
                yield connection
            except oracledb.Error as exc:
                raise self._error(exc) from exc
            finally:
                try:
                    pool.release(connection)
                except oracledb.Error as exc:
                    # The pool may have been force-closed under us; the session is gone anyway.
                    _log.warning("oracle.release_failed", target=self._target, error=str(exc))
        finally:
            self._leases.end()

    def engine(self) -> Engine:
        """A SQLAlchemy engine whose connections come from this pool.

        Built as SQLAlchemy's Oracle docs show: ``creator=pool.acquire`` with
        ``poolclass=NullPool`` so that python-oracledb alone does the pooling.
        """
        with self._lock:
            if self._engine is None:
                from sqlalchemy import create_engine
                from sqlalchemy.pool import NullPool

                self._engine = create_engine(
                    "oracle+oracledb://", creator=self.pool.acquire, poolclass=NullPool
                )
            return self._engine

    # --------------------------------------------------------------- inspection
    def health(self) -> Result[DatabaseHealth]:
        """``SELECT 1 FROM DUAL`` with its latency, pool opened/busy and the server version.

        A failure is a failed ``Result`` whose ``reason`` names the error
        (``listener_unreachable``, ``invalid_credentials``, ...) and whose
        ``cause`` is the :class:`DatabaseError`.
        """
        try:
            with self.acquire() as connection:
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1 FROM DUAL")
                    cursor.fetchone()
                latency_ms = (time.perf_counter() - started) * 1000
                version = str(connection.version)
            pool = self.pool
            opened, busy = int(pool.opened), int(pool.busy)
        except DatabaseError as err:
            return Result.fail(str(err), reason=err.reason, cause=err)
        return Result.ok(
            DatabaseHealth("oracle", self._target, round(latency_ms, 3), opened, busy, version)
        )

    def server_facts(self) -> ServerFacts:
        """The server's version and ``MAX_STRING_SIZE``, read once and cached.

        Raises:
            DatabaseError: the server could not be reached.
        """
        facts = self._facts
        if facts is not None:
            return facts
        with self._lock:
            if self._facts is None:
                with self.acquire() as connection:
                    version = parse_version(str(connection.version))
                    extended = self._max_string_size_extended(connection)
                self._facts = ServerFacts(version, extended)
                _log.info(
                    "oracle.server_facts",
                    target=self._target,
                    version=".".join(map(str, version)),
                    max_string_size="EXTENDED" if extended else "STANDARD",
                )
            return self._facts

    @staticmethod
    def _max_string_size_extended(connection: Any) -> bool:
        # A probe rather than V$PARAMETER, which needs privileges an ETL user rarely
        # has: SQL VARCHAR2 above 4000 bytes exists only with MAX_STRING_SIZE=EXTENDED,
        # otherwise the cast fails with ORA-00910.
        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT CAST(NULL AS VARCHAR2(32767)) FROM DUAL")
                cursor.fetchall()
            except oracledb.DatabaseError as exc:
                err = exc.args[0] if exc.args else None
                if getattr(err, "code", None) == 910:
                    return False
                raise
        return True

    # ------------------------------------------------------------------- dispose
    def dispose(self, grace: float | None = None) -> None:
        """Wait for busy connections to come back, then close the pool.

        Busy connections (from :meth:`acquire` or the engine) get ``grace``
        seconds (``close_grace_seconds`` by default) to be released. If some
        remain, the pool is closed with ``force=True`` and that is logged. A
        second call does nothing.
        """
        if not self._leases.close():
            return
        with self._lock:
            pool, self._pool = self._pool, None
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()
        if pool is None:
            _log.info("oracle.disposed", target=self._target, pool_created=False)
            return
        grace = self.settings.close_grace_seconds if grace is None else grace
        deadline = time.monotonic() + grace
        busy = _busy(pool)
        while busy > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            busy = _busy(pool)
        force = busy > 0
        if force:
            _log.warning("oracle.pool_force_close", target=self._target, busy=busy, grace_s=grace)
        if _close_with_timeout(pool, force, self.close_timeout):
            _log.info("oracle.pool_closed", target=self._target, forced=force)
        else:
            _log.error(
                "oracle.pool_close_abandoned",
                target=self._target,
                timeout_s=self.close_timeout,
                detail="pool.close() did not return; its background thread is stuck",
            )


def _busy(pool: Any) -> int:
    try:
        return int(pool.busy)
    except oracledb.Error:
        return 0


def _close_with_timeout(pool: Any, force: bool, timeout: float) -> bool:
    """Close ``pool`` in a helper thread; False if it did not finish within ``timeout``."""
    failures: list[BaseException] = []

    def close() -> None:
        try:
            pool.close(force=force)
        except oracledb.Error:
            # Someone checked a connection out between our count and close(): force it.
            try:
                pool.close(force=True)
            except oracledb.Error as exc:
                failures.append(exc)

    worker = threading.Thread(target=close, name="oracle-pool-close", daemon=True)
    worker.start()
    worker.join(timeout)
    if failures:
        _log.warning("oracle.pool_close_failed", error=str(failures[0]))
    return not worker.is_alive()
