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
from typing import TYPE_CHECKING, Any, cast

import pymysql
from pymysql.constants import CLIENT

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
        1040,  # too many connections
        1053,  # server shutdown in progress
        1203,  # user has exceeded max_user_connections
        2002,  # can't connect through socket
        2003,  # can't connect (refused, timed out, and DNS failures in PyMySQL)
        2005,  # unknown host (DNS may appear late in compose and Kubernetes)
        2006,  # server has gone away
        2013,  # lost connection during the handshake
    }
)

# The session ended under the runner (server restart, killed connection, network).
CONNECTION_LOST_ERRORS = frozenset({1053, 1927, 2003, 2006, 2013, 2055})

# Refusals that retrying cannot fix (1129: every retry would make a blocked host worse).
ACCESS_ERRORS = frozenset(
    {
        1043,  # bad handshake (e.g. a database name the server cannot parse)
        1044,  # access denied to the database
        1045,  # access denied (wrong user or password)
        1049,  # unknown database
        1102,  # incorrect database name
        1129,  # host blocked because of too many connection errors
        1130,  # host not allowed to connect
        1142,  # command denied (no privilege on a table)
        1143,  # column command denied
        1227,  # access denied: needs a privilege such as SUPER
        1251,  # client does not support the authentication protocol
        3159,  # connections must use TLS
        2026,  # TLS required by the URL, and the server does not offer it
        2059,  # the server asks for an authentication plugin the driver lacks
    }
)
AUTH_PLUGIN_UNSUPPORTED = 2059

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


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection, without a 20 ms cost on every login, telling how long it has
    been blocked on a read or write that has no timeout (for the watchdog).

    PyMySQL 2 tries TLS on every login ("preferred": used when the server offers it,
    the certificate not verified). For that it calls ssl.create_default_context(),
    which loads the system CA store (about 20 ms, a fifth of a no-op run) only never
    to consult it, as verification is off. Without TLS options, this builds the same
    unverified context without the store; with them, PyMySQL's own code runs.
    """

    blocked_since: float | None = None

    # PyMySQL's private I/O methods and attributes are not in its type stubs.
    def _read_packet(self, *args: Any) -> Any:
        driver: Any = super()
        if cast("Any", self)._read_timeout is not None:  # bounded by its socket timeout
            return driver._read_packet(*args)
        self.blocked_since = time.monotonic()
        try:
            return driver._read_packet(*args)
        finally:
            self.blocked_since = None

    def _write_bytes(self, data: bytes) -> None:
        driver: Any = super()
        if cast("Any", self)._write_timeout is not None:
            driver._write_bytes(data)
            return
        self.blocked_since = time.monotonic()
        try:
            driver._write_bytes(data)
        finally:
            self.blocked_since = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp:
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc,no-any-return]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


def connect_once(target: DatabaseTarget, timeout: float) -> pymysql.Connection[Any]:
    """One login attempt, every read and write of it bounded by ``timeout``, as are the
    session's later ones until :func:`bound_io` says otherwise.

    Raises the driver's error, or ConfigError for a bad TLS file.
    """
    options: dict[str, Any] = dict(target.options)
    if options.pop("ssl_disabled", False):
        options = {k: v for k, v in options.items() if not k.startswith("ssl_")}
        options["ssl_disabled"] = True
    timeout = max(timeout, 0.1)
    try:
        return _Connection(
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
            bound_io(connection, settings.connect_timeout)
            interrupts.register_session(connection)
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
    1045: "login refused by {where}: {reason}; check the user and password",
    1044: "login refused by {where}: {reason}; the user may not use this database, or it does"
    " not exist (a user without access to a database is not told which): grant it, or fix"
    " the name",
    1049: "{reason} on {where}: create the database or fix its name",
    1129: "{reason}; the server blocks this host: run FLUSH HOSTS on the server",
    AUTH_PLUGIN_UNSUPPORTED: "{where} asks for an authentication method this runner does not"
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


def bound_io(connection: DriverConnection, seconds: float | None) -> None:
    """Bound every later read and write on the session; None: unbounded (watch it then).

    PyMySQL reads these two private attributes before each read and write.
    """
    driver: Any = connection
    driver._read_timeout = seconds
    driver._write_timeout = seconds


@contextmanager
def io_bound(connection: DriverConnection, seconds: float) -> Iterator[None]:
    """Bound the session's reads and writes for the block, then restore the bound it had."""
    previous: float | None = cast("Any", connection)._read_timeout
    bound_io(connection, seconds)
    try:
        yield
    finally:
        bound_io(connection, previous)


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
