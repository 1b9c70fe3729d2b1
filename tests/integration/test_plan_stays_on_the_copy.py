"""`plan` and the MIGRATE_BLOCKING_DDL=refuse pre-flight run the revisions on a copy: a
statement naming the live database runs on the copy, one naming any other database, or
able to act outside the copy, stops the plan before it runs. Neither database changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_plan import ACCOUNTS, BIG, OWNERS, RETYPE, columns
from tests.support.databases import another_database, oddly_named_database
from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Server

ADDED_COLUMN = "ADD COLUMN level INT NULL"


@pytest.fixture
def accounts(migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase) -> None:
    """`accounts` applied with 200 rows at revision a1."""
    applied(migrate, migrations, database)


def applied(migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase) -> None:
    migrations.add("a1", None, upgrade=[sql(OWNERS), sql(ACCOUNTS)])
    assert migrate("upgrade").code == 0
    values = ", ".join(f"({i}, 'n{i}', 30, NULL, NULL)" for i in range(200))
    database.execute(f"INSERT INTO accounts VALUES {values}")
    database.execute("ANALYZE TABLE accounts")


@pytest.fixture
def other(database: ScratchDatabase) -> Iterator[ScratchDatabase]:
    with another_database(database) as other:
        yield other


# Each names the live database `{db}` in its own way; `{DB}` is the name upper-cased.
LIVE_SPELLINGS = {
    "bare": [sql(f"ALTER TABLE {{db}}.accounts {ADDED_COLUMN}")],
    "backquoted": [sql(f"ALTER TABLE `{{db}}`.`accounts` {ADDED_COLUMN}")],
    "spaced": [sql(f"ALTER TABLE `{{db}}` . accounts {ADDED_COLUMN}")],
    "executable_comment": [sql(f"/*!50000 ALTER TABLE `{{db}}`.accounts {ADDED_COLUMN} */")],
    "schema_argument": [
        "op.add_column('accounts', sa.Column('level', sa.Integer(), nullable=True), schema='{db}')"
    ],
    "create_table_schema_argument": [
        "op.create_table('extra', sa.Column('id', sa.Integer(), primary_key=True), schema='{db}')"
    ],
    "rows": [sql("UPDATE `{db}`.accounts SET hp = 31")],
    "bound_parameters": [
        "op.get_bind().execute(sa.text('UPDATE `{db}`.accounts SET hp = :hp'), {{'hp': 31}})"
    ],
    "driver_cursor": [
        f"op.get_bind().connection.cursor().execute('ALTER TABLE `{{db}}`.accounts {ADDED_COLUMN}')"
    ],
}


# Run past the statement hook, so they run on the copy without being listed.
UNLISTED = {"bound_parameters", "driver_cursor"}


def revision_lines(lines: list[str], database: str) -> list[str]:
    return [line.format(db=database, DB=database.upper()) for line in lines]


@pytest.mark.parametrize("spelling", list(LIVE_SPELLINGS))
def test_a_statement_naming_the_live_database_runs_on_the_copy(
    spelling: str,
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    accounts: None,
) -> None:
    migrations.add("a2", "a1", upgrade=revision_lines(LIVE_SPELLINGS[spelling], database.name))
    before = live_checksum(database)

    result = migrate("plan", "--format", "json")

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
    statements = json.loads(result.stdout)["statements"]
    if spelling in UNLISTED:
        assert statements == []
    else:
        (statement,) = statements
        assert statement["revision"] == "a2"
        assert database.name in statement["sql"]  # as the revision wrote it


@pytest.mark.parametrize(
    "spelling",
    [
        "ALTER TABLE `{db}`.accounts " + ADDED_COLUMN,
        "alter table `{DB}`.`accounts` " + ADDED_COLUMN,  # the case of a name the server folds
        'ALTER TABLE "{db}".accounts ' + ADDED_COLUMN,  # ANSI_QUOTES' spelling
    ],
    ids=["exact", "other_case", "double_quotes"],
)
def test_a_live_database_name_that_needs_backquotes_is_kept_to_the_copy(
    spelling: str, server: Server, migrations: MigrationsDir, tmp_path: Path
) -> None:
    with oddly_named_database(server) as odd:
        workdir = tmp_path / "odd"
        workdir.mkdir()
        migrate = Migrate(odd, migrations, workdir)
        applied(migrate, migrations, odd)
        migrations.add(
            "a2",
            "a1",
            upgrade=[
                sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"),
                sql(spelling.format(db=odd.name, DB=odd.name.upper())),
            ],
        )
        before = live_checksum(odd)

        result = migrate("plan")

        assert live_checksum(odd) == before
        assert result.code == 0, result.stderr


@pytest.mark.parametrize(
    "lines",
    [
        [sql(f"ALTER TABLE {{other}}.t {ADDED_COLUMN}")],
        [sql(f"ALTER TABLE `{{other}}`.`t` {ADDED_COLUMN}")],
        [sql(f"ALTER TABLE `{{OTHER}}`.t {ADDED_COLUMN}")],
        [sql("CREATE TABLE `{other}`.n (id INT PRIMARY KEY)")],
        [sql("INSERT INTO {other}.t VALUES (2)")],
        [sql("RENAME TABLE accounts TO `{other}`.accounts")],
        [sql(f"/*!50000 ALTER TABLE {{other}}.t {ADDED_COLUMN} */")],
        ["op.add_column('t', sa.Column('level', sa.Integer()), schema='{other}')"],
        ["op.get_bind().execute(sa.text('DELETE FROM `{other}`.t WHERE id > :id'), {{'id': 0}})"],
        [sql("USE `{other}`"), sql(f"ALTER TABLE t {ADDED_COLUMN}")],
        # Several statements in one string: each one is checked.
        [sql(f"ALTER TABLE accounts {ADDED_COLUMN}; ALTER TABLE {{other}}.t {ADDED_COLUMN}")],
        # A revision that swallows the error still does not get a plan.
        [
            "try:",
            "    " + sql(f"ALTER TABLE {{other}}.t {ADDED_COLUMN}"),
            "except Exception:",
            "    pass",
        ],
    ],
    ids=[
        "bare",
        "backquoted",
        "other_case",
        "create_table",
        "insert",
        "rename_into_it",
        "executable_comment",
        "schema_argument",
        "bound_parameters",
        "use",
        "several_statements",
        "caught",
    ],
)
def test_a_statement_naming_another_database_stops_the_plan_before_it_runs(
    lines: list[str],
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    other: ScratchDatabase,
    accounts: None,
) -> None:
    revision = [line.format(other=other.name, OTHER=other.name.upper()) for line in lines]
    migrations.add("a2", "a1", upgrade=revision)
    before, other_before = live_checksum(database), live_checksum(other)

    result = migrate("plan")

    assert (live_checksum(database), live_checksum(other)) == (before, other_before)
    assert result.code == 6, result.stderr
    message = result.error["message"]
    assert message.startswith("cannot plan this statement safely: `"), message
    assert other.name.lower() in message.lower() or "USE" in message
    assert message.endswith("it was not run, and the live database was only read")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE DATABASE `{db}_shadow_made_by_plan`",  # a name the user may create
        "SET GLOBAL max_connections = 1000",
        "GRANT SELECT ON `{db}`.* TO CURRENT_USER",
        "CALL `{db}`.anything()",
        "PREPARE stmt FROM 'ALTER TABLE {db}.accounts ADD COLUMN level INT NULL'",
    ],
    ids=["create_database", "set_global", "grant", "call", "prepare"],
)
def test_a_statement_that_can_act_outside_the_copy_stops_the_plan(
    statement: str,
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    accounts: None,
) -> None:
    migrations.add("a2", "a1", upgrade=[sql(statement.format(db=database.name))])
    before = live_checksum(database)
    made = f"{database.name}_shadow_made_by_plan"

    try:
        result = migrate("plan")
        assert not database.server.execute("SHOW DATABASES LIKE %s", made.replace("_", "\\_"))
    finally:
        database.server.execute(f"DROP DATABASE IF EXISTS `{made}`")

    assert live_checksum(database) == before
    assert result.code == 6, result.stderr
    assert result.error["message"].startswith("cannot plan this statement safely: `")


def test_the_refuse_pre_flight_measures_a_live_qualified_statement_on_the_copy(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts: None
) -> None:
    retype = f"ALTER TABLE `{database.name}`.accounts MODIFY hp INT NOT NULL DEFAULT 30"
    migrations.add("a2", "a1", upgrade=[sql(retype)])
    before = live_checksum(database)

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert live_checksum(database) == before
    assert result.code == 11, result.stderr
    assert "nothing was run" in result.error["message"]
    assert columns(database)["hp"].startswith("smallint")


def test_the_refuse_pre_flight_never_runs_a_statement_naming_another_database(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    other: ScratchDatabase,
    accounts: None,
) -> None:
    # The pre-flight stops at the second statement; the live run then refuses the first.
    migrations.add("a2", "a1", upgrade=[RETYPE, sql(f"ALTER TABLE {other.name}.t {ADDED_COLUMN}")])
    before, other_before = live_checksum(database), live_checksum(other)

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert (live_checksum(database), live_checksum(other)) == (before, other_before)
    assert result.code == 11, result.stderr
    assert any("cannot plan this statement safely" in m for m in result.messages())


def test_autogenerate_builds_its_shadow_without_touching_the_live_database(
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
    accounts: None,
) -> None:
    migrations.add(
        "a2", "a1", upgrade=[sql(f"ALTER TABLE `{database.name}`.accounts {ADDED_COLUMN}")]
    )
    before = live_checksum(database)

    result = migrate("autogenerate", "-m", "nothing", **schema.write(""))

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
