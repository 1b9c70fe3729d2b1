"""SQLAlchemy connections on the runner's own driver sessions, for the paths that run Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

import pymysql
import sqlalchemy
from pymysql.constants import CR

from migrator.db.connection import (
    ConnectionSettings,
    classify_connect_error,
    session_errors,
    wait_for_database,
)
from migrator.db.watchdog import watched
from migrator.process import interrupts

if TYPE_CHECKING:
    from migrator.db.connection import DriverConnection
    from migrator.settings.target import DatabaseTarget


def sqlalchemy_connection(raw: pymysql.Connection[Any]) -> sqlalchemy.Connection:
    """Wrap an open driver connection in a SQLAlchemy Connection, without logging in again."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    handed_over = False

    def reuse_connection() -> pymysql.Connection[Any]:
        nonlocal handed_over
        if handed_over:
            # The runner holds exactly one connection, the one its lock lives on: once
            # it is lost, so is the lock, and a new login must not pretend otherwise.
            raise pymysql.err.OperationalError(
                CR.CR_SERVER_LOST, "Lost connection to MySQL server: the migration session is gone"
            )
        handed_over = True
        return raw

    # No rollback on close: the session is closed, not pooled, and after a lost
    # connection the attempt would only log an error with a traceback.
    engine = sqlalchemy.create_engine(
        "mysql+pymysql://",
        creator=reuse_connection,
        poolclass=NullPool,
        pool_reset_on_return=None,
    )
    return engine.connect()


def driver_connection(connection: sqlalchemy.Connection) -> DriverConnection:
    """The PyMySQL session under a SQLAlchemy connection (the one the lock lives on)."""
    return cast("DriverConnection", connection.connection.driver_connection)


def sqlalchemy_on(raw: pymysql.Connection[Any], target: DatabaseTarget) -> sqlalchemy.Connection:
    """A SQLAlchemy connection on ``raw``; a session lost meanwhile is the runner's error."""
    try:
        return sqlalchemy_connection(raw)
    except sqlalchemy.exc.DBAPIError as error:
        # SQLAlchemy closes a session it found disconnected; a second close raises.
        with suppress(pymysql.err.Error):
            raw.close()
        raise classify_connect_error(error, target) from None


@contextmanager
def open_connection(settings: ConnectionSettings) -> Iterator[sqlalchemy.Connection]:
    """Wait for the server, then yield one SQLAlchemy connection on a new login.

    Database errors that escape the block untranslated become the runner's
    errors here: lost connections and missing privileges are not internal bugs.
    """
    target = settings.target
    raw = wait_for_database(settings)
    with watched(raw, settings):
        connection = sqlalchemy_on(raw, target)
        try:
            with session_errors(target):
                yield connection
        finally:
            # Closing a connection the server already dropped can fail; the session
            # (and with it the migration lock) is gone either way.
            with interrupts.held(), suppress(Exception):
                connection.close()
