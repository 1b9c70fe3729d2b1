"""The migration lock: MySQL's GET_LOCK, held on the connection that migrates.

Driver-level (PyMySQL, no SQLAlchemy), so the no-op path can wait for it too.

GET_LOCK is session-scoped and released by the server when the session ends,
so a killed runner can never leave a stale lock behind (unlike a lock row).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING, Any

import pymysql

from migrator import marker
from migrator.database import error_code, error_text
from migrator.errors import LockTimeout
from migrator.logs import get_logger

if TYPE_CHECKING:
    from migrator.database import DriverConnection

log = get_logger()

LOCK_PREFIX = "migrator:"
MAX_LOCK_NAME = 64  # longer names fail with error 3057
# GET_LOCK blocks in slices this long, so the wait can say who holds the lock.
WAIT_SLICE = 5.0
NOT_SUPPORTED = 1235  # Galera/PXC builds that refuse GET_LOCK


def lock_name(database: str) -> str:
    """The server-wide lock name for one database (lock names are case-insensitive)."""
    name = LOCK_PREFIX + database.lower()
    if len(name) > MAX_LOCK_NAME:
        digest = hashlib.sha256(database.lower().encode()).hexdigest()
        name = LOCK_PREFIX + digest[: MAX_LOCK_NAME - len(LOCK_PREFIX)]
    return name


class MigrationLock:
    """The database's migration lock on one session: taken once, released once.

    Driver-level, so a runner can wait for it before importing SQLAlchemy and
    Alembic: while one pod migrates, the others wait cheaply and then find the
    database at head.
    """

    def __init__(self, connection: DriverConnection, database: str, timeout: float) -> None:
        self.connection = connection
        self.name = lock_name(database)
        self.timeout = timeout
        self.held = False

    def acquire(self) -> float:
        """Wait for the lock (no-op when held); returns the seconds spent waiting."""
        if self.held:
            return 0.0
        waited = acquire(self.connection, self.name, self.timeout)
        self.held = True
        return waited

    def release(self) -> None:
        if self.held:
            self.held = False
            release(self.connection, self.name)

    def __enter__(self) -> float:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def acquire(connection: DriverConnection, name: str, timeout: float) -> float:
    started = time.monotonic()
    deadline = started + timeout
    while True:
        remaining = deadline - time.monotonic()
        # Whole seconds: fractional GET_LOCK timeouts are not portable.
        wait = math.ceil(max(min(WAIT_SLICE, remaining), 0))
        try:
            got = _scalar(connection, "SELECT GET_LOCK(%s, %s)", (name, wait))
        except pymysql.err.MySQLError as error:
            if error_code(error) == NOT_SUPPORTED:
                # Fail closed: without a lock, two pods would run the same DDL.
                raise LockTimeout(
                    f"the server does not support GET_LOCK ({error_text(error)}), so runners"
                    " cannot exclude each other; set MIGRATE_LOCK=none only where a single"
                    " runner is guaranteed (e.g. one Kubernetes Job)"
                ) from None
            raise
        waited = time.monotonic() - started
        if got == 1:
            if waited >= 1:
                log.info("acquired the migration lock", extra={"waited_s": round(waited, 1)})
            return waited
        if got is None:
            raise LockTimeout(f"GET_LOCK({name!r}) failed on the server")
        holder = describe_holder(connection, name)
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another runner ({holder}) held the migration lock for more than"
                f" {timeout:g}s; raise MIGRATE_LOCK_TIMEOUT or check that runner"
            )
        log.info(
            "waiting for the migration lock",
            extra={"holder": holder, "waited_s": round(waited, 1)},
        )


def describe_holder(connection: DriverConnection, name: str) -> str:
    """Who holds the lock: connection id, user and host from the processlist, and the
    pod and revision from the holder's run marker while it applies one."""
    try:
        rows = _rows(
            connection,
            "SELECT p.ID, p.USER, p.HOST FROM information_schema.PROCESSLIST AS p"
            " WHERE p.ID = IS_USED_LOCK(%s)",
            (name,),
        )
    except pymysql.err.MySQLError:
        return "unknown holder"
    if not rows:
        return "unknown holder"
    holder = "connection {} {}@{}".format(*rows[0])
    try:
        running = marker.read(connection)
    except pymysql.err.MySQLError:
        running = None
    if running is not None:
        holder += (
            f", {running.runner}, applying {running.revision}"
            f" since {running.started_at:%H:%M:%S} UTC"
        )
    return holder


def describe_ddl_blockers(connection: DriverConnection) -> str:
    """Sessions that hold locks in this database, for when a DDL statement waited too long.

    MySQL 8 shows metadata locks in performance_schema; MariaDB (without the
    METADATA_LOCK_INFO plugin) does not, but the sessions with an open InnoDB
    transaction are what holds metadata locks in practice.
    """
    queries = (
        "SELECT DISTINCT t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_HOST,"
        " t.PROCESSLIST_COMMAND, t.PROCESSLIST_TIME"
        " FROM performance_schema.metadata_locks AS m"
        " JOIN performance_schema.threads AS t ON t.THREAD_ID = m.OWNER_THREAD_ID"
        " WHERE m.OBJECT_SCHEMA = DATABASE() AND m.LOCK_STATUS = 'GRANTED'"
        " AND t.PROCESSLIST_ID <> CONNECTION_ID()",
        "SELECT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME"
        " FROM information_schema.INNODB_TRX AS x"
        " JOIN information_schema.PROCESSLIST AS p ON p.ID = x.trx_mysql_thread_id"
        " WHERE p.ID <> CONNECTION_ID()",
    )
    for query in queries:
        try:
            rows = _rows(connection, query)
        except pymysql.err.MySQLError:
            rows = ()
        if rows:
            return "; ".join(
                f"connection {row[0]} {row[1]}@{row[2]} ({row[3]} for {row[4]}s)" for row in rows
            )
    return "no blocking session found (it may have finished)"


def release(connection: DriverConnection, name: str) -> None:
    try:
        _rows(connection, "SELECT RELEASE_LOCK(%s)", (name,))
    except pymysql.err.MySQLError as error:
        # The server releases the lock with the session; a broken connection
        # (the usual reason to land here) has already freed it.
        log.debug("could not release the migration lock", extra={"reason": error_text(error)})


def _rows(
    connection: DriverConnection, sql: str, parameters: tuple[object, ...] = ()
) -> tuple[tuple[Any, ...], ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        rows: tuple[tuple[Any, ...], ...] = cursor.fetchall()
    # End the implicit transaction, so that no later read on this session sees
    # an old snapshot. (Not in a `finally`: after a signal the connection is
    # unusable, and a failing commit would hide why the statement ended.)
    connection.commit()
    return rows


def _scalar(connection: DriverConnection, sql: str, parameters: tuple[object, ...]) -> Any:
    rows = _rows(connection, sql, parameters)
    return rows[0][0] if rows else None
