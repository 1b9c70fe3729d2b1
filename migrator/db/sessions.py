"""Naming the server sessions that hold what the runner waits for, with the privileges it has.

A least-privilege migration user sees only its own sessions: naming a blocker owned
by another user needs the PROCESS privilege (or SELECT on performance_schema).
Every lookup here degrades to what the user can see, and says so when that is
nothing, rather than answering "no blocking session" while one is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql

from migrator.db import marker
from migrator.db.connection import NOT_PERMITTED, error_code, is_mariadb
from migrator.db.watchdog import PROBE_SESSIONS

if TYPE_CHECKING:
    from migrator.db.connection import DriverConnection

_GRANT_HINT = "GRANT PROCESS ON *.* to the migration user to name them"


@dataclass(frozen=True)
class Session:
    id: int
    user: str
    host: str
    command: str
    seconds: int
    database: str | None = None

    def describe(self) -> str:
        return f"connection {self.id} {self.user}@{self.host} ({self.command} for {self.seconds}s)"


def processlist_table(connection: DriverConnection) -> str:
    # MySQL 8.0.22+ recommends performance_schema.processlist and deprecates the
    # information_schema table (warning 1287 on 9.x); MariaDB has only the latter.
    if is_mariadb(connection.get_server_info()):  # type: ignore[no-untyped-call]
        return "information_schema.PROCESSLIST"
    return "performance_schema.processlist"


def describe_holder(connection: DriverConnection, lock: str) -> str:
    """Who holds a GET_LOCK lock: the connection id always, its user and host when
    visible, and the pod and revision from its run marker while it applies one."""
    try:
        holder = _rows(connection, "SELECT IS_USED_LOCK(%s)", (lock,))[0][0]
    except pymysql.err.MySQLError:
        return "unknown holder"
    if holder is None:
        return "unknown holder (the lock was just released)"
    session = _find_session(connection, int(holder))
    text = (
        f"connection {session.id} {session.user}@{session.host}"
        if session is not None
        else f"connection {holder} (its user is not visible without the PROCESS privilege)"
    )
    try:
        running = marker.read(connection)
    except pymysql.err.MySQLError:
        running = None
    if running is not None:
        text += (
            f", {running.runner}, applying {running.revision}"
            f" since {running.started_at:%H:%M:%S} UTC"
        )
    return text


def describe_ddl_blockers(connection: DriverConnection) -> str:
    """The sessions that may hold the metadata lock a DDL statement waited for.

    MySQL shows metadata locks in performance_schema; MariaDB (without the
    METADATA_LOCK_INFO plugin) does not, but the sessions with an open InnoDB
    transaction are what holds metadata locks in practice. Without privileges for
    either, the user's own other sessions in this database are all it can name.
    """
    table = processlist_table(connection)
    queries = (
        "SELECT DISTINCT t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_HOST,"
        " t.PROCESSLIST_COMMAND, t.PROCESSLIST_TIME"
        " FROM performance_schema.metadata_locks AS m"
        " JOIN performance_schema.threads AS t ON t.THREAD_ID = m.OWNER_THREAD_ID"
        " WHERE m.OBJECT_SCHEMA = DATABASE() AND m.LOCK_STATUS = 'GRANTED'"
        " AND t.PROCESSLIST_ID <> CONNECTION_ID()",
        "SELECT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME"  # noqa: S608 - a constant table name
        f" FROM information_schema.INNODB_TRX AS x JOIN {table} AS p"
        " ON p.ID = x.trx_mysql_thread_id WHERE p.ID <> CONNECTION_ID()",
    )
    refused = 0
    for query in queries:
        try:
            rows = _rows(connection, query)
        except pymysql.err.MySQLError as error:
            refused += error_code(error) in NOT_PERMITTED
            continue
        rows = tuple(row for row in rows if row[0] not in PROBE_SESSIONS)
        if rows:
            return "; ".join(Session(*row[:5]).describe() for row in rows)
    if refused < len(queries):
        return "no blocking session found (it may have finished)"
    own = [session for session in _own_sessions(connection) if session.database]
    if own:
        return (
            "; ".join(session.describe() for session in own)
            + f" (this user's own sessions in this database; other users' are not visible:"
            f" {_GRANT_HINT})"
        )
    return (
        "no session visible: the migration user lacks the PROCESS privilege and SELECT on"
        f" performance_schema, so only its own sessions can be seen and none blocks;"
        f" {_GRANT_HINT}"
    )


def _find_session(connection: DriverConnection, session_id: int) -> Session | None:
    table = processlist_table(connection)
    try:
        rows = _rows(
            connection,
            f"SELECT ID, USER, HOST, COMMAND, TIME FROM {table} WHERE ID = %s",  # noqa: S608
            (session_id,),
        )
    except pymysql.err.MySQLError:
        rows = ()
    if rows:
        return Session(*rows[0][:5])
    return next((s for s in _all_sessions(connection) if s.id == session_id), None)


def _own_sessions(connection: DriverConnection) -> list[Session]:
    """This user's other sessions in the current database, from SHOW PROCESSLIST."""
    try:
        current = _rows(connection, "SELECT CONNECTION_ID(), DATABASE()")[0]
    except pymysql.err.MySQLError:
        return []
    return [
        session
        for session in _all_sessions(connection)
        if session.id != current[0]
        and session.id not in PROBE_SESSIONS
        and session.database == current[1]
    ]


def _all_sessions(connection: DriverConnection) -> list[Session]:
    # SHOW PROCESSLIST works on every server and for every user (who then sees only
    # their own sessions); its columns are Id, User, Host, db, Command, Time, ...
    try:
        rows = _rows(connection, "SHOW PROCESSLIST")
    except pymysql.err.MySQLError:
        return []
    return [Session(int(row[0]), row[1], row[2], row[4], int(row[5] or 0), row[3]) for row in rows]


def _rows(
    connection: DriverConnection, sql: str, parameters: Sequence[object] = ()
) -> tuple[tuple[Any, ...], ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, tuple(parameters))
        rows: tuple[tuple[Any, ...], ...] = cursor.fetchall()
    # End the implicit transaction, so that no later read on this session sees an old
    # snapshot (as for every read on the migration session).
    connection.commit()
    return rows
