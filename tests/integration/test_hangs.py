"""Never hang: a port that never greets, a server frozen mid-wait or mid-statement.

Every read and write is bounded by the deadline in force; a statement that is
legitimately long is not cut. The servers frozen here are the tests' own.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from migrator.core.session import LockedSession
from migrator.db.connection import ConnectionSettings, connect_once
from migrator.errors import DatabaseUnreachable
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.network import SilentPort
from tests.support.owned_servers import OwnedServer
from tests.support.polling import wait_until
from tests.support.runner import Result, finish, start_entrypoint, wait_for_line
from tests.support.servers import ScratchDatabase, scratch_databases
from tests.support.tables import wait_for_table

# The settings the hostile tester used: with these, every case must end well within 30 s.
TIGHT = {"MIGRATE_WAIT_TIMEOUT": "4", "MIGRATE_CONNECT_TIMEOUT": "1"}
BOUND = 30.0


@pytest.mark.parametrize(
    "args",
    [["wait"], ["upgrade"], ["status"], ["downgrade", "-1"], ["stamp", "head"], ["check"]],
    ids=" ".join,
)
def test_a_port_that_never_greets_is_exit_3_within_the_wait(
    migrate: Migrate, migrations: MigrationsDir, silent_port: SilentPort, args: list[str]
) -> None:
    migrations.chain(1)
    url = f"mysql://app:pw@127.0.0.1:{silent_port.port}/app"

    result = migrate(*args, DATABASE_URL=url, **TIGHT)

    assert result.code == 3, result.stderr
    assert "did not accept a login within 4s" in result.error["message"]
    assert result.elapsed < BOUND


@pytest.fixture
def owned_database(owned_server: OwnedServer) -> Iterator[ScratchDatabase]:
    with scratch_databases(owned_server.server, 1) as (database,):
        yield database


def stop_all(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def test_a_server_frozen_while_runners_wait_for_the_lock_ends_them_all(
    migrate: Migrate,
    migrations: MigrationsDir,
    owned_server: OwnedServer,
    owned_database: ScratchDatabase,
) -> None:
    migrations.add(
        "slow",
        None,
        upgrade=[sql("CREATE TABLE first_half (id INT PRIMARY KEY)"), sql("SELECT SLEEP(60)")],
    )
    env = migrate.env(DATABASE_URL=owned_database.url, **TIGHT)
    started = time.monotonic()
    holder = start_entrypoint(["upgrade"], env, migrate.workdir)
    waiters: list[subprocess.Popen[str]] = []
    try:
        wait_for_table(owned_database, "first_half")
        waiters = [start_entrypoint(["upgrade"], env, migrate.workdir) for _ in range(3)]
        wait_until(
            lambda: len(owned_database.sessions_running("SELECT GET_LOCK(")) == 3,
            message="the waiters never all waited in GET_LOCK",
        )
        owned_server.freeze()
        try:
            results = [finish(process, started, timeout=60) for process in [holder, *waiters]]
        finally:
            owned_server.thaw()
    finally:
        stop_all(holder, *waiters)

    held, *waited = results
    assert held.code == 6, held.stderr  # cut inside its revision: that revision failed
    assert "the server stopped answering: cutting the migration session" in held.messages()
    for result in waited:
        assert result.code == 3, result.stderr  # the lock's wait ended, and no login came
    assert max(result.elapsed for result in results) < 2 * BOUND


def test_a_server_frozen_during_a_statement_is_cut_and_reported(
    migrate: Migrate,
    migrations: MigrationsDir,
    owned_server: OwnedServer,
    owned_database: ScratchDatabase,
) -> None:
    migrations.add("sleepy", None, upgrade=[sql("SELECT SLEEP(60)")])
    started = time.monotonic()
    process = start_entrypoint(
        ["upgrade"], migrate.env(DATABASE_URL=owned_database.url, **TIGHT), migrate.workdir
    )
    try:
        # Frozen once the revision's statement runs, not at a fixed time: under load the
        # runner may still be logging in after 3 s (that case has a test of its own).
        wait_for_line(process, "applying revision")
        wait_until(
            lambda: owned_database.sessions_running("SELECT SLEEP(60)"),
            message="the revision's statement never ran",
        )
        owned_server.freeze()
        try:
            result: Result = finish(process, started, timeout=60)
        finally:
            owned_server.thaw()
    finally:
        stop_all(process)

    assert result.code == 6, result.stderr  # cut inside the revision: it failed
    assert "revision sleepy" in result.error["message"]
    assert result.elapsed < BOUND


def test_a_legitimately_long_statement_is_not_cut(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("long", None, upgrade=[sql("SELECT SLEEP(6)")])

    result = migrate(**TIGHT)  # probes every second, each bounded by one second

    assert result.code == 0, result.stderr
    assert database.version() == {"long"}
    assert "the server stopped answering: cutting the migration session" not in result.messages()


def test_a_server_frozen_right_after_the_login_is_unreachable_not_an_internal_error(
    owned_server: OwnedServer, owned_database: ScratchDatabase
) -> None:
    # Between the fast path's login and the full path's first queries (SQLAlchemy's
    # session set-up), which is where the server froze under load in CI.
    settings = ConnectionSettings(owned_database.target, wait_timeout=4, connect_timeout=1)
    login = connect_once(owned_database.target, 1)
    owned_server.freeze()
    try:
        with (
            pytest.raises(DatabaseUnreachable),
            LockedSession(settings, login, None) as session,
            session.sqlalchemy(),
        ):
            pass
    finally:
        owned_server.thaw()
