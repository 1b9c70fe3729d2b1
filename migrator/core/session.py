"""One database's migration session: its login, its migration lock, and the state read under it.

The fast path and the full path share it: what one has read, the other does not
read again, and :meth:`LockedSession.close` is the one place where the lock is
released and the session ended. Driver-level (PyMySQL, no SQLAlchemy), so the
no-op path uses it too; SQLAlchemy is loaded only when the full path wraps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pymysql

from migrator.db import marker, online_marker
from migrator.db.connection import io_bound, session_errors, wait_for_database
from migrator.db.lock import MigrationLock
from migrator.process import interrupts
from migrator.process.logs import get_logger

if TYPE_CHECKING:
    import sqlalchemy

    from migrator.db.connection import ConnectionSettings, DriverConnection
    from migrator.db.online_marker import OnlineChange
    from migrator.settings.config import RunOptions

log = get_logger()


@dataclass(frozen=True)
class State:
    """alembic_version's rows (none when it has no table) and the run marker, if any."""

    current: tuple[str, ...]
    running: marker.RunMarker | None


class LockedSession:
    """The session a run migrates on, the migration lock on it, and what was read on it.

    ``seen`` is the state read before the lock, ``locked`` the state read once the
    lock is held (without a lock, MIGRATE_LOCK=none, the state before it): each at
    most once, by whichever path got there first.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        connection: DriverConnection,
        lock: MigrationLock | None,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.lock = lock
        self.seen: State | None = None
        self.locked: State | None = None
        self.waited = 0.0  # seconds spent waiting for the lock
        self._online: tuple[OnlineChange | None] | None = None
        self._sqlalchemy: sqlalchemy.Connection | None = None

    @classmethod
    def login(cls, settings: ConnectionSettings, options: RunOptions) -> LockedSession:
        """Wait for the database and log in; the lock is taken later, by take_lock."""
        connection = wait_for_database(settings)
        lock = None
        if options.use_lock:
            lock = MigrationLock(
                connection,
                settings.target.database,
                options.lock_timeout,
                settings.connect_timeout,
            )
        return cls(settings, connection, lock)

    @property
    def alive(self) -> bool:
        return bool(self.connection.open)

    def read(self) -> State:
        """alembic_version and the run marker, in one round trip (the driver's errors escape).

        Without alembic_version the marker is read on its own: the runner never leaves a
        marker without that table, but a person may drop it, and a marker is never ignored."""
        current, running = marker.read_with_version(self.connection)
        if current is None:
            running = marker.read(self.connection)
        return State(current or (), running)

    def observe(self) -> State:
        """The state before the lock: read once."""
        if self.seen is None:
            self.seen = self.read()
        return self.seen

    def acquire(self) -> float:
        """Wait for the migration lock (no-op when held); the seconds spent waiting."""
        if self.lock is None:
            log.warning("running without the migration lock (MIGRATE_LOCK=none)")
            return 0.0
        if not self.lock.held:
            self.waited = self.lock.acquire()
        return self.waited

    def take_lock(self) -> State:
        """Take the lock if nobody has, then the state under it: read once."""
        if self.locked is not None:
            return self.locked
        self.acquire()
        # Without a lock the state cannot change hands: what was seen stands.
        self.locked = self.seen if self.lock is None and self.seen is not None else self.read()
        return self.locked

    def reread(self) -> State:
        """The state under the lock again, after this run changed it (an online change's
        recovery may delete the run marker)."""
        self.locked = self.read()
        return self.locked

    def online_change(self) -> OnlineChange | None:
        """The record of an online change a killed run left, as found under the lock: read once."""
        if self._online is None:
            self._online = (online_marker.read(self.connection),)
        return self._online[0]

    @contextmanager
    def sqlalchemy(self) -> Iterator[sqlalchemy.Connection]:
        """The session as a SQLAlchemy connection for the block, under the watchdog, with
        database errors turned into the runner's; :meth:`close` closes it."""
        from migrator.db.engine import sqlalchemy_on
        from migrator.db.watchdog import watched

        target = self.settings.target
        with watched(self.connection, self.settings):
            if self._sqlalchemy is None:
                self._sqlalchemy = sqlalchemy_on(self.connection, target)
            with session_errors(target):
                yield self._sqlalchemy

    def close(self) -> None:
        """Release the lock and end the session: the one place either happens.

        Safe on every way out: after a lost connection the server has already freed
        the lock with the session."""
        with interrupts.held():
            if self.lock is not None and self.lock.held and self.connection.open:
                # Bounded: a server that stopped answering must not hold the run here.
                with io_bound(self.connection, self.settings.connect_timeout):
                    self.lock.release()
            if self._sqlalchemy is not None:
                # Closing a connection the server already dropped can fail.
                with suppress(Exception):
                    self._sqlalchemy.close()
            elif self.connection.open:
                with suppress(pymysql.err.Error):
                    self.connection.close()

    def __enter__(self) -> LockedSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
