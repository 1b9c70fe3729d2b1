"""Waiting for the server, and the signal exit codes (130, 143) while waiting."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.network import TcpProxy, free_port
from tests.support.polling import wait_until
from tests.support.runner import finish, start_entrypoint, wait_for_line
from tests.support.servers import ScratchDatabase


def test_server_not_up_yet_then_success_once_it_is(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, proxy: TcpProxy
) -> None:
    migrations.chain(2)
    late_url = database.url.replace(f":{database.target.port}/", f":{proxy.port}/")
    starter = threading.Timer(3.0, proxy.start)
    starter.start()
    try:
        result = migrate(DATABASE_URL=late_url, MIGRATE_WAIT_TIMEOUT="30")
    finally:
        starter.cancel()

    assert result.code == 0, result.stderr
    waiting = [e for e in result.logs if e["message"] == "waiting for the database"]
    assert waiting, "the runner should report that it is waiting"
    assert "Can't connect" in waiting[0]["reason"]
    assert 25 <= waiting[0]["gives_up_in_s"] <= 30  # says how long it will wait
    # Backoff is capped at 2 s and waiting is logged at most every 5 s.
    assert len(waiting) <= 2
    ready = next(e for e in result.logs if e["message"] == "database is ready")
    assert ready["attempts"] > 1
    assert database.version() == {"r0002"}


def test_never_up_exits_3_after_the_deadline(migrate: Migrate) -> None:
    result = migrate(
        "wait", DATABASE_URL=f"mysql://root@127.0.0.1:{free_port()}/db", MIGRATE_WAIT_TIMEOUT="3"
    )

    assert result.code == 3
    assert "did not accept a login within 3s" in result.error["message"]
    assert result.elapsed >= 3


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_waiting_exits_at_once(
    migrate: Migrate, signum: signal.Signals, code: int
) -> None:
    env = migrate.env(
        DATABASE_URL=f"mysql://root@127.0.0.1:{free_port()}/db", MIGRATE_WAIT_TIMEOUT="120"
    )
    started = time.monotonic()
    process = start_entrypoint(["wait"], env, migrate.workdir)
    assert process.stderr is not None
    first_line = process.stderr.readline()  # the first "waiting for the database"
    assert "waiting for the database" in first_line

    signalled = time.monotonic()
    process.send_signal(signum)
    result = finish(process, started, timeout=30)

    assert result.code == code
    assert time.monotonic() - signalled < 5
    assert f"interrupted by {signum.name}" in result.stderr


def test_sigterm_while_waiting_for_the_lock_exits_143(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    with database.lock_held_elsewhere():
        started = time.monotonic()
        process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
        wait_for_line(process, "taking the migration lock")
        wait_until(
            lambda: lock_waiters(database) == 1, message="the runner never waited in GET_LOCK"
        )
        process.send_signal(signal.SIGTERM)
        result = finish(process, started, timeout=30)

    assert result.code == 143
    assert database.version() == set()


def lock_waiters(database: ScratchDatabase) -> int:
    """How many sessions wait in GET_LOCK on ``database``."""
    return len(database.sessions_running("SELECT GET_LOCK("))


def kill_lock_waiters(database: ScratchDatabase) -> int:
    """KILL the sessions waiting in GET_LOCK on ``database``, as a failover would drop them."""
    waiting = database.sessions_running("SELECT GET_LOCK(")
    for session in waiting:
        database.server.execute(f"KILL {session}")
    return len(waiting)


def test_a_session_lost_while_waiting_for_the_lock_logs_in_again_and_migrates(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    with database.lock_held_elsewhere():
        started = time.monotonic()
        process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
        wait_for_line(process, "taking the migration lock")
        wait_until(
            lambda: lock_waiters(database) == 1, message="the runner never waited in GET_LOCK"
        )
        assert kill_lock_waiters(database) == 1
    result = finish(process, started, timeout=60)

    assert result.code == 0, result.stderr
    assert database.version() == {"r0002"}
    assert "Traceback" not in result.stderr


def test_a_session_lost_while_the_full_path_waits_for_the_lock_is_exit_3(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    with database.lock_held_elsewhere():
        started = time.monotonic()
        # An explicit revision takes the full path, which waits for the lock itself.
        process = start_entrypoint(["upgrade", "r0002"], migrate.env(), migrate.workdir)
        wait_for_line(process, "starting upgrade")
        wait_until(
            lambda: lock_waiters(database) == 1, message="the runner never waited in GET_LOCK"
        )
        assert kill_lock_waiters(database) == 1
        result = finish(process, started, timeout=60)

    assert result.code == 3, result.stderr
    assert result.error["message"].startswith("lost the connection to")
    assert "Traceback" not in result.stderr
    assert database.version() == set()


def test_sigterm_during_a_revision_finishes_it_then_stops_with_143(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add(
        "slow",
        None,
        upgrade=[
            sql("CREATE TABLE first_half (id INT PRIMARY KEY)"),
            "time.sleep(3)",
            sql("CREATE TABLE second_half (id INT PRIMARY KEY)"),
        ],
    )
    migrations.add("after", "slow", upgrade=[sql("CREATE TABLE never (id INT PRIMARY KEY)")])
    started = time.monotonic()
    process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
    while "first_half" not in database.tables():
        assert time.monotonic() - started < 30, "the slow revision never started"
        time.sleep(0.1)

    process.send_signal(signal.SIGTERM)
    result = finish(process, started, timeout=60)

    assert result.code == 143
    assert "signal received: stopping after the current revision" in result.messages()
    # The revision in flight ran to its end and was stamped; the next never started.
    assert {"first_half", "second_half"} <= database.tables()
    assert "never" not in database.tables()
    assert database.version() == {"slow"}
    assert database.lock_is_free()
