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
from pymysql.constants import ER

from migrator.db import marker
from migrator.db.connection import error_code, error_text, io_bound
from migrator.errors import LockTimeout
from migrator.process import interrupts
from migrator.process.logs import get_logger

if TYPE_CHECKING:
    from migrator.db.connection import DriverConnection

log = get_logger()

LOCK_PREFIX = "migrator:"
MAX_LOCK_NAME = 64  # longer names fail with error 3057
# GET_LOCK blocks in slices this long, so the wait can say who holds the lock.
WAIT_SLICE = 5.0


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

    def __init__(
        self, connection: DriverConnection, database: str, timeout: float, answer_timeout: float
    ) -> None:
        self.connection = connection
        self.name = lock_name(database)
        self.timeout = timeout
        # How long the server may take to answer beyond the wait it was asked for:
        # a frozen server must end the wait, not prolong it forever.
        self.answer_timeout = answer_timeout
        self.held = False

    def acquire(self) -> float:
        """Wait for the lock (no-op when held); returns the seconds spent waiting."""
        if self.held:
            return 0.0
        waited = acquire(self.connection, self.name, self.timeout, self.answer_timeout)
        self.held = True
        return waited

    def release(self) -> None:
        if self.held:
            self.held = False
            release(self.connection, self.name)

    def __enter__(self) -> float:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        with interrupts.held():
            self.release()


def acquire(
    connection: DriverConnection, name: str, timeout: float, answer_timeout: float
) -> float:
    started = time.monotonic()
    deadline = started + timeout
    while True:
        interrupts.checkpoint()  # a fleet's thread learns of a signal between slices
        remaining = deadline - time.monotonic()
        # Whole seconds: fractional GET_LOCK timeouts are not portable.
        wait = math.ceil(max(min(WAIT_SLICE, remaining), 0))
        try:
            with io_bound(connection, wait + answer_timeout):
                got = _scalar(connection, "SELECT GET_LOCK(%s, %s)", (name, wait))
        except pymysql.err.MySQLError as error:
            if error_code(error) == ER.NOT_SUPPORTED_YET:  # Galera/PXC builds refuse GET_LOCK
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
        # Only a waiter names the holder: the no-op path does not import the lookups.
        from migrator.db.sessions import describe_holder

        with io_bound(connection, answer_timeout):
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


def left_behind(connection: DriverConnection, database: str, found: marker.RunMarker) -> bool:
    """Whether a run marker was left by a runner that is gone, not one still migrating.

    A live runner holds the lock from before it writes its marker until after the
    marker is deleted with the revision's stamp. So a marker still there, unchanged,
    after a moment when the lock was free, belongs to nobody.
    """
    name = lock_name(database)
    if _scalar(connection, "SELECT IS_USED_LOCK(%s)", (name,)) is not None:
        return False
    return marker.read(connection) == found


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
