"""What differs between Oracle MySQL and MariaDB, tested on the server family it concerns."""

from __future__ import annotations

import pymysql
import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase, Server, Users


@pytest.mark.mysql_only(reason="caching_sha2_password is MySQL's default authentication")
@pytest.mark.parametrize("tls", [True, False], ids=["over TLS", "RSA key exchange without TLS"])
def test_a_first_caching_sha2_login_does_full_authentication(
    migrate: Migrate, database: ScratchDatabase, users: Users, tls: bool
) -> None:
    # A new account has no entry in the server's authentication cache: its first login
    # is the full authentication every account needs after a server restart.
    user = users.create("sha2-Pw-1", f"ALL ON `{database.name}`.*")
    plugin = database.server.execute("SELECT plugin FROM mysql.user WHERE user = %s", user)
    assert plugin == [("caching_sha2_password",)]
    url = database.url_as(user, "sha2-Pw-1") + ("" if tls else "?ssl_disabled=true")

    first = migrate("wait", DATABASE_URL=url)
    again = migrate("wait", DATABASE_URL=url)  # now from the cache

    assert first.code == 0, first.stderr
    assert again.code == 0, again.stderr


@pytest.mark.mysql_only(reason="performance_schema.metadata_locks is MySQL's (MariaDB: a plugin)")
def test_metadata_locks_name_the_blocker_of_another_user(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    assert database.app_user is not None
    database.server.execute(f"GRANT SELECT ON performance_schema.* TO '{database.app_user[0]}'@'%'")
    migrations.add("accounts", None, upgrade=[sql("CREATE TABLE accounts (id INT PRIMARY KEY)")])
    migrations.add("alter", "accounts", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT")])
    assert migrate("upgrade", "accounts").code == 0
    blocker = database.server.connect(database.name)
    blocker.autocommit(False)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT * FROM accounts")
            cursor.execute("SELECT CONNECTION_ID()")
            blocker_id = (cursor.fetchone() or [0])[0]
        result = migrate(MIGRATE_DDL_LOCK_TIMEOUT="2")
    finally:
        blocker.close()

    assert result.code == 6, result.stderr
    admin = database.server.target.user
    assert f"connection {blocker_id} {admin}@" in result.error["message"]


@pytest.mark.mariadb_only(reason="parsec is an authentication plugin of MariaDB 11.6+")
def test_an_unsupported_login_method_is_exit_4_naming_it(
    migrate: Migrate, database: ScratchDatabase, users: Users, server: Server
) -> None:
    try:
        server.execute("INSTALL SONAME 'auth_parsec'")
    except pymysql.err.MySQLError as error:
        if "already" not in str(error):
            pytest.skip(f"this MariaDB has no parsec plugin (11.6+): {error}")
    user = users.create_identified("VIA parsec USING PASSWORD('parsec-Pw-1')", database)

    result = migrate("wait", DATABASE_URL=database.url_as(user, "parsec-Pw-1"))

    assert result.code == 4, result.stderr
    assert "parsec" in result.error["message"]
    assert "does not support" in result.error["message"]
    assert result.elapsed < 30  # not retried


def test_get_lock_is_session_scoped_and_released_with_the_session(
    database: ScratchDatabase,
) -> None:
    name = f"migrator:probe:{database.name}"
    first = Server(database.target).connect()
    second = Server(database.target).connect()
    try:
        with first.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
            assert cursor.fetchone() == (1,)
        with second.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
            assert cursor.fetchone() == (0,)
        first.close()
        with second.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 2)", (name,))
            assert cursor.fetchone() == (1,)
            cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))
    finally:
        second.close()
