"""The test server, throwaway databases on it, and the users the tests create there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from urllib.parse import quote

import pymysql

from migrator.db.lock import lock_name
from migrator.db.marker import MARKER_TABLE
from migrator.settings.target import DatabaseTarget

# The server of TEST_DATABASE_URL when it is not set: the local MariaDB, as root.
DEFAULT_TEST_DATABASE_URL = "mysql://root@127.0.0.1:3306/test"


def url_of(target: DatabaseTarget) -> str:
    password = target.password.get_secret_value()
    auth = quote(target.user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"mysql://{auth}@{target.host}:{target.port}/{quote(target.database, safe='')}"


class Server:
    """Administrative access to the test server."""

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target

    def connect(self, database: str | None = None) -> pymysql.Connection[Any]:
        return pymysql.connect(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password.get_secret_value(),
            database=database,
            autocommit=True,
        )

    def execute(self, sql: str, *params: object, database: str | None = None) -> list[Any]:
        with closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall())

    @cached_property
    def family(self) -> str:
        """ "mariadb" or "mysql": what the server says it is."""
        version = str(self.execute("SELECT VERSION()")[0][0])
        return "mariadb" if "mariadb" in version.lower() else "mysql"


@dataclass
class ScratchDatabase:
    """One throwaway database on the test server, and the user the runner logs in as.

    That user is granted what the README tells users to grant: its database and the
    shadow databases of autogenerate, nothing global. Tests administer the database
    with the server's own account (`execute`, `server`).
    """

    server: Server
    name: str
    app_user: tuple[str, str] | None = None  # name and password; None: the admin account

    @property
    def target(self) -> DatabaseTarget:
        """Where the runner logs in: as the application user."""
        if self.app_user is None:
            return replace(self.server.target, database=self.name)
        user, password = self.app_user
        return replace(
            self.server.target,
            database=self.name,
            user=user,
            password=type(self.server.target.password)(password),
        )

    @property
    def url(self) -> str:
        return url_of(self.target)

    @property
    def admin_url(self) -> str:
        return url_of(replace(self.server.target, database=self.name))

    def url_as(self, user: str, password: str) -> str:
        return url_of(
            replace(self.target, user=user, password=type(self.target.password)(password))
        )

    def execute(self, sql: str, *params: object) -> list[Any]:
        return self.server.execute(sql, *params, database=self.name)

    def tables(self) -> set[str]:
        """The tables, without the runner's own marker table (see `run_marker`)."""
        rows = self.server.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", self.name
        )
        return {row[0] for row in rows} - {MARKER_TABLE}

    def run_marker(self) -> list[tuple[Any, ...]]:
        """The rows of the runner's marker table: one per interrupted revision."""
        return [tuple(row) for row in self.execute(f"SELECT revision, runner FROM {MARKER_TABLE}")]

    @contextmanager
    def lock_held_elsewhere(self) -> Iterator[int]:
        """Hold this database's migration lock from another session; yields its id."""
        holder = self.server.connect()
        try:
            with holder.cursor() as cursor:
                cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(self.name),))
                got, connection_id = cursor.fetchone() or (0, 0)
            assert got == 1
            yield int(connection_id)
        finally:
            holder.close()

    def sessions_running(self, statement: str) -> list[int]:
        """The ids of the sessions on this database whose current statement starts with
        ``statement`` (as the server shows it in its process list)."""
        rows = self.server.execute(
            "SELECT ID, INFO FROM information_schema.PROCESSLIST WHERE DB = %s", self.name
        )
        return [int(session) for session, info in rows if (info or "").startswith(statement)]

    def lock_is_free(self) -> bool:
        return self.server.execute("SELECT IS_FREE_LOCK(%s)", lock_name(self.name)) == [(1,)]

    def version(self) -> set[str]:
        if "alembic_version" not in self.tables():
            return set()
        return {row[0] for row in self.execute("SELECT version_num FROM alembic_version")}


def grants_for(database: str) -> list[str]:
    """What the README tells users to grant the migration user: its database, and the
    shadow databases autogenerate creates next to it."""
    shadow_pattern = database.replace("_", "\\_") + "\\_shadow\\_%"
    return [f"ALL ON `{database}`.*", f"ALL ON `{shadow_pattern}`.*"]


def revoke_shadow_databases(database: ScratchDatabase) -> None:
    """Take from the application user the shadow-database grant that `grants_for` gives."""
    assert database.app_user is not None
    shadow_grant = grants_for(database.name)[1].removeprefix("ALL ON ")
    database.server.execute(f"REVOKE ALL ON {shadow_grant} FROM '{database.app_user[0]}'@'%'")


@contextmanager
def scratch_databases(server: Server, count: int) -> Iterator[list[ScratchDatabase]]:
    """`count` fresh databases and their application user, dropped afterwards whatever
    happens."""
    prefix = f"mt_{uuid.uuid4().hex[:12]}"
    names = [prefix] if count == 1 else [f"{prefix}_{index}" for index in range(count)]
    user, password = f"app_{prefix[3:]}", f"app-Pw-{uuid.uuid4().hex[:8]}"
    try:
        server.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", password)
        for name in names:
            server.execute(f"CREATE DATABASE `{name}`")
            for grant in grants_for(name):
                server.execute(f"GRANT {grant} TO '{user}'@'%'")
        yield [ScratchDatabase(server, name, (user, password)) for name in names]
    finally:
        for name in names:
            server.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@dataclass
class Users:
    """Users a test creates on the server, with the grants it gives them."""

    server: Server
    created: list[str] = field(default_factory=list)

    def create(self, password: str, *grants: str) -> str:
        """A user with the given password and grants (e.g. "ALL ON db.*")."""
        name = f"mu_{uuid.uuid4().hex[:10]}"
        self.server.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", password)
        return self._grant(name, grants)

    def create_identified(self, how: str, database: ScratchDatabase) -> str:
        """A user of its own database only, identified as ``how`` says
        (e.g. "VIA ed25519 USING PASSWORD('pw')")."""
        name = f"mu_{uuid.uuid4().hex[:10]}"
        self.server.execute(f"CREATE USER '{name}'@'%' IDENTIFIED {how}")
        return self._grant(name, [f"ALL ON `{database.name}`.*"])

    def _grant(self, name: str, grants: Sequence[str]) -> str:
        self.created.append(name)
        for grant in grants:
            self.server.execute(f"GRANT {grant} TO '{name}'@'%'")
        return name
