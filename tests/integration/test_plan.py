"""`plan`: each pending statement with the algorithm and lock the server will take, measured
on an empty copy of the live tables, while the live database stays as it was."""

from __future__ import annotations

import json
from typing import Any

import pymysql
import pytest

from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase, revoke_shadow_databases

OWNERS = "CREATE TABLE owners (id INT PRIMARY KEY)"
# The cascading foreign key keeps MariaDB 11.4+ from copying the table online, so a type
# change blocks writes on every server.
ACCOUNTS = (
    "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL,"
    " hp SMALLINT NOT NULL DEFAULT 30, note VARCHAR(10) NULL, owner_id INT NULL,"
    " FOREIGN KEY (owner_id) REFERENCES owners (id) ON DELETE CASCADE)"
)


def planned(migrate: Migrate, *args: str, **settings: str) -> dict[str, Any]:
    """`plan --format json`'s document, having checked that the live database is unchanged."""
    before = live_checksum(migrate.database)
    result = migrate("plan", "--format", "json", *args, **settings)
    assert live_checksum(migrate.database) == before
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


def test_plan_at_head_lists_nothing_and_says_so(
    migrate: Migrate, database: ScratchDatabase, accounts_at_base: None
) -> None:
    before = live_checksum(database)

    result = migrate("plan")

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("database ")
    assert "a1 -> head, 0 statement(s)" in result.stdout


def test_plan_text_is_a_table_a_person_reads(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts DROP COLUMN note")])
    before = live_checksum(database)

    result = migrate("plan")

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(
        "a1 -> head, 1 statement(s); rows and bytes are estimates"
    )
    header, row = result.stdout.splitlines()[1:3]
    assert header.split() == [
        "revision",
        "table",
        "algorithm",
        "lock",
        "blocks",
        "writes",
        "rows",
        "executor",
        "statement",
    ]
    assert row.split()[:2] == ["a2", "accounts"]
    assert "destructive: a2 drops column accounts.note and its values" in result.stdout


def test_plan_without_the_shadow_privilege_says_which_grant_it_needs(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    revoke_shadow_databases(database)
    migrations.add("a2", "a1", upgrade=[sql("ALTER TABLE accounts DROP COLUMN note")])
    before = live_checksum(database)

    result = migrate("plan")

    assert live_checksum(database) == before
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
    before = live_checksum(database)

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert live_checksum(database) == before
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
    before = live_checksum(database)

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert live_checksum(database) == before
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
    before = live_checksum(database)

    planned_result = migrate("plan")
    assert live_checksum(database) == before
    upgraded = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", **BIG)

    assert planned_result.code == 6, planned_result.stderr
    message = planned_result.error["message"]
    assert message.startswith("could not run the revisions on an empty copy of the tables:")
    assert message.endswith("the live database was only read")
    assert upgraded.code == 0, upgraded.stderr
    assert any("cannot measure the revisions beforehand" in m for m in upgraded.messages())
    assert database.version() == {"a2"}


# The promises of docs/big-tables.md about `plan` that had no test of their own.


def test_plan_json_has_exactly_the_fields_the_readme_names(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])

    document = planned(migrate)

    assert set(document) == {
        "database",
        "current",
        "destination",
        "sizes_are_estimates",
        "statements",
    }
    (statement,) = document["statements"]
    assert set(statement) == {
        "revision",
        "sql",
        "table",
        "algorithm",
        "lock",
        "blocks_writes",
        "rebuilds_table",
        "table_rows",
        "table_bytes",
        "destructive",
        "note",
        "executor",
    }
    assert statement["table_bytes"] > 0
    assert statement["executor"] == "server"  # MIGRATE_BLOCKING_DDL=warn: the server runs all


def test_plan_to_a_revision_lists_the_statements_up_to_it_only(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])
    migrations.add("a3", "a2", upgrade=[sql("CREATE INDEX ix_name ON accounts (name)")])

    document = planned(migrate, "a2")

    assert (document["current"], document["destination"]) == ("a1", "a2")
    assert [s["revision"] for s in document["statements"]] == ["a2"]


def test_plan_marks_a_dropped_table_and_a_new_not_null_destructive(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            sql("ALTER TABLE accounts MODIFY note VARCHAR(10) NOT NULL"),
            sql("DROP TABLE accounts"),
        ],
    )

    document = planned(migrate)

    assert by_sql(document, "MODIFY note")["destructive"] == (
        "sets NOT NULL on column note: fails, or outside strict mode rewrites, any row holding NULL"
    )
    assert by_sql(document, "DROP TABLE")["destructive"].startswith(
        "drops table accounts and its ~"
    )


def test_plan_says_why_a_verdict_is_null(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("UPDATE accounts SET hp = 31")])

    statement = by_sql(planned(migrate), "UPDATE accounts")

    assert (statement["algorithm"], statement["blocks_writes"]) == (None, None)
    assert statement["note"] == "not DDL: its cost depends on the rows it touches"


def test_plan_copies_the_live_tables_row_format(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    # No server adds a column instantly to a ROW_FORMAT=COMPRESSED table.
    database.execute("CREATE TABLE packed (id INT PRIMARY KEY) ROW_FORMAT=COMPRESSED")
    grant_process(database)  # MySQL shows instant row versions only to PROCESS
    migrations.add(
        "a2",
        "a1",
        upgrade=[ADD_LEVEL, sql("ALTER TABLE packed ADD COLUMN level INT NULL")],
    )

    document = planned(migrate)

    assert by_sql(document, "TABLE accounts ADD")["algorithm"] == "INSTANT"
    assert by_sql(document, "TABLE packed ADD")["algorithm"] in {"INPLACE", "COPY"}


# Issue 24: what `destructive` and the statement list must not say.


def test_plan_does_not_call_a_widening_or_a_word_in_a_default_destructive(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    database.execute(
        "CREATE TABLE widths (id INT PRIMARY KEY, long_name VARCHAR(2048), body TEXT,"
        " code CHAR(10), ratio FLOAT, counter INT, old_name INT)"
    )
    widenings = [
        "ALTER TABLE widths MODIFY long_name TEXT",
        "ALTER TABLE widths MODIFY body MEDIUMTEXT",
        "ALTER TABLE widths MODIFY code VARCHAR(20)",
        "ALTER TABLE widths MODIFY ratio DOUBLE",
        "ALTER TABLE widths MODIFY counter BIGINT",
        "ALTER TABLE widths ADD COLUMN label VARCHAR(20) DEFAULT 'drop me'",
        "ALTER TABLE widths ADD COLUMN `drop` INT NULL",
        "ALTER TABLE widths RENAME COLUMN old_name TO new_name",
        "ALTER TABLE widths RENAME TO wider",
    ]
    migrations.add("a2", "a1", upgrade=[sql(statement) for statement in widenings])

    document = planned(migrate)

    assert [(s["sql"], s["destructive"]) for s in document["statements"]] == [
        (statement, None) for statement in widenings
    ]


def test_plan_lists_the_revisions_statements_not_their_look_at_the_schema(
    migrate: Migrate, migrations: MigrationsDir, accounts_at_base: None
) -> None:
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            "bind = op.get_bind()",
            "if 'accounts' in sa.inspect(bind).get_table_names():",
            "    bind.exec_driver_sql('SELECT COUNT(*) FROM information_schema.tables'"
            " ' WHERE table_schema = DATABASE()')",
            "    bind.exec_driver_sql('SHOW COLUMNS FROM accounts')",
            "    " + ADD_LEVEL,
        ],
    )

    document = planned(migrate)

    assert [s["sql"] for s in document["statements"]] == [
        "ALTER TABLE accounts ADD COLUMN level INT NULL"
    ]


def test_plan_logs_its_work_on_the_shadow_database_as_such(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])
    before = live_checksum(database)

    result = migrate("plan", MIGRATE_DEBUG="1")

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
    assert not [m for m in result.messages() if "applying revision" in m or "applied" in m]
    (started,) = [
        e for e in result.logs if e["message"] == "running revision on the shadow database"
    ]
    assert started["revision"] == "a2"
    assert started["shadow"] is True
    assert started["database"].startswith(f"{database.name}_shadow_")
    (created,) = [e for e in result.logs if e["message"] == "created the shadow database"]
    assert (created["database"], created["shadow"]) == (started["database"], True)


def test_a_guarded_upgrade_that_plans_first_logs_applying_each_revision_once(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, accounts_at_base: None
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])

    result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse", MIGRATE_DEBUG="1", **BIG)

    assert result.code == 0, result.stderr
    assert "created the shadow database" in result.messages()  # the pre-flight ran
    applying = [e for e in result.logs if e["message"] == "applying revision"]
    assert [e["revision"] for e in applying] == ["a2"]
    assert "shadow" not in applying[0]
    assert database.version() == {"a2"}
