"""What every connection manager offers, and the lease bookkeeping they share."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from flext_infra._result import Result
from flext_infra.database._errors import DatabaseDisposedError, DatabaseError, translate_error

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """One successful health check.

    Attributes:
        dialect: ``oracle``, ``postgresql`` or ``sqlite``.
        target: The database, without credentials.
        latency_ms: Round trip of the probe query (``SELECT 1 [FROM DUAL]``).
        pool_opened: Connections the pool holds open.
        pool_busy: Connections currently checked out.
        server_version: The server's version string.
    """

    dialect: str
    target: str
    latency_ms: float
    pool_opened: int
    pool_busy: int
    server_version: str

    def __str__(self) -> str:
        """What a person reads: ``sqlite 3.40.1, 0.05 ms``."""
        return f"{self.dialect} {self.server_version}, {self.latency_ms:.2f} ms"


@runtime_checkable
class ConnectionManager(Protocol):
    """The interface shared by :class:`OracleConnectionManager` and :class:`DatabaseManager`.

    Code above the database layer talks to this and does not care which
    database is behind it.
    """

    @property
    def dialect(self) -> str:
        """``oracle``, ``postgresql`` or ``sqlite``."""
        ...

    @property
    def target(self) -> str:
        """The database, without credentials, for logs and messages."""
        ...

    def acquire(self) -> AbstractContextManager[Any]:
        """A DB-API connection, returned to the pool on exit (uncommitted work rolled back)."""
        ...

    def engine(self) -> Engine:
        """The SQLAlchemy engine over the same connections."""
        ...

    def health(self) -> Result[DatabaseHealth]:
        """A probe query's latency, pool counts and server version, or why it failed."""
        ...

    def dispose(self) -> None:
        """Release and close every connection. A second call does nothing."""
        ...


class _Leases:
    """Counts connections handed out by ``acquire()`` so dispose can wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0
        self.disposed = False

    def begin(self, target: str) -> None:
        with self._cond:
            if self.disposed:
                raise DatabaseDisposedError("the connection manager was disposed", target=target)
            self._count += 1

    def end(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        return self._count

    def close(self) -> bool:
        """Refuse new leases; False when already closed."""
        with self._cond:
            if self.disposed:
                return False
            self.disposed = True
            return True

    def wait_returned(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for every lease to end; the number still out."""
        deadline = time.monotonic() + grace
        with self._cond:
            while self._count > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._count


class _ManagerBase:
    """What both managers share: the credential-free target, dispose state, error translation.

    Subclasses set ``_target``, ``_secrets`` and ``_leases`` in ``__init__``.
    """

    _target: str
    _secrets: tuple[str, ...]
    _leases: _Leases

    @property
    def target(self) -> str:
        """The database, e.g. ``db.example:1521/ORCLPDB1`` (never with a password)."""
        return self._target

    @property
    def disposed(self) -> bool:
        """True once ``dispose()`` has run."""
        return self._leases.disposed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target!r})"

    def _error(self, exc: BaseException) -> DatabaseError:
        return translate_error(exc, target=self._target, secrets=self._secrets)

    def _acquire_error(self, exc: BaseException, log: Any, event: str) -> DatabaseError:
        """The translated error of a failed ``acquire()``, logged as ``event``."""
        err = self._error(exc)
        log.warning(
            event,
            target=self._target,
            code=err.code,
            error=type(err).__name__,
            retriable=err.retriable,
        )
        return err
