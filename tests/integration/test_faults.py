"""Faults a Kubernetes init container meets: killed pods, blocking sessions, rollbacks,
a server that goes away, and many pods at once."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.network import TcpProxy
from tests.support.runner import (
    Result,
    applied_revisions,
    finish,
    kill_hard,
    start_entrypoint,
    wait_for_line,
)
from tests.support.servers import ScratchDatabase, Server
from tests.support.tables import wait_for_table

SLOW_REVISION = [
    sql("CREATE TABLE first_half (id INT PRIMARY KEY)"),
    "time.sleep(30)",
    sql("CREATE TABLE second_half (id INT PRIMARY KEY)"),
]


def test_sigkill_mid_revision_leaves_a_marker_that_blocks_until_resolved(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("slow", None, upgrade=SLOW_REVISION, doc="slow revision")
    pod = {"POD_NAME": "app-7d9f-x2", "POD_NAMESPACE": "shop"}
    process = start_entrypoint(["upgrade"], migrate.env(**pod), migrate.workdir)
    wait_for_table(database, "first_half")

    logs = [json.loads(line) for line in kill_hard(process).splitlines()]
    (applying,) = [line for line in logs if line["message"] == "applying revision"]
    assert applying["runner"] == f"shop/app-7d9f-x2 pid {process.pid}"

    # The lock went with the killed session; the marker stayed.
    assert database.lock_is_free()
    assert [row[0] for row in database.run_marker()] == ["slow"]
    assert database.version() == set()

    blocked = migrate()
    assert blocked.code == 6
    message = blocked.error["message"]
    assert "the upgrade of revision slow was interrupted" in message
    assert f"by shop/app-7d9f-x2 pid {process.pid} and never finished" in message
    assert "resolve slow --applied" in message
    assert "second_half" not in database.tables()  # it did not re-run blindly

    wrong = migrate("resolve", "other", "--applied")
    assert wrong.code == 2
    assert "the interrupted revision is slow" in wrong.error["message"]

    # A person reverts the partial change, then says the revision is not applied.
    database.execute("DROP TABLE first_half")
    resolved = migrate("resolve", "slow", "--not-applied")
    assert resolved.code == 0, resolved.stderr
    assert database.run_marker() == []
    assert migrate("resolve", "slow", "--applied").code == 2  # nothing left to resolve

    migrations.add("slow", None, upgrade=SLOW_REVISION[:1] + SLOW_REVISION[2:])  # now quick
    done = migrate()
    assert done.code == 0, done.stderr
    assert database.version() == {"slow"}
    assert {"first_half", "second_half"} <= database.tables()


def test_resolve_applied_stamps_the_interrupted_revision(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("slow", None, upgrade=SLOW_REVISION)
    migrations.add("next", "slow", upgrade=[sql("CREATE TABLE after_slow (id INT PRIMARY KEY)")])
    process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
    wait_for_table(database, "first_half")
    kill_hard(process)

    # A person completes the revision by hand, then marks it applied.
    database.execute("CREATE TABLE second_half (id INT PRIMARY KEY)")
    resolved = migrate("resolve", "slow", "--applied")
    assert resolved.code == 0, resolved.stderr
    assert database.version() == {"slow"}

    status = migrate("status")
    assert "interrupted" not in status.stdout
    assert migrate().code == 0
    assert database.version() == {"next"}


def test_status_shows_an_interrupted_revision(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("slow", None, upgrade=SLOW_REVISION)
    process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
    wait_for_table(database, "first_half")
    kill_hard(process)

    result = migrate("status")

    assert result.code == 0
    assert "interrupted: the upgrade of revision slow was interrupted" in result.stdout


def test_a_blocking_transaction_fails_the_alter_naming_the_blocker(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("accounts", None, upgrade=[sql("CREATE TABLE accounts (id INT PRIMARY KEY)")])
    migrations.add("alter", "accounts", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT")])
    assert migrate("upgrade", "accounts").code == 0
    # Opened by the application's own user, whose sessions the migration user sees.
    blocker = Server(database.target).connect(database.name)
    blocker.autocommit(False)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT * FROM accounts")  # an idle transaction holding a lock
            cursor.execute("SELECT CONNECTION_ID()")
            blocker_id = (cursor.fetchone() or [0])[0]

        result = migrate(MIGRATE_DDL_LOCK_TIMEOUT="2")
    finally:
        blocker.close()

    assert result.code == 6
    message = result.error["message"]
    assert "(1205)" in message
    assert "MIGRATE_DDL_LOCK_TIMEOUT=2s" in message
    assert f"connection {blocker_id} " in message
    assert "none of its statements had run" in message
    assert result.elapsed < 30  # bounded, not the server's one-year default
    # Nothing changed, so nothing to resolve: once the blocker is gone a retry works.
    assert database.run_marker() == []
    assert migrate().code == 0
    assert database.version() == {"alter"}


def test_unknown_revision_skip_policy_leaves_the_database_alone(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    assert migrate().code == 0
    database.execute("UPDATE alembic_version SET version_num = 'from_newer_release'")

    # Pods of the older release must not queue for the lock (held here by the newer one).
    with database.lock_held_elsewhere():
        skipped = migrate(MIGRATE_ON_UNKNOWN_REVISION="skip", MIGRATE_LOCK_TIMEOUT="1")
        failed = migrate(MIGRATE_ON_UNKNOWN_REVISION="fail", MIGRATE_LOCK_TIMEOUT="1")

    assert skipped.code == 0, skipped.stderr
    warning = next(entry for entry in skipped.logs if entry["level"] == "warning")
    assert "at revision from_newer_release" in warning["message"]
    assert database.version() == {"from_newer_release"}
    assert failed.code == 8


def test_wait_head_returns_when_another_runner_reaches_head(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(2)
    started = time.monotonic()
    waiter = start_entrypoint(
        ["wait", "--head"], migrate.env(MIGRATE_HEAD_TIMEOUT="60"), migrate.workdir
    )
    wait_for_line(waiter, "waiting for the database to reach head")
    assert waiter.poll() is None  # still waiting: the database is behind

    assert migrate().code == 0
    waited = finish(waiter, started, timeout=60)

    assert waited.code == 0, waited.stderr
    assert "the database is at head" in waited.messages()
    assert "applied revision" not in waited.messages()


def test_wait_head_times_out_with_10_and_never_runs_ddl(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)

    result = migrate("wait", "--head", MIGRATE_HEAD_TIMEOUT="2")

    assert result.code == 10
    assert "is the migration job running?" in result.error["message"]
    assert database.tables() == set()


def read_summary(path: Path) -> dict[str, object]:
    summary: dict[str, object] = json.loads(path.read_text())
    return summary


def test_termination_message_summarises_success_and_failure(
    migrate: Migrate, migrations: MigrationsDir, tmp_path: Path
) -> None:
    migrations.chain(2)
    termination_log = tmp_path / "termination-log"

    assert migrate(MIGRATE_TERMINATION_LOG=str(termination_log)).code == 0
    success = read_summary(termination_log)
    assert success["command"] == "upgrade"
    assert (success["from"], success["to"], success["applied"]) == ("base", "r0002", 2)
    assert (success["exit_code"], success["error"]) == (0, None)

    migrations.add("broken", "r0002", upgrade=[sql("ALTER TABLE nope ADD x INT")])
    assert migrate(MIGRATE_TERMINATION_LOG=str(termination_log)).code == 6
    failure = read_summary(termination_log)
    assert (failure["from"], failure["to"], failure["applied"]) == ("r0002", "r0002", 0)
    assert (failure["exit_code"], failure["error"]) == (6, "MigrationFailed")
    assert "revision broken" in str(failure["message"])


def test_an_unwritable_termination_log_is_ignored(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(1)

    result = migrate(MIGRATE_TERMINATION_LOG="/nonexistent-dir/termination-log")

    assert result.code == 0, result.stderr


def test_lock_none_runs_without_the_lock_with_a_warning(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    with database.lock_held_elsewhere():
        result = migrate(MIGRATE_LOCK="none", MIGRATE_LOCK_TIMEOUT="1")

    assert result.code == 0, result.stderr
    assert "running without the migration lock (MIGRATE_LOCK=none)" in result.messages()
    assert database.version() == {"r0001"}


def test_server_gone_in_the_middle_of_a_revision_is_a_failure_not_a_success(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, proxy: TcpProxy
) -> None:
    migrations.add("slow", None, upgrade=[line.replace("30", "2") for line in SLOW_REVISION])
    proxy.start()
    url = database.url.replace(f":{database.target.port}/", f":{proxy.port}/")
    started = time.monotonic()
    process = start_entrypoint(["upgrade"], migrate.env(DATABASE_URL=url), migrate.workdir)
    wait_for_table(database, "first_half")

    proxy.stop()
    result = finish(process, started, timeout=60)

    # Lost inside the revision: it failed (6); 3 is for a connection lost between revisions.
    assert result.code == 6, result.stderr
    assert "revision slow" in result.error["message"]
    assert "Lost connection" in result.error["message"] or "gone away" in result.error["message"]
    assert database.version() == set()


RUNNERS = 50


def start_many(migrate: Migrate, count: int) -> list[Result]:
    env = migrate.env(MIGRATE_WAIT_TIMEOUT="120", MIGRATE_LOCK_TIMEOUT="300")
    started = time.monotonic()
    processes = [start_entrypoint(["upgrade"], env, migrate.workdir) for _ in range(count)]
    return [finish(process, started, timeout=300) for process in processes]


@pytest.mark.timeout(600)
def test_fifty_runners_on_an_empty_database_then_fifty_at_head(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    revisions = migrations.chain(5)

    empty = start_many(migrate, RUNNERS)

    assert [result.code for result in empty] == [0] * RUNNERS, [r.stderr for r in empty if r.code]
    assert applied_revisions(*empty) == Counter(revisions)  # each exactly once, all told
    appliers = [r for r in empty if any(e["message"] == "applied revision" for e in r.logs)]
    assert len(appliers) == 1
    for result in empty:
        if result is not appliers[0]:
            messages = result.messages()
            assert (
                "nothing to do: already at head after waiting for the lock" in messages
                or "nothing to do: already at head" in messages
            ), messages
    assert database.version() == {revisions[-1]}
    assert database.tables() == {"alembic_version", *(f"t{i}" for i in range(1, 6))}

    at_head = start_many(migrate, RUNNERS)

    assert [result.code for result in at_head] == [0] * RUNNERS
    for result in at_head:  # decided before the lock: nobody queued
        assert "nothing to do: already at head" in result.messages()
        assert "waiting for the migration lock" not in result.messages()
