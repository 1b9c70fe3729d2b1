"""A shadow database: a temporary database that autogenerate builds from the migrations.

Comparing the schema module with a database that the migrations alone have
built makes a revision independent of anyone's live database: its state,
its pending revisions, its hand-made changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import pymysql

from migrator.db.connection import (
    NOT_PERMITTED,
    ConnectionSettings,
    connect_once,
    error_code,
    session_errors,
    wait_for_database,
)
from migrator.db.watchdog import watched
from migrator.process.logs import get_logger

log = get_logger()

MAX_NAME = 64


def shadow_name(base: str) -> str:
    """A fresh database name that says what it is, within MySQL's 64 characters."""
    suffix = f"_shadow_{secrets.token_hex(4)}"
    return base[: MAX_NAME - len(suffix)] + suffix


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backticks, safe whatever characters the name holds."""
    return "`" + name.replace("`", "``") + "`"


@contextmanager
def shadow_database(server: ConnectionSettings) -> Iterator[ConnectionSettings | None]:
    """Create an empty database on ``server``'s server and drop it afterwards, whatever happens.

    Yields the settings to reach it, or None when the user may not create databases.
    """
    admin = wait_for_database(server)
    name = shadow_name(server.target.database)
    created = False
    try:
        # Unbounded but watched: a CREATE may wait behind a backup lock.
        with watched(admin, server), session_errors(server.target):
            try:
                _execute(admin, f"CREATE DATABASE {quote_identifier(name)} CHARACTER SET utf8mb4")
                created = True
            except pymysql.err.MySQLError as error:
                if error_code(error) not in NOT_PERMITTED:
                    raise
    except BaseException:
        with suppress(Exception):
            admin.close()
        raise
    if not created:
        admin.close()
        yield None
        return
    log.info("created the shadow database", extra={"database": name, "shadow": True})
    try:
        yield replace(server, target=replace(server.target, database=name))
    finally:
        _drop(admin, server, name)


def _drop(admin: pymysql.Connection[Any], server: ConnectionSettings, name: str) -> None:
    # The admin connection may have died with the run (an interrupted query, a
    # lost server); one fresh login is worth trying before giving up.
    for attempt in range(2):
        try:
            if attempt:
                admin = connect_once(server.target, server.connect_timeout)
            # Dropping many tables may take longer than a short query should.
            with watched(admin, server):
                _execute(admin, f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
        except pymysql.err.MySQLError:
            continue
        else:
            log.info("dropped the shadow database", extra={"database": name, "shadow": True})
            return
        finally:
            with suppress(Exception):
                admin.close()
    log.warning(
        "could not drop the shadow database: drop it by hand",
        extra={"database": name, "shadow": True},
    )


def _execute(connection: pymysql.Connection[Any], statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)
