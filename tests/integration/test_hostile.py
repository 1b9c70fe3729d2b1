"""What a hostile tester found: half-applied schemas passing as "at head", user code that
fakes an exit, passwords that are not Latin-1, blockers a least-privilege user cannot
see, signals and pipes at the edges of the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.polling import wait_until
from tests.support.project import ENTRYPOINT
from tests.support.runner import Result, finish, start_entrypoint, wait_for_line
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Server, Users
from tests.support.tables import wait_for_table

# --- A partly applied revision never passes as "at head" ---------------------------------

PARENT_AND_CHILD = [
    sql("CREATE TABLE parent (id INT PRIMARY KEY)"),
    sql(
        "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT,"
        " INDEX ix_child_parent (parent_id),"
        " CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))"
    ),
]


@pytest.fixture
def half_downgraded(migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase) -> str:
    """A database whose head revision's downgrade dropped a column, then failed on an
    index a foreign key needs (1553): alembic_version still names head."""
    migrations.add("tables", None, upgrade=PARENT_AND_CHILD)
    migrations.add(
        "note",
        "tables",
        upgrade=[sql("ALTER TABLE child ADD COLUMN note INT")],
        downgrade=[
            sql("ALTER TABLE child DROP COLUMN note"),
            sql("DROP INDEX ix_child_parent ON child"),
        ],
    )
    assert migrate().code == 0
    failed = migrate("downgrade", "-1")
    assert failed.code == 6, failed.stderr
    assert "(1553)" in failed.error["message"]
    assert database.version() == {"note"}
    assert [revision for revision, _ in database.run_marker()] == ["note"]
    return str(failed.error["message"])


def test_a_failed_downgrade_says_what_resolve_means_in_that_direction(
    half_downgraded: str,
) -> None:
    assert "partly reverted while the database is still stamped at note" in half_downgraded
    assert (
        "`resolve note --applied` if all of the revision's changes are still there"
        " (the database stays at note" in half_downgraded
    )
    assert "`resolve note --not-applied` if none of them are left (stamps tables)" in (
        half_downgraded
    )


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        (["upgrade"], {}),
        (["upgrade"], {"MIGRATE_LOCK": "none"}),
        (["upgrade", "note"], {}),
        (["downgrade", "-1"], {}),
        (["status", "--exit-code"], {}),
        (["wait", "--head"], {"MIGRATE_HEAD_TIMEOUT": "60"}),
        (["check"], {}),
        (["autogenerate", "-m", "more"], {}),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value or ""),
)
def test_every_gating_command_refuses_a_half_applied_revision(
    migrate: Migrate, half_downgraded: str, args: list[str], settings: dict[str, str]
) -> None:
    result = migrate(*args, **settings)

    assert result.code == 6, result.stderr
    message = result.error["message"]
    assert "the downgrade of revision note was interrupted" in message
    assert "resolve note --applied" in message
    assert result.elapsed < 60  # at once: `wait --head` does not wait for a person


def test_status_without_exit_code_shows_it_and_exits_0(
    migrate: Migrate, half_downgraded: str
) -> None:
    result = migrate("status")

    assert result.code == 0
    assert "interrupted: the downgrade of revision note was interrupted" in result.stdout


def test_resolve_not_applied_after_a_downgrade_stamps_the_revision_below(
    migrate: Migrate, database: ScratchDatabase, half_downgraded: str
) -> None:
    database.execute("DROP TABLE child")  # a person finishes what the downgrade meant
    database.execute(
        "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, INDEX ix_child_parent"
        " (parent_id), CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))"
    )

    resolved = migrate("resolve", "note", "--not-applied")

    assert resolved.code == 0, resolved.stderr
    assert database.version() == {"tables"}
    assert database.run_marker() == []
    assert migrate().code == 0
    assert database.version() == {"note"}


def test_resolve_applied_after_a_downgrade_keeps_the_revision(
    migrate: Migrate, database: ScratchDatabase, half_downgraded: str
) -> None:
    database.execute("ALTER TABLE child ADD COLUMN note INT")  # put back what was dropped

    resolved = migrate("resolve", "note", "--applied")

    assert resolved.code == 0, resolved.stderr
    assert database.version() == {"note"}
    again = migrate()
    assert again.code == 0
    assert "nothing to do: already at head" in again.messages()


def test_a_revision_in_progress_is_not_mistaken_for_an_interrupted_one(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add(
        "slow",
        None,
        upgrade=[sql("CREATE TABLE first_half (id INT PRIMARY KEY)"), "time.sleep(20)"],
    )
    started = time.monotonic()
    applying = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
    wait_for_table(database, "first_half")

    status = migrate("status", "--exit-code")
    check = migrate("check")
    waited = migrate("wait", "--head", MIGRATE_HEAD_TIMEOUT="60")
    applied = finish(applying, started)

    assert status.code == 10, status.stderr
    assert "in progress: revision slow" in status.stdout
    assert check.code == 10
    assert "revision slow is being applied" in check.error["message"]
    assert waited.code == 0, waited.stderr
    assert applied.code == 0, applied.stderr


# --- User code cannot fake an exit --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (["__import__('sys').exit(0)"], "SystemExit: 0"),
        (["raise SystemExit('stop here')"], "SystemExit: stop here"),
        (["raise KeyboardInterrupt"], "KeyboardInterrupt"),
    ],
    ids=["sys.exit(0)", "SystemExit(msg)", "KeyboardInterrupt"],
)
def test_a_revision_that_exits_halfway_is_a_failed_revision(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    body: list[str],
    expected: str,
) -> None:
    migrations.add("exits", None, upgrade=[sql("CREATE TABLE half (id INT PRIMARY KEY)"), *body])

    result = migrate()

    assert result.code == 6, result.stderr
    assert f"revision exits (revision exits) failed: {expected}" in result.error["message"]
    assert "partly applied" in result.error["message"]
    assert [revision for revision, _ in database.run_marker()] == ["exits"]
    assert "Traceback" not in result.stderr


def test_a_revision_file_that_exits_when_imported_is_exit_9(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    path = migrations.add("r1", None)
    path.write_text("import sys\nsys.exit(0)\n" + path.read_text())

    result = migrate()

    assert result.code == 9, result.stderr
    assert "SystemExit" in result.error["message"]
    assert database.tables() == set()


def test_a_schema_module_that_exits_is_exit_9(migrate: Migrate, schema: SchemaModule) -> None:
    settings = schema.write("import sys\nsys.exit(0)")

    result = migrate("check", **settings)

    assert result.code == 9, result.stderr
    assert "SystemExit" in result.error["message"]


@pytest.mark.parametrize(
    "prefix",
    ["import sys\nsys.exit(0)\n", "raise RuntimeError('env.py is broken')\n"],
    ids=["sys.exit", "RuntimeError"],
)
@pytest.mark.parametrize("command", ["upgrade", "check", "stamp"])
def test_a_broken_env_py_is_exit_9_and_changes_nothing(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    prefix: str,
    command: str,
) -> None:
    migrations.chain(1)
    if command == "check":  # check compares a database at head
        assert migrate().code == 0
    before = {row[0] for row in database.execute("SHOW TABLES")}
    env_py = migrations.path / "env.py"
    env_py.write_text(prefix + env_py.read_text())
    args = {"upgrade": ["upgrade"], "check": ["check"], "stamp": ["stamp", "head"]}[command]

    result = migrate(*args)

    assert result.code == 9, result.stderr
    assert "env.py failed" in result.error["message"]
    assert {row[0] for row in database.execute("SHOW TABLES")} == before
    if command != "check":
        assert before == set()  # not even the marker table


# --- Honest messages ----------------------------------------------------------------------


def test_data_changes_rolled_back_are_reported_as_nothing_applied(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("table", None, upgrade=[sql("CREATE TABLE t (id INT PRIMARY KEY)")])
    migrations.add(
        "data",
        "table",
        upgrade=[sql("INSERT INTO t VALUES (1)"), sql("INSERT INTO nope VALUES (1)")],
    )

    result = migrate()

    assert result.code == 6
    message = result.error["message"]
    assert "its 1 statement(s) changed only data, which was rolled back" in message
    assert "nothing was applied and the database is unchanged at table" in message
    assert "resolve" not in message
    assert database.run_marker() == []
    assert database.execute("SELECT COUNT(*) FROM t") == [(0,)]


def test_data_changes_committed_by_a_later_ddl_are_partly_applied(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("table", None, upgrade=[sql("CREATE TABLE t (id INT PRIMARY KEY)")])
    migrations.add(
        "data",
        "table",
        upgrade=[sql("INSERT INTO t VALUES (1)"), sql("ALTER TABLE nope ADD x INT")],
    )

    result = migrate()

    assert result.code == 6
    assert "partly applied" in result.error["message"]
    assert "resolve data --applied" in result.error["message"]
    assert [revision for revision, _ in database.run_marker()] == ["data"]
    assert database.execute("SELECT COUNT(*) FROM t") == [(1,)]  # the DDL committed it


# --- Edges of the process -----------------------------------------------------------------


def waits_for_a_reader(pid: int) -> bool:
    """Whether the process is blocked opening a FIFO for writing until a reader opens it
    (`wait_for_partner` is where Linux holds it)."""
    return Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"


def signal_pending(pid: int) -> bool:
    """Whether a signal sent to the process has not been delivered to it yet."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return any(int(status[field], 16) for field in ("SigPnd", "ShdPnd"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("at_head", [False, True], ids=["after upgrade", "after no-op"])
def test_a_signal_after_the_outcome_does_not_change_it(
    migrate: Migrate, migrations: MigrationsDir, tmp_path: Path, signum: int, at_head: bool
) -> None:
    migrations.chain(2)
    if at_head:
        assert migrate().code == 0
    # The termination message goes into a FIFO: the runner blocks writing it until
    # the test reads, which holds it at exactly the moment after the outcome.
    fifo = tmp_path / "termination-log"
    os.mkfifo(fifo)
    started = time.monotonic()
    process = start_entrypoint(
        ["upgrade"], migrate.env(MIGRATE_TERMINATION_LOG=str(fifo)), migrate.workdir
    )
    wait_for_line(process, "nothing to do" if at_head else "upgrade complete")
    wait_until(
        lambda: waits_for_a_reader(process.pid),
        message="the runner never came to write its termination message",
    )
    process.send_signal(signum)
    wait_until(  # the handler ran; the runner waits for a reader again
        lambda: not signal_pending(process.pid) and waits_for_a_reader(process.pid),
        message="the runner never handled the signal",
    )
    summary = fifo.read_text()
    result = finish(process, started)

    assert result.code == 0, result.stderr
    assert '"exit_code": 0' in summary
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["history"], ["heads"], ["status"], ["sql"]])
def test_a_closed_stdout_is_exit_141_without_a_traceback(
    migrate: Migrate, migrations: MigrationsDir, args: list[str]
) -> None:
    migrations.chain(3)
    process = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), *args],
        env=migrate.env(),
        cwd=migrate.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # like `| head -1` having read what it wanted
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 141, stderr
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


def test_warnings_are_one_log_line(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.chain(1)
    migrations.add("orphan", "doesnotexist")

    result = migrate(MIGRATE_LOG_FORMAT="text")

    assert result.code == 9
    lines = result.stderr.strip().splitlines()
    assert any("UserWarning: Revision doesnotexist referenced from" in line for line in lines)
    for line in lines:
        assert line[:8].count(":") == 2, f"not a log line: {line!r}"


def test_an_unreadable_revision_file_is_exit_9(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    migrations.add("r0002", "r0001").chmod(0)
    started = time.monotonic()
    # Root reads any file; without these capabilities it obeys the file mode.
    process = subprocess.Popen(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            sys.executable,
            str(ENTRYPOINT),
            "upgrade",
        ],
        env=migrate.env(),
        cwd=migrate.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = finish(process, started)

    assert result.code == 9, result.stderr
    assert "Permission denied" in result.error["message"]
    assert database.tables() == set()


# --- Passwords, login methods, names -----------------------------------------------------


@pytest.mark.parametrize("password", ["€uro-pass", "日本語のパス", "pässwörd"])
def test_a_correct_non_ascii_password_logs_in(
    migrate: Migrate, database: ScratchDatabase, users: Users, password: str
) -> None:
    user = users.create(password, f"ALL ON `{database.name}`.*")

    result = migrate("wait", DATABASE_URL=database.url_as(user, password))

    assert result.code == 0, result.stderr
    assert password not in result.output


@pytest.fixture
def ed25519(server: Server) -> None:
    try:
        server.execute("INSTALL SONAME 'auth_ed25519'")
    except pymysql.err.MySQLError as error:  # already installed is fine
        if "already" not in str(error):
            raise


@pytest.mark.mariadb_only(reason="ed25519 is an authentication plugin of MariaDB's")
def test_an_ed25519_user_logs_in(
    migrate: Migrate, database: ScratchDatabase, users: Users, ed25519: None
) -> None:
    user = users.create_identified("VIA ed25519 USING PASSWORD('ed-Pw-1')", database)

    result = migrate("wait", DATABASE_URL=database.url_as(user, "ed-Pw-1"))

    assert result.code == 0, result.stderr


def test_a_database_name_with_a_backtick_is_quoted(
    server: Server, migrations: MigrationsDir, schema: SchemaModule, tmp_path: Path
) -> None:
    name = f"we`ird_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    quoted = "`" + name.replace("`", "``") + "`"
    server.execute(f"CREATE DATABASE {quoted}")
    try:
        database = ScratchDatabase(server, name)
        migrate = Migrate(database, migrations, tmp_path)
        migrations.chain(1)
        assert migrate().code == 0
        settings = schema.write(
            'guild = sa.Table("guild", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
            't1 = sa.Table("t1", metadata, sa.Column("id", sa.Integer, primary_key=True))'
        )

        result = migrate("autogenerate", "-m", "add guild", **settings)

        assert result.code == 0, result.stderr
        assert "dropped the shadow database" in result.messages()
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {quoted}")


def test_a_database_name_of_64_characters_works(server: Server, tmp_path: Path) -> None:
    name = f"d{os.getpid()}".ljust(64, "x")
    server.execute(f"CREATE DATABASE `{name}`")
    try:
        migrations = MigrationsDir.create(tmp_path / "migrations")
        migrations.chain(1)
        result = Migrate(ScratchDatabase(server, name), migrations, tmp_path)()
        assert result.code == 0, result.stderr
    finally:
        server.execute(f"DROP DATABASE IF EXISTS `{name}`")


# --- Naming blockers without admin privileges ---------------------------------------------


def hold_a_metadata_lock(database: ScratchDatabase, *, as_app_user: bool) -> tuple[object, int]:
    """An idle transaction that read `accounts`: it holds a metadata lock on the table."""
    connection = (
        Server(database.target).connect(database.name)
        if as_app_user
        else database.server.connect(database.name)
    )
    connection.autocommit(False)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT * FROM accounts")
        cursor.execute("SELECT CONNECTION_ID()")
        blocker_id = int((cursor.fetchone() or [0])[0])
    return connection, blocker_id


@pytest.mark.parametrize("blocker_is_the_app_user", [True, False], ids=["own", "another user"])
def test_a_least_privilege_user_learns_what_blocks_its_alter(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    blocker_is_the_app_user: bool,
) -> None:
    # The runner logs in as the database's application user, granted only its database.
    assert database.app_user is not None
    migrations.add("accounts", None, upgrade=[sql("CREATE TABLE accounts (id INT PRIMARY KEY)")])
    migrations.add("alter", "accounts", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT")])
    assert migrate("upgrade", "accounts").code == 0
    blocker, blocker_id = hold_a_metadata_lock(database, as_app_user=blocker_is_the_app_user)
    try:
        result = migrate(MIGRATE_DDL_LOCK_TIMEOUT="2")
    finally:
        blocker.close()  # type: ignore[attr-defined]

    assert result.code == 6, result.stderr
    message = result.error["message"]
    assert "no blocking session found" not in message
    if blocker_is_the_app_user:
        assert f"connection {blocker_id} {database.app_user[0]}@" in message
    else:
        assert "lacks the PROCESS privilege" in message
        assert "GRANT PROCESS ON *.* to the migration user" in message


def test_a_least_privilege_waiter_names_the_lock_holder_by_connection(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    with database.lock_held_elsewhere() as holder_id:  # held by the admin account
        result: Result = migrate(MIGRATE_LOCK_TIMEOUT="1")

    assert result.code == 5
    assert f"connection {holder_id} (its user is not visible" in result.error["message"]


# --- Found in review ----------------------------------------------------------------------


def test_without_the_lock_a_reader_takes_a_marker_for_a_migration_in_progress(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add(
        "slow",
        None,
        upgrade=[sql("CREATE TABLE first_half (id INT PRIMARY KEY)"), "time.sleep(20)"],
    )
    started = time.monotonic()
    applying = start_entrypoint(["upgrade"], migrate.env(MIGRATE_LOCK="none"), migrate.workdir)
    wait_for_table(database, "first_half")

    status = migrate("status", "--exit-code", MIGRATE_LOCK="none")
    applied = finish(applying, started)

    assert status.code == 10, status.stderr  # not 6: the Galera Job is alive
    assert applied.code == 0, applied.stderr


def test_a_probe_refused_by_an_account_limit_is_an_answer(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    assert database.app_user is not None
    database.server.execute(f"ALTER USER '{database.app_user[0]}'@'%' WITH MAX_USER_CONNECTIONS 1")
    migrations.add("long", None, upgrade=[sql("SELECT SLEEP(5)")])

    result = migrate(MIGRATE_CONNECT_TIMEOUT="1")

    assert result.code == 0, result.stderr
    assert database.version() == {"long"}


def test_resolve_after_an_interrupted_branch_keeps_the_other_branch(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("a", None, upgrade=[sql("CREATE TABLE ta (id INT PRIMARY KEY)")])
    migrations.add("b", "a", upgrade=[sql("CREATE TABLE tb (id INT PRIMARY KEY)")])
    migrations.add(
        "c",
        "a",
        upgrade=[sql("CREATE TABLE tc (id INT PRIMARY KEY)"), "time.sleep(30)"],
    )
    migrations.add("m", ("b", "c"), upgrade=[sql("CREATE TABLE tm (id INT PRIMARY KEY)")])
    assert migrate("upgrade", "b").code == 0
    process = start_entrypoint(["upgrade", "c"], migrate.env(), migrate.workdir)
    wait_for_table(database, "tc")
    process.kill()
    process.communicate(timeout=30)

    resolved = migrate("resolve", "c", "--applied")

    assert resolved.code == 0, resolved.stderr
    assert database.version() == {"b", "c"}
    done = migrate()
    assert done.code == 0, done.stderr
    assert database.version() == {"m"}


def test_the_watchdog_probe_is_never_named_as_a_blocker(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("accounts", None, upgrade=[sql("CREATE TABLE accounts (id INT PRIMARY KEY)")])
    migrations.add("alter", "accounts", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT")])
    assert migrate("upgrade", "accounts").code == 0
    blocker, _ = hold_a_metadata_lock(database, as_app_user=False)
    try:
        # The ALTER waits 6 s: the watchdog's probe session is open by then.
        result = migrate(MIGRATE_DDL_LOCK_TIMEOUT="6", MIGRATE_CONNECT_TIMEOUT="1")
    finally:
        blocker.close()  # type: ignore[attr-defined]

    assert result.code == 6, result.stderr
    assert "this user's own sessions in this database" not in result.error["message"]
    assert "lacks the PROCESS privilege" in result.error["message"]


def test_env_py_errors_are_exit_9_with_a_relative_migrations_directory(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(1)
    assert migrate().code == 0
    env_py = migrations.path / "env.py"
    env_py.write_text("raise RuntimeError('env.py is broken')\n" + env_py.read_text())
    relative = os.path.relpath(migrations.path, migrate.workdir)

    result = migrate("check", MIGRATE_MIGRATIONS_DIR=relative)

    assert result.code == 9, result.stderr
