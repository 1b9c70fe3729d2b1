"""One test per row of the README's exit-code table (1 is in tests/unit/test_cli.py;
130 and 143 are in test_wait.py). Every failure is one JSON error line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.network import free_port
from tests.support.runner import RunEntrypoint
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Users


def test_0_success(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.chain(1)
    result = migrate()
    assert result.code == 0, result.stderr
    assert not [e for e in result.logs if e["level"] == "error"]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"DATABASE_URL": "127.0.0.1:3306/test"}, "DATABASE_URL is not a URL"),
        ({"DATABASE_URL": "postgresql://u@h/db"}, "only MySQL and MariaDB"),
        ({"DATABASE_URL": "mysql+mysqldb://u@h/db"}, "bundles PyMySQL only"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1:3306"}, "names no database"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1:99999/db"}, "invalid port"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/db?sslmode=on"}, "unsupported option"),
        ({"DATABASE_URL": None}, "no database configured"),
        ({"DATABASE_URL": None, "MYSQL_HOST": "127.0.0.1"}, "MYSQL_DATABASE is not set"),
        (
            {"DATABASE_URL": None, "MYSQL_HOST": "h", "MYSQL_DATABASE": "d", "MYSQL_PORT": "x"},
            "MYSQL_PORT",
        ),
        ({"MYSQL_DATABASE": "other"}, "DATABASE_URL and MYSQL_DATABASE disagree"),
        (
            {"DATABASE_URL_FILE": "/nonexistent/url"},
            "DATABASE_URL and DATABASE_URL_FILE are both set",
        ),
        ({"DATABASE_URL": None, "DATABASE_URL_FILE": "/nonexistent/url"}, "no such file"),
        ({"MIGRATE_WAIT_TIMEOUT": "-1"}, "MIGRATE_WAIT_TIMEOUT"),
        ({"MIGRATE_LOCK_TIMEOUT": "soon"}, "MIGRATE_LOCK_TIMEOUT"),
        ({"MIGRATE_LOG_FORMAT": "xml"}, "MIGRATE_LOG_FORMAT"),
        ({"MIGRATE_SCHEMA": "schema"}, "MIGRATE_SCHEMA"),
        ({"MIGRATE_MIGRATIONS_DIR": "/nonexistent"}, "not an Alembic migrations directory"),
    ],
)
def test_2_configuration_errors(
    migrate: Migrate, settings: dict[str, str | None], expected: str
) -> None:
    result = migrate("upgrade", **settings)

    assert result.code == 2
    assert expected in result.error["message"]
    assert result.error["exit_code"] == 2


@pytest.mark.parametrize(
    "args",
    [["nosuchcommand"], ["downgrade"], ["autogenerate"], ["upgrade", "a", "b"], ["--bogus"]],
)
def test_2_usage_errors(migrate: Migrate, args: list[str]) -> None:
    result = migrate(*args)

    assert result.code == 2
    assert "see entrypoint.py" in result.error["message"]


def test_2_empty_secret_file(migrate: Migrate, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")

    result = migrate(DATABASE_URL=None, DATABASE_URL_FILE=str(empty))

    assert result.code == 2
    assert "the file is empty" in result.error["message"]


def test_3_unreachable_before_the_deadline(migrate: Migrate) -> None:
    closed = free_port()

    result = migrate(
        DATABASE_URL=f"mysql://root@127.0.0.1:{closed}/test", MIGRATE_WAIT_TIMEOUT="1.5"
    )

    assert result.code == 3
    assert "did not accept a login within 1.5s" in result.error["message"]
    assert "Can't connect" in result.error["message"]
    assert result.elapsed < 1.5 + 10  # the deadline, plus interpreter start-up


def test_3_unknown_host_is_retried_until_the_deadline(migrate: Migrate) -> None:
    # A compose or Kubernetes service name may resolve only later, so DNS
    # failures are retried, bounded by MIGRATE_WAIT_TIMEOUT.
    result = migrate(DATABASE_URL="mysql://root@db.invalid:3306/test", MIGRATE_WAIT_TIMEOUT="2")

    assert result.code == 3
    assert "db.invalid" in result.error["message"]


def test_4_wrong_password(migrate: Migrate, database: ScratchDatabase, users: Users) -> None:
    user = users.create("right-password", f"ALL ON `{database.name}`.*")

    result = migrate(DATABASE_URL=database.url_as(user, "wrong-password"))

    assert result.code == 4
    assert "(1045)" in result.error["message"]
    assert "check the user and password" in result.error["message"]


def test_4_unknown_database(migrate: Migrate, database: ScratchDatabase) -> None:
    # Only an account that may see every database learns that one does not exist.
    missing = database.admin_url.replace(database.name, database.name + "_missing")

    result = migrate(DATABASE_URL=missing)

    assert result.code == 4
    assert "(1049)" in result.error["message"]


def test_4_unknown_database_as_a_least_privilege_user(
    migrate: Migrate, database: ScratchDatabase
) -> None:
    result = migrate(DATABASE_URL=database.url.replace(database.name, database.name + "_missing"))

    assert result.code == 4
    assert "(1044)" in result.error["message"]
    assert "or it does not exist" in result.error["message"]


def test_4_no_privilege_on_the_database(
    migrate: Migrate, database: ScratchDatabase, users: Users
) -> None:
    user = users.create("pw-without-grants")

    result = migrate(DATABASE_URL=database.url_as(user, "pw-without-grants"))

    assert result.code == 4
    assert "(1044)" in result.error["message"]


def test_4_no_ddl_privilege(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, users: Users
) -> None:
    migrations.chain(1)
    user = users.create("pw-select-only", f"SELECT ON `{database.name}`.*")

    result = migrate(DATABASE_URL=database.url_as(user, "pw-select-only"))

    assert result.code == 4
    assert "(1142)" in result.error["message"]
    assert "t1" not in database.tables()


def test_5_lock_held_by_another_session(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    with database.lock_held_elsewhere() as holder_id:
        result = migrate(MIGRATE_LOCK_TIMEOUT="1")

    assert result.code == 5
    assert "held the migration lock for more than 1s" in result.error["message"]
    assert f"connection {holder_id} " in result.error["message"]
    assert database.version() == set()


def test_6_failed_statement_names_the_revision_and_partial_application(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    migrations.add(
        "broken",
        "r0001",
        upgrade=[sql("CREATE TABLE half (id INT PRIMARY KEY)"), sql("ALTER TABLE nope ADD x INT")],
        doc="add half and alter nope",
    )

    result = migrate()

    assert result.code == 6
    message = result.error["message"]
    assert "revision broken (add half and alter nope) failed" in message
    assert "(1146)" in message
    assert "ALTER TABLE nope ADD x INT" in message
    assert "1 of its statements had run" in message
    assert "partly applied while the database is still stamped at r0001" in message
    assert "resolve broken --not-applied" in message
    # The revisions before the broken one are applied and stamped; DDL is not rolled back.
    assert database.version() == {"r0001"}
    assert {"t1", "half"} <= database.tables()
    # The half-applied revision is marked, so the next run does not re-run it blindly.
    assert [revision for revision, _ in database.run_marker()] == ["broken"]
    again = migrate()
    assert again.code == 6
    assert "the upgrade of revision broken was interrupted" in again.error["message"]


def test_6_a_failure_before_any_statement_leaves_nothing_to_resolve(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("first_fails", None, upgrade=[sql("ALTER TABLE nope ADD x INT")])

    result = migrate()

    assert result.code == 6
    assert "none of its statements had run: the database is unchanged" in result.error["message"]
    assert database.run_marker() == []
    assert "was interrupted" not in migrate().error["message"]  # the same failure, not a marker


def test_6_python_error_in_a_revision(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.add("pyerr", None, upgrade=["raise ValueError('bad data in row 7')"])

    result = migrate()

    assert result.code == 6
    assert "revision pyerr" in result.error["message"]
    assert "ValueError: bad data in row 7" in result.error["message"]


def test_7_check_finds_drift(migrate: Migrate, schema: SchemaModule) -> None:
    settings = schema.write(
        'extra = sa.Table("extra", metadata, sa.Column("id", sa.Integer, primary_key=True))'
    )

    result = migrate("check", **settings)

    assert result.code == 7
    assert "add_table extra" in result.error["message"]


def test_8_database_at_a_revision_the_image_does_not_know(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    assert migrate().code == 0
    database.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")

    for command in ("upgrade", "status"):
        result = migrate(command)
        assert result.code == 8, command
        assert "at revision f00dfeedbeef" in result.error["message"]
        # This runner migrated the database: the revision is a newer release's.
        assert "newer release of these migrations" in result.error["message"]
        assert "baseline" not in result.error["message"]
    assert database.version() == {"f00dfeedbeef"}


def test_9_several_heads(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.chain(1)
    migrations.add("branch_a", "r0001")
    migrations.add("branch_b", "r0001")

    result = migrate()

    assert result.code == 9
    assert "2 heads (branch_a, branch_b)" in result.error["message"]


def test_9_revision_file_with_a_syntax_error(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    broken = migrations.add("r0002", "r0001")
    broken.write_text(broken.read_text().replace("def upgrade() -> None:", "def upgrade() -> None"))

    result = migrate()

    assert result.code == 9
    assert "SyntaxError in" in result.error["message"]
    assert "r0002.py" in result.error["message"]
    assert database.tables() == set()  # nothing ran: scripts are loaded before any DDL


def test_9_down_revision_pointing_nowhere(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.chain(1)
    migrations.add("orphan", "doesnotexist")

    result = migrate()

    assert result.code == 9
    assert "doesnotexist" in result.error["message"]


def test_9_schema_module_that_fails_to_import(migrate: Migrate, schema: SchemaModule) -> None:
    settings = schema.write("import no_such_package_here")

    result = migrate("check", **settings)

    assert result.code == 9
    assert (
        "schema module 'app_schema' (MIGRATE_SCHEMA) cannot be imported" in result.error["message"]
    )
    assert "no_such_package_here" in result.error["message"]


def test_9_schema_attribute_that_is_not_metadata(migrate: Migrate, schema: SchemaModule) -> None:
    schema.write("")

    result = migrate(
        "check", MIGRATE_SCHEMA=f"{schema.name}:tables", PYTHONPATH=str(schema.directory)
    )

    assert result.code == 9
    assert "is not a SQLAlchemy MetaData" in result.error["message"]


def test_10_pending_revisions(migrate: Migrate, migrations: MigrationsDir) -> None:
    migrations.chain(1)

    result = migrate("status", "--exit-code")

    assert result.code == 10


def test_no_database_needed_for_help(run_cli: RunEntrypoint) -> None:
    result = run_cli("--help")

    assert result.code == 0
    assert "exit codes:" in result.stdout
    for command in (
        "upgrade",
        "downgrade",
        "autogenerate",
        "revision",
        "check",
        "status",
        "history",
        "heads",
        "stamp",
        "wait",
        "sql",
    ):
        assert command in result.stdout
        assert run_cli(command, "--help").code == 0


def test_connection_errors_are_not_retried_forever(
    migrate: Migrate, database: ScratchDatabase, users: Users
) -> None:
    """A wrong password fails at once instead of waiting out MIGRATE_WAIT_TIMEOUT."""
    user = users.create("right-password", f"ALL ON `{database.name}`.*")

    result = migrate(DATABASE_URL=database.url_as(user, "wrong"), MIGRATE_WAIT_TIMEOUT="60")

    assert result.code == 4
    assert result.elapsed < 30
