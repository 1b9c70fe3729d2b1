"""`plan`: each pending statement with the algorithm and lock the server will take, measured
on an empty copy of the live tables, while the live database stays as it was."""

from __future__ import annotations

import json
from typing import Any

import pymysql
import pytest

from tests.conftest import ScratchDatabase, revoke_shadow_databases
from tests.integration.conftest import Migrate, MigrationsDir, sql

OWNERS = "CREATE TABLE owners (id INT PRIMARY KEY)"
# The cascading foreign key keeps MariaDB 11.4+ from copying the table online, so a type
# change blocks writes on every server.
ACCOUNTS = (
    "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL,"
    " hp SMALLINT NOT NULL DEFAULT 30, note VARCHAR(10) NULL, owner_id INT NULL,"
    " FOREIGN KEY (owner_id) REFERENCES owners (id) ON DELETE CASCADE)"
)


def planned(migrate: Migrate, *args: str) -> dict[str, Any]:
    result = migrate("plan", "--format", "json", *args)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def by_sql(document: dict[str, Any], fragment: str) -> dict[str, Any]:
    (statement,) = [s for s in document["statements"] if fragment in s["sql"]]
    assert isinstance(statement, dict)
    return statement


@pytest.fixture
def accounts_at_base(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """`accounts` applied with 200 rows; the next revisions are the test's."""
    migrations.add("a1", None, upgrade=[sql(OWNERS), sql(ACCOUNTS)])
    assert migrate("upgrade").code == 0
    values = ", ".join(f"({i}, 'n{i}', 30, NULL, NULL)" for i in range(200))
    database.execute(f"INSERT INTO accounts VALUES {values}")
    database.execute("ANALYZE TABLE accounts")


def test_plan_lists_each_statement_with_the_servers_own_verdict(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    accounts_at_base: None,
) -> None:
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            sql("ALTER TABLE accounts ADD COLUMN level INT NULL"),
            sql("CREATE INDEX ix_name ON accounts (name)"),
            sql("ALTER TABLE accounts MODIFY hp INT NOT NULL DEFAULT 30"),
            sql("ALTER TABLE accounts DROP COLUMN note"),
        ],
    )
    grant_process(database)  # MySQL shows instant row versions only to PROCESS
    before = database.execute("SHOW CREATE TABLE accounts")

    document = planned(migrate)

    assert (document["current"], document["destination"]) == ("a1", "head")
    assert [s["revision"] for s in document["statements"]] == ["a2"] * 4
    added = by_sql(document, "ADD COLUMN level")
    assert (added["algorithm"], added["lock"], added["blocks_writes"]) == ("INSTANT", "NONE", False)
    assert added["table"] == "accounts"
    assert added["table_rows"] >= 100
    indexed = by_sql(document, "CREATE INDEX")
    assert indexed["algorithm"] == "INPLACE"
    assert indexed["blocks_writes"] is False
    retyped = by_sql(document, "MODIFY hp")
    assert retyped["algorithm"] == "COPY"
    assert retyped["rebuilds_table"] is True
    assert retyped["lock"] == "SHARED"
    assert retyped["blocks_writes"] is True
    dropped = by_sql(document, "DROP COLUMN note")
    assert dropped["destructive"] == "drops column accounts.note and its values"
    # The live database is only read.
    assert database.execute("SHOW CREATE TABLE accounts") == before
    assert database.version() == {"a1"}


def grant_process(database: ScratchDatabase) -> None:
    assert database.app_user is not None
    database.server.execute(f"GRANT PROCESS ON *.* TO '{database.app_user[0]}'@'%'")


@pytest.mark.mysql_only(reason="MySQL counts instant row versions; MariaDB has no such limit")
def test_plan_says_instant_is_unknown_when_it_cannot_read_row_versions(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT NULL")])

    statement = by_sql(planned(migrate), "ADD COLUMN level")

    assert (statement["algorithm"], statement["blocks_writes"]) == (None, None)
    assert "without the PROCESS privilege" in statement["note"]


@pytest.mark.mysql_only(reason="MySQL counts instant row versions; MariaDB has no such limit")
def test_plan_carries_the_live_tables_row_versions_into_its_copy(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    grant_process(database)
    spent = 0
    while True:  # spend the live table's instant row versions, as years of migrations do
        try:
            database.execute("ALTER TABLE accounts ADD COLUMN spare INT, ALGORITHM=INSTANT")
            database.execute("ALTER TABLE accounts DROP COLUMN spare, ALGORITHM=INSTANT")
        except pymysql.err.OperationalError:
            break
        spent += 2
    assert spent >= 60
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT NULL")])

    statement = by_sql(planned(migrate), "ADD COLUMN level")

    # A fresh copy would take INSTANT; the live table has no versions left.
    assert statement["algorithm"] == "INPLACE"
    assert statement["blocks_writes"] is False
    assert statement["rebuilds_table"] is True


def test_plan_sees_what_makes_a_table_block_writes_on_this_server(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    accounts_at_base: None,
) -> None:
    # A FULLTEXT index keeps every server from adding a column instantly.
    database.execute("ALTER TABLE accounts ADD FULLTEXT INDEX ft_name (name)")
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts ADD COLUMN level INT NULL")])

    statement = by_sql(planned(migrate), "ADD COLUMN level")

    assert statement["algorithm"] in {"INPLACE", "COPY"}
    # MariaDB 11.4+ can copy it online (LOCK=NONE); MySQL and older MariaDB block writes.
    assert statement["blocks_writes"] is (statement["lock"] != "NONE")


def test_plan_marks_a_narrowing_type_change_destructive(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add(
        "a2", "a1", upgrade=[sql("ALTER TABLE accounts MODIFY name VARCHAR(20) NOT NULL")]
    )

    statement = by_sql(planned(migrate), "MODIFY name")

    assert statement["destructive"] == (
        "narrows column name from varchar(40) to varchar(20): values may be cut or refused"
    )


def test_plan_at_head_lists_nothing_and_says_so(migrate: Migrate, accounts_at_base: None) -> None:
    result = migrate("plan")

    assert result.code == 0, result.stderr
    assert result.stdout.startswith("database ")
    assert "a1 -> head, 0 statement(s)" in result.stdout


def test_plan_text_is_a_table_a_person_reads(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts DROP COLUMN note")])

    result = migrate("plan")

    assert result.code == 0, result.stderr
    header, row = result.stdout.splitlines()[1:3]
    assert header.split()[:3] == ["revision", "table", "algorithm"]
    assert row.split()[:2] == ["a2", "accounts"]
    assert "destructive: a2 drops column accounts.note and its values" in result.stdout


def test_plan_without_the_shadow_privilege_says_which_grant_it_needs(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    revoke_shadow_databases(database)
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts DROP COLUMN note")])

    result = migrate("plan")

    assert result.code == 4, result.stderr
    assert "GRANT ALL ON" in result.error["message"]
    assert database.execute("SHOW COLUMNS FROM accounts LIKE 'note'")


# The guard: MIGRATE_BLOCKING_DDL during upgrade. 200 rows count as big here.
BIG = {"MIGRATE_BLOCKING_DDL_MIN_ROWS": "100"}
RETYPE = sql("ALTER TABLE accounts MODIFY hp INT NOT NULL DEFAULT 30")
ADD_LEVEL = sql("ALTER TABLE accounts ADD COLUMN level INT NULL")


def columns(database: ScratchDatabase) -> dict[str, str]:
    return {row[0]: row[1] for row in database.execute("SHOW COLUMNS FROM accounts")}


def test_refuse_stops_a_revision_that_blocks_writes_before_any_statement_runs(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL, RETYPE])

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert result.code == 11, result.stderr
    message = result.error["message"]
    assert "revision a2: `ALTER TABLE accounts MODIFY hp INT" in message
    assert "would block writes on accounts (~" in message
    assert "nothing was run" in message
    assert "MIGRATE_BLOCKING_DDL=allow" in message
    assert "level" not in columns(database)
    assert columns(database)["hp"].startswith("smallint")
    assert database.version() == {"a1"}
    assert database.run_marker() == []


def test_refuse_without_a_shadow_database_still_refuses_the_statement_itself(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    revoke_shadow_databases(database)
    migrations.add("a2", "a1", upgrade=[RETYPE])

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert result.code == 11, result.stderr
    assert any("cannot measure the revisions beforehand" in m for m in result.messages())
    assert "none of the revision's statements had run" in result.error["message"]
    assert columns(database)["hp"].startswith("smallint")
    assert database.version() == {"a1"}


def test_refuse_runs_what_the_server_can_do_without_blocking_writes(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL, sql("CREATE INDEX ix_name ON accounts (name)")])

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert result.code == 0, result.stderr
    unblocked = [e for e in result.logs if e["message"] == "ran without blocking writes"]
    assert [e["table"] for e in unblocked] == ["accounts", "accounts"]
    assert unblocked[0]["algorithm"] == "INSTANT"
    assert "level" in columns(database)
    assert database.version() == {"a2"}


def test_warn_logs_a_blocking_statement_with_its_table_size_and_runs_it(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[RETYPE])

    result = migrate("upgrade", **BIG)  # warn is the default

    assert result.code == 0, result.stderr
    (warning,) = [e["message"] for e in result.logs if e["level"] == "warning"]
    assert "would block writes on accounts (~" in warning
    assert warning.endswith("running it anyway (MIGRATE_BLOCKING_DDL=warn)")
    assert ".;" not in warning  # the server's reason ends inside the runner's sentence
    assert columns(database)["hp"].startswith("int")


def test_small_tables_and_allow_are_left_to_the_server(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[RETYPE])
    migrations.add("a3", "a2", upgrade=[sql("ALTER TABLE accounts MODIFY hp BIGINT NOT NULL")])

    small = migrate("upgrade", "a2", MIGRATE_BLOCKING_DDL="refuse")  # 200 rows < 100,000
    allowed = migrate("upgrade", MIGRATE_BLOCKING_DDL="allow", **BIG)

    assert (small.code, allowed.code) == (0, 0), small.stderr + allowed.stderr
    for result in (small, allowed):
        assert not [e for e in result.logs if e["level"] == "warning"]
        assert "ran without blocking writes" not in result.messages()
    assert columns(database)["hp"].startswith("bigint")


def test_each_revision_logs_when_it_starts(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])

    result = migrate("upgrade")

    messages = result.messages()
    assert messages.index("applying revision") < messages.index("applied revision")
    (started,) = [e for e in result.logs if e["message"] == "applying revision"]
    assert started["revision"] == "a2"


def test_a_guarded_statement_keeps_a_literal_percent_sign(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    # SQLAlchemy writes a literal % as %%, for the driver to turn back into %.
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            "op.add_column('accounts', sa.Column('rate', sa.String(10), nullable=True,"
            " comment='in % of hp', server_default='5%'))"
        ],
    )

    result = migrate("upgrade", **BIG)

    assert result.code == 0, result.stderr
    assert "ran without blocking writes" in result.messages()
    ((comment, default),) = database.execute(
        "SELECT column_comment, column_default FROM information_schema.columns"
        " WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'rate'"
    )
    assert comment == "in % of hp"
    assert default.strip("'") == "5%"


def test_a_revision_that_catches_the_refusal_is_not_stamped_as_applied(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            "try:",
            f"    {RETYPE}",
            "except Exception:",
            "    pass",
        ],
    )
    revoke_shadow_databases(database)  # no plan beforehand: the statement itself is refused

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert result.code == 11, result.stderr
    assert database.version() == {"a1"}
    assert columns(database)["hp"].startswith("smallint")


def test_a_revision_the_empty_copy_cannot_run_is_reported_and_does_not_block_upgrade(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    # plan copies tables, not views: dropping a view fails on the copy only. The runner
    # creates it, so that its definer is the application user (MySQL 9.7 wants
    # SYSTEM_USER to drop a view an administrator defined).
    migrations.add("a1v", "a1", upgrade=[sql("CREATE VIEW named AS SELECT id, name FROM accounts")])
    assert migrate("upgrade").code == 0
    migrations.add("a2", "a1v", upgrade=[sql("DROP VIEW named")])

    planned_result = migrate("plan")
    upgraded = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert planned_result.code == 6, planned_result.stderr
    message = planned_result.error["message"]
    assert message.startswith("could not run the revisions on an empty copy of the tables:")
    assert message.endswith("the live database was only read")
    assert upgraded.code == 0, upgraded.stderr
    assert any("cannot measure the revisions beforehand" in m for m in upgraded.messages())
    assert database.version() == {"a2"}
