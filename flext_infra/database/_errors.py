"""Database errors: one root, named for what the operator should check next.

Driver errors (python-oracledb, sqlite3, psycopg, SQLAlchemy) are converted at
the boundary with :func:`translate_error` (``raise ... from exc`` keeps the
original as ``__cause__``). Each error says whether retrying can help
(``retriable``), which driver code it came from (``code``), which database it
was talking to (``target``, never with a password) and what to check (``hint``).
"""

from __future__ import annotations

import re
import socket
import sqlite3
import ssl
from typing import Any, ClassVar

from flext_infra._errors import ConfigurationError, FlextInfraError
from flext_infra.observability import MASK


class DatabaseError(FlextInfraError):
    """Root of every database error raised by ``flext_infra.database``.

    Attributes:
        retriable: True when the same call may succeed later without a config change.
        code: The driver's code (``DPY-6005``, ``ORA-01017``, a SQLSTATE), when known.
        target: The database being talked to, e.g. ``db.example:1521/ORCLPDB1``.
        hint: What the operator should check.
        reason: A short machine-readable name, used as ``Result.reason``.
    """

    retriable: bool = False
    reason: ClassVar[str] = "database_error"
    title: ClassVar[str] = ""
    default_hint: ClassVar[str] = "the database log and the driver error below"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        target: str | None = None,
        hint: str | None = None,
        retriable: bool | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.code = code
        self.target = target
        self.hint = hint or self.default_hint
        if retriable is not None:
            self.retriable = retriable
        for secret in secrets:
            if secret:
                message = message.replace(secret, MASK)
        self.message = message
        text = message
        if self.title and not text.startswith(self.title):
            where = f" at {target}" if target else ""
            text = f"{self.title}{where}: {text}"
        elif target and target not in text:
            text += f" (database {target})"
        if code and code not in text:
            text = f"{code}: {text}"
        text += f". Check: {self.hint}"
        for secret in secrets:
            if secret:
                text = text.replace(secret, MASK)
        super().__init__(text)


class RetriableDatabaseError(DatabaseError):
    """A failure that may clear by itself: retry with backoff."""

    retriable = True
    reason = "retriable"


class FatalDatabaseError(DatabaseError):
    """A failure that needs a fix (configuration, credentials, SQL): do not retry."""

    retriable = False
    reason = "fatal"


class ListenerUnreachableError(RetriableDatabaseError):
    """Nothing accepted the connection at host:port (DPY-6005, ORA-12541, DPY-6000)."""

    reason = "listener_unreachable"
    title = "listener unreachable"
    default_hint = (
        "the host and port (FLEXT_ORACLE_HOST/PORT or the DSN), that the database "
        "listener is running there, and that no firewall blocks the port"
    )


class UnknownServiceError(RetriableDatabaseError):
    """The listener answered but does not know the service or SID (DPY-6001, ORA-12514).

    python-oracledb deems ORA-12514 recoverable: a service registers with the
    listener some seconds after the instance starts or fails over. If it
    persists, the name is wrong.
    """

    reason = "unknown_service"
    title = "service or SID unknown to the listener"
    default_hint = (
        "FLEXT_ORACLE_SERVICE_NAME / FLEXT_ORACLE_SID (or the DSN) against "
        "`lsnrctl services` on the server; right after a restart, wait and retry"
    )


class InvalidCredentialsError(FatalDatabaseError):
    """The database rejected the user or password (ORA-01017, account locked or expired)."""

    reason = "invalid_credentials"
    title = "login rejected"
    default_hint = (
        "FLEXT_ORACLE_USER and FLEXT_ORACLE_PASSWORD (or the URL's user and password), "
        "and that the account is neither locked nor expired"
    )


class ConnectionClosedError(RetriableDatabaseError):
    """The database or the network closed the connection (DPY-4011, ORA-03113/03135)."""

    reason = "connection_closed"
    title = "connection closed"
    default_hint = (
        "network stability, idle-connection killers (firewalls, load balancers), the "
        "database alert log, and FLEXT_ORACLE_PING_INTERVAL / MAX_LIFETIME_SESSION"
    )


class DatabaseTimeoutError(RetriableDatabaseError, TimeoutError):
    """Connecting, waiting for a pooled connection, or a call took too long."""

    reason = "timeout"
    title = "timed out"
    default_hint = (
        "that the host is reachable (a firewall that drops packets looks like this), "
        "FLEXT_ORACLE_TCP_CONNECT_TIMEOUT, FLEXT_ORACLE_POOL_WAIT_TIMEOUT and "
        "FLEXT_ORACLE_POOL_MAX (all connections busy?), FLEXT_ORACLE_CALL_TIMEOUT"
    )


class WalletError(FatalDatabaseError):
    """The TCPS wallet is missing, unreadable, or does not match the server's certificate."""

    reason = "wallet"
    title = "wallet or TLS problem"
    default_hint = (
        "FLEXT_ORACLE_WALLET_LOCATION points at the unzipped wallet directory holding "
        "ewallet.pem (thin mode) and tnsnames.ora, FLEXT_ORACLE_WALLET_PASSWORD is the "
        "password chosen when downloading it, the wallet belongs to this database, and "
        "FLEXT_ORACLE_SSL_SERVER_DN_MATCH / SSL_SERVER_CERT_DN"
    )


class ConnectConfigurationError(FatalDatabaseError):
    """The connect string, TNS alias or tnsnames.ora cannot be used (DPY-4000/4026/4027)."""

    reason = "connect_configuration"
    title = "connect string unusable"
    default_hint = (
        "FLEXT_ORACLE_DSN (an Easy Connect string, a connect descriptor or a TNS alias) "
        "and FLEXT_ORACLE_CONFIG_DIR (the directory holding tnsnames.ora)"
    )


class DatabaseDisposedError(FatalDatabaseError):
    """The manager was disposed; it hands out no more connections."""

    reason = "disposed"
    default_hint = "the code path that uses the database after the container was disposed"


class DatabaseConfigurationError(FatalDatabaseError, ConfigurationError):
    """The database settings cannot work; the message names each variable to fix."""

    reason = "configuration"

    def __init__(self, problems: list[str] | str, *, hint: str | None = None) -> None:
        problem_list = [problems] if isinstance(problems, str) else list(problems)
        # DatabaseError's __init__ hands the text on to ConfigurationError, which
        # prefixes "invalid configuration:"; keep the problems list as given.
        DatabaseError.__init__(
            self,
            "; ".join(problem_list),
            hint=hint or "the FLEXT_ORACLE_* / FLEXT_DATABASE_* variables named above",
        )
        self.problems = problem_list


#: python-oracledb / Oracle codes for each named error.
_ORACLE_CODES: dict[str, type[DatabaseError]] = {
    "DPY-6000": ListenerUnreachableError,  # listener refused the connection
    "DPY-6005": ListenerUnreachableError,
    "ORA-12541": ListenerUnreachableError,  # TNS: no listener
    "ORA-12543": ListenerUnreachableError,  # TNS: destination host unreachable
    "ORA-12545": ListenerUnreachableError,  # target host or object does not exist
    "DPY-6001": UnknownServiceError,
    "DPY-6003": UnknownServiceError,  # SID not registered
    "ORA-12514": UnknownServiceError,
    "ORA-12505": UnknownServiceError,
    "ORA-01017": InvalidCredentialsError,
    "ORA-28000": InvalidCredentialsError,  # account locked
    "ORA-28001": InvalidCredentialsError,  # password expired
    "DPY-4001": InvalidCredentialsError,  # no credentials given
    "DPY-4011": ConnectionClosedError,
    "ORA-03113": ConnectionClosedError,
    "ORA-03114": ConnectionClosedError,
    "ORA-03135": ConnectionClosedError,
    "DPY-4005": DatabaseTimeoutError,  # timed out waiting for the pool
    "DPY-4024": DatabaseTimeoutError,  # call timeout exceeded
    "ORA-12170": DatabaseTimeoutError,  # TNS: connect timeout
    "ORA-03136": DatabaseTimeoutError,  # inbound connection timed out
    "DPY-2018": WalletError,  # wallet file missing
    "DPY-6002": WalletError,  # server certificate DN mismatch
    "DPY-6006": WalletError,  # server certificate name mismatch
    "ORA-28759": WalletError,  # failure to open file (wallet)
    "ORA-29024": WalletError,  # certificate validation failure
    "DPY-4000": ConnectConfigurationError,  # TNS alias not found
    "DPY-4017": ConnectConfigurationError,
    "DPY-4018": ConnectConfigurationError,
    "DPY-4026": ConnectConfigurationError,  # tnsnames.ora missing
    "DPY-4027": ConnectConfigurationError,  # no configuration directory
    "DPY-2059": ConnectConfigurationError,  # no connect descriptor
}

#: PostgreSQL SQLSTATEs (psycopg) for each named error.
_SQLSTATES: dict[str, type[DatabaseError]] = {
    "28P01": InvalidCredentialsError,
    "28000": InvalidCredentialsError,
    "3D000": UnknownServiceError,  # database does not exist
    "57014": DatabaseTimeoutError,  # statement timeout / cancel
    "55P03": DatabaseTimeoutError,  # lock not available
    "57P01": ConnectionClosedError,  # admin shutdown
    "08006": ConnectionClosedError,
    "08003": ConnectionClosedError,
    "40001": RetriableDatabaseError,  # serialization failure
    "40P01": RetriableDatabaseError,  # deadlock detected
}


_CONNECTION_ID = re.compile(r"\s*\(CONNECTION_ID=[^)]*\)")


#: What to check, in PostgreSQL terms (the defaults speak of FLEXT_ORACLE_*).
_PG_HINTS: dict[type[DatabaseError], str] = {
    ListenerUnreachableError: "the host and port in the URL, and that PostgreSQL listens there",
    UnknownServiceError: "that the database named in the URL (FLEXT_DATABASE_URL) exists",
    InvalidCredentialsError: "the user and password in the URL, and pg_hba.conf",
    DatabaseTimeoutError: (
        "server load, lock waits, statement_timeout and FLEXT_DATABASE_CONNECT_TIMEOUT"
    ),
    ConnectionClosedError: "the PostgreSQL server log and the network between us and it",
}

_CONNECT_FAILURES = (
    (re.compile(r"database \"[^\"]*\" does not exist"), "3D000"),
    (re.compile(r"password authentication failed|role \"[^\"]*\" does not exist"), "28P01"),
    (re.compile(r"no pg_hba\.conf entry"), "28000"),
)


_HANDSHAKE_CLOSED_HINT = (
    "that the port speaks the protocol configured (FLEXT_ORACLE_PROTOCOL=tcps needs a "
    "TCPS listener, 1522 on Autonomous Database; tcp a plain one), and the listener "
    "and database logs for rejected connections (e.g. an access control list)"
)


def _oracle_error_class(
    full_code: str, exc: BaseException
) -> tuple[type[DatabaseError] | None, str | None]:
    """The named class for an oracledb error, and a more specific hint when there is one."""
    cls = _ORACLE_CODES.get(full_code)
    if full_code == "DPY-6005":
        # DPY-6005 wraps the socket-level failure: tell timeouts and TLS problems apart.
        cause = exc.__cause__ or exc.__context__
        chained = cause.__cause__ if cause is not None else None
        for c in (cause, chained):
            if isinstance(c, TimeoutError | socket.timeout):
                return DatabaseTimeoutError, None
            if isinstance(c, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionResetError):
                return ConnectionClosedError, _HANDSHAKE_CLOSED_HINT
            if isinstance(c, ssl.SSLError):
                return WalletError, None
            if c is not None and _oracle_full_code(c) == "DPY-2018":
                return WalletError, None
    return cls, None


def _oracle_full_code(exc: BaseException) -> str:
    err = exc.args[0] if exc.args else None
    return str(getattr(err, "full_code", "") or "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _translate_oracle(
    exc: BaseException, target: str | None, secrets: tuple[str, ...]
) -> DatabaseError:
    err = exc.args[0] if exc.args else None
    full_code = _oracle_full_code(exc)
    raw = str(getattr(err, "message", "") or exc)
    # Keep the driver's lines (they carry the socket error) but drop the
    # CONNECTION_ID and help-URL noise.
    lines = [
        _CONNECTION_ID.sub("", ln).rstrip(" .")
        for ln in raw.strip().splitlines()
        if not ln.startswith("Help:")
    ]
    message = ": ".join(ln for ln in lines if ln) or type(exc).__name__
    recoverable = bool(getattr(err, "isrecoverable", False))
    cls, hint = _oracle_error_class(full_code, exc)
    if cls is None:
        cls = RetriableDatabaseError if recoverable else FatalDatabaseError
        return cls(message, code=full_code or None, target=target, secrets=secrets)
    # A named class keeps its own classification, except that oracledb's
    # isrecoverable can only promote an error to retriable, never demote one.
    retriable = cls.retriable or recoverable
    return cls(
        message,
        code=full_code or None,
        target=target,
        hint=hint,
        retriable=retriable,
        secrets=secrets,
    )


def _translate_psycopg(
    exc: BaseException, target: str | None, secrets: tuple[str, ...]
) -> DatabaseError:
    sqlstate = getattr(exc, "sqlstate", None)
    message = _first_line(str(exc)) or type(exc).__name__
    lowered = str(exc).lower()
    if sqlstate is None:
        # libpq reports server-side connection failures without a SQLSTATE: read the text.
        for pattern, state in _CONNECT_FAILURES:
            if pattern.search(lowered):
                sqlstate = state
                break
    cls = _SQLSTATES.get(sqlstate or "")
    if cls is None:
        if "connection refused" in lowered or "could not connect" in lowered:
            cls = ListenerUnreachableError
        elif "timeout expired" in lowered or "timed out" in lowered:
            cls = DatabaseTimeoutError
        elif "server closed the connection" in lowered or "connection is closed" in lowered:
            cls = ConnectionClosedError
        elif type(exc).__name__ in {"OperationalError", "InterfaceError"}:
            cls = RetriableDatabaseError
        else:
            cls = FatalDatabaseError
    return cls(message, code=sqlstate, target=target, hint=_PG_HINTS.get(cls), secrets=secrets)


def _translate_sqlite(
    exc: sqlite3.Error, target: str | None, secrets: tuple[str, ...]
) -> DatabaseError:
    message = str(exc) or type(exc).__name__
    code = getattr(exc, "sqlite_errorname", None)
    if "database is locked" in message or code in {"SQLITE_BUSY", "SQLITE_LOCKED"}:
        return DatabaseTimeoutError(
            message,
            code=code,
            target=target,
            hint="other writers holding the SQLite file; raise FLEXT_DATABASE_SQLITE_BUSY_TIMEOUT",
            secrets=secrets,
        )
    if "unable to open database file" in message:
        return FatalDatabaseError(
            message,
            code=code,
            target=target,
            hint="that the SQLite file's directory exists and is writable",
            secrets=secrets,
        )
    return FatalDatabaseError(message, code=code, target=target, secrets=secrets)


def translate_error(
    exc: BaseException, *, target: str | None = None, secrets: tuple[str, ...] = ()
) -> DatabaseError:
    """Convert a driver or SQLAlchemy error into the matching :class:`DatabaseError`.

    Raise the result ``from exc`` to keep the driver's error as the cause.

    Args:
        exc: The error raised by python-oracledb, psycopg, sqlite3 or SQLAlchemy.
        target: The database being talked to, for the message (no password).
        secrets: Values that must never appear in the message (they are masked).
    """
    if isinstance(exc, DatabaseError):
        return exc
    orig: Any = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError wraps the driver error
    if isinstance(orig, BaseException):
        exc = orig
    module = type(exc).__module__
    if module.startswith("oracledb"):
        return _translate_oracle(exc, target, secrets)
    if module.startswith("psycopg"):
        return _translate_psycopg(exc, target, secrets)
    if isinstance(exc, sqlite3.Error):
        return _translate_sqlite(exc, target, secrets)
    if isinstance(exc, TimeoutError):
        return DatabaseTimeoutError(str(exc) or "timed out", target=target, secrets=secrets)
    if isinstance(exc, ConnectionRefusedError):
        return ListenerUnreachableError(str(exc), target=target, secrets=secrets)
    return FatalDatabaseError(f"{type(exc).__name__}: {exc}", target=target, secrets=secrets)
