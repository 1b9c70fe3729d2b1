"""Logging in to MySQL/MariaDB, waiting until the server accepts a login.

Waiting uses the driver alone (no SQLAlchemy), so `wait` stays light, and the
connection that proved the server ready is the one the migration then uses.

No read or write on a session can block forever: the login and the runner's own
short queries are bounded by the connect timeout, the lock wait by its slice, and
a migration's statements, which may legitimately run for hours, by the watchdog
of :mod:`migrator.db.watchdog`.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import pymysql
from pymysql.constants import CLIENT, CR, ER

from migrator.db import error_numbers
from migrator.db.driver_compat import TimedConnection, io_timeout, set_io_timeout, shut_down
from migrator.errors import AccessDenied, ConfigError, DatabaseUnreachable, MigratorError
from migrator.process import interrupts
from migrator.process.logs import get_logger
from migrator.settings.target import DatabaseTarget

if TYPE_CHECKING:
    from typing import TypeAlias

    # One PyMySQL session: what the wait, the fast path and the lock work with.
    DriverConnection: TypeAlias = pymysql.Connection[Any]

log = get_logger()

# Errors that mean "not ready yet": the server is starting, restarting, or
# momentarily out of connections. Anything else is retried in vain.
RETRYABLE_ERRORS = frozenset(
    {
        ER.CON_COUNT_ERROR,
        ER.SERVER_SHUTDOWN,
        ER.TOO_MANY_USER_CONNECTIONS,  # the user's max_user_connections
        CR.CR_CONNECTION_ERROR,  # through the socket
        CR.CR_CONN_HOST_ERROR,  # refused, timed out, and DNS failures in PyMySQL
        CR.CR_UNKNOWN_HOST,  # DNS may appear late in compose and Kubernetes
        CR.CR_SERVER_GONE_ERROR,
        CR.CR_SERVER_LOST,  # during the handshake
    }
)

# The session ended under the runner (server restart, killed connection, network).
CONNECTION_LOST_ERRORS = frozenset(
    {
        ER.SERVER_SHUTDOWN,
        error_numbers.CONNECTION_KILLED,
        CR.CR_CONN_HOST_ERROR,
        CR.CR_SERVER_GONE_ERROR,
        CR.CR_SERVER_LOST,
        CR.CR_SERVER_LOST_EXTENDED,
    }
)

# Refusals that retrying cannot fix (a blocked host: every retry would make it worse).
ACCESS_ERRORS = frozenset(
    {
        ER.HANDSHAKE_ERROR,  # e.g. a database name the server cannot parse
        ER.DBACCESS_DENIED_ERROR,
        ER.ACCESS_DENIED_ERROR,  # wrong user or password
        ER.BAD_DB_ERROR,  # unknown database
        ER.WRONG_DB_NAME,
        ER.HOST_IS_BLOCKED,  # too many connection errors from this host
        ER.HOST_NOT_PRIVILEGED,
        ER.TABLEACCESS_DENIED_ERROR,  # no privilege on a table
        ER.COLUMNACCESS_DENIED_ERROR,
        ER.SPECIFIC_ACCESS_DENIED_ERROR,  # needs a privilege such as SUPER
        ER.NOT_SUPPORTED_AUTH_MODE,
        error_numbers.SECURE_TRANSPORT_REQUIRED,
        CR.CR_SSL_CONNECTION_ERROR,  # TLS required by the URL, and the server offers none
        CR.CR_AUTH_PLUGIN_CANNOT_LOAD,  # an authentication plugin the driver lacks
    }
)
# Errors that mean "this user may not look there" (or create it).
NOT_PERMITTED = frozenset(
    {
        ER.DBACCESS_DENIED_ERROR,
        ER.TABLEACCESS_DENIED_ERROR,
        ER.COLUMNACCESS_DENIED_ERROR,
        ER.SPECIFIC_ACCESS_DENIED_ERROR,
    }
)

INITIAL_BACKOFF = 0.1
MAX_BACKOFF = 2.0
# Waiting is logged on the first failure and then at most this often.
WAIT_LOG_INTERVAL = 5.0


@dataclass(frozen=True)
class ConnectionSettings:
    """A target plus how long to keep trying it."""

    target: DatabaseTarget
    wait_timeout: float
    connect_timeout: float


def error_code(error: BaseException) -> int | None:
    """The MySQL error number of a driver error, also when wrapped by SQLAlchemy."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, pymysql.err.MySQLError) and cause.args:
        code = cause.args[0]
        if isinstance(code, int):
            return code
    return None


def error_text(error: BaseException) -> str:
    """The server's or driver's message without SQLAlchemy's statement dump and links."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, pymysql.err.MySQLError) and len(cause.args) >= 2:
        return f"({cause.args[0]}) {cause.args[1]}"
    return str(cause).split("\n", 1)[0] or type(cause).__name__


def is_mariadb(server_version: object) -> bool:
    """Whether a server's version (its handshake's, or `SELECT VERSION()`) is MariaDB's,
    e.g. "10.11.19-MariaDB-0+deb12u1"; MySQL's is "9.7.4"."""
    return "mariadb" in str(server_version).lower()


def connect_once(target: DatabaseTarget, timeout: float) -> pymysql.Connection[Any]:
    """One login attempt, every read and write of it bounded by ``timeout``, as are the
    session's later ones until :func:`~migrator.db.driver_compat.set_io_timeout` says otherwise.

    Raises the driver's error, or ConfigError for a bad TLS file.
    """
    options: dict[str, Any] = dict(target.options)
    if options.pop("ssl_disabled", False):
        options = {k: v for k, v in options.items() if not k.startswith("ssl_")}
        options["ssl_disabled"] = True
    timeout = max(timeout, 0.1)
    try:
        return TimedConnection(
            host=target.host,
            port=target.port,
            user=target.user,
            # PyMySQL sends a str password as Latin-1; the mysql client and the
            # server's own hashing use the connection's character set, UTF-8.
            password=target.password.get_secret_value().encode("utf-8"),
            database=target.database,
            charset="utf8mb4",
            # connect_timeout covers only the TCP connect: a proxy that accepts and
            # never greets would otherwise hold the login forever.
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            # Alembic checks that stamping a revision matched one row; MySQL
            # counts only changed rows unless asked for found rows.
            client_flag=CLIENT.FOUND_ROWS,
            **options,
        )
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise ConfigError(f"TLS file in DATABASE_URL cannot be read: {error.strerror}") from None
    except ssl.SSLError as error:  # raised while loading the files, before any handshake
        raise ConfigError(
            f"TLS file in DATABASE_URL is not a usable certificate or key: {error.reason or error}"
        ) from None
    except OSError as error:  # e.g. a path too long for the file system
        raise ConfigError(f"TLS file in DATABASE_URL cannot be read: {error.strerror}") from None


def wait_for_database(
    settings: ConnectionSettings,
    *,
    sleep: Callable[[float], None] = interrupts.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> pymysql.Connection[Any]:
    """Log in and run ``SELECT 1``, retrying "not ready yet" errors until the deadline."""
    target = settings.target
    deadline = clock() + settings.wait_timeout
    attempt = 0
    backoff = INITIAL_BACKOFF
    next_log = clock()
    while True:
        interrupts.checkpoint()
        attempt += 1
        remaining = deadline - clock()
        try:
            connection = connect_once(target, min(settings.connect_timeout, max(remaining, 0)))
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            # The runner's own short queries on this session answer within this.
            set_io_timeout(connection, settings.connect_timeout)
            interrupts.register_session(partial(shut_down, connection))
            if attempt > 1:
                log.info("database is ready", extra={"attempts": attempt})
            return connection
        except pymysql.err.MySQLError as error:
            handshake = _tls_failure(error)
            if handshake is not None:  # a certificate does not get better by retrying
                raise AccessDenied(
                    f"TLS handshake with {target.host}:{target.port} failed:"
                    f" {handshake.reason or handshake}"
                ) from None
            code = error_code(error)
            reason = error_text(error)
            if code not in RETRYABLE_ERRORS:
                raise classify_connect_error(error, target) from None
        now = clock()
        if now >= deadline:
            raise DatabaseUnreachable(
                f"{target.redacted_url()} did not accept a login within"
                f" {settings.wait_timeout:g}s ({attempt} attempts); last error: {reason}"
            )
        if now >= next_log:
            log.info(
                "waiting for the database",
                extra={
                    "attempt": attempt,
                    "reason": reason,
                    "target": target.redacted_url(),
                    # A typo'd port in an interactive `status` should not look like a hang.
                    "gives_up_in_s": round(deadline - now),
                },
            )
            next_log = now + WAIT_LOG_INTERVAL
        # Full jitter spreads out many pods that started together.
        sleep(min(random.uniform(0, backoff), max(deadline - now, 0)))  # noqa: S311
        backoff = min(backoff * 2, MAX_BACKOFF)


# A connection cut during the handshake (a server restarting) is worth retrying.
_TRANSIENT_TLS_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _tls_failure(error: pymysql.err.MySQLError) -> ssl.SSLError | None:
    """The TLS error behind a login failure, when retrying cannot fix it (a certificate)."""
    # PyMySQL reports a failed handshake as error 2003, "can't connect", which is
    # otherwise retried; the SSL error it wraps tells the two apart.
    original = getattr(error, "original_exception", None)
    if isinstance(original, ssl.SSLError) and not isinstance(original, _TRANSIENT_TLS_ERRORS):
        return original
    return None


# What a person does about a refused login, by error number ({where}: the target).
_LOGIN_HINTS = {
    ER.ACCESS_DENIED_ERROR: "login refused by {where}: {reason}; check the user and password",
    ER.DBACCESS_DENIED_ERROR: "login refused by {where}: {reason}; the user may not use this"
    " database, or it does not exist (a user without access to a database is not told which):"
    " grant it, or fix the name",
    ER.BAD_DB_ERROR: "{reason} on {where}: create the database or fix its name",
    ER.HOST_IS_BLOCKED: "{reason}; the server blocks this host: run FLUSH HOSTS on the server",
    CR.CR_AUTH_PLUGIN_CANNOT_LOAD: "{where} asks for an authentication method this runner does not"
    " support ({reason}); give the user mysql_native_password, caching_sha2_password or ed25519",
}


def classify_connect_error(error: BaseException, target: DatabaseTarget) -> MigratorError:
    """Turn a login failure into the runner's error with a hint at the fix."""
    code = error_code(error)
    reason = error_text(error)
    where = target.redacted_url()
    if code in _LOGIN_HINTS:
        return AccessDenied(_LOGIN_HINTS[code].format(where=where, reason=reason))
    if code in ACCESS_ERRORS:
        return AccessDenied(f"{where} refused the connection: {reason}")
    return DatabaseUnreachable(f"cannot connect to {where}: {reason}")


@contextmanager
def io_bound(connection: DriverConnection, seconds: float) -> Iterator[None]:
    """Bound the session's reads and writes for the block, then restore the bound it had."""
    previous = io_timeout(connection)
    set_io_timeout(connection, seconds)
    try:
        yield
    finally:
        set_io_timeout(connection, previous)


def connection_lost(error: BaseException) -> bool:
    """Whether a database error means the session is gone."""
    cause = getattr(error, "orig", None) or error
    # PyMySQL's InterfaceError means a statement on a connection it had to close.
    return error_code(error) in CONNECTION_LOST_ERRORS or isinstance(
        cause, pymysql.err.InterfaceError
    )


@contextmanager
def session_errors(target: DatabaseTarget) -> Iterator[None]:
    """Turn database errors that escape the block into the runner's errors.

    Lost connections and missing privileges are not internal bugs; this holds for
    errors from the driver (the lock, the run marker) and from SQLAlchemy alike.
    """
    try:
        yield
    except Exception as error:
        cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's
        if not isinstance(cause, pymysql.err.MySQLError):
            raise
        code = error_code(error)
        if connection_lost(error):
            raise DatabaseUnreachable(
                f"lost the connection to {target.redacted_url()}: {error_text(error)}"
            ) from None
        if code in ACCESS_ERRORS:
            raise AccessDenied(
                f"{target.redacted_url()} refused a statement: {error_text(error)}"
            ) from None
        raise
