"""The guard (MIGRATE_BLOCKING_DDL) under hostile input: however a revision spells a change
that blocks writes on a big table, `refuse` stops it with exit 11 and the table unchanged.

Each spelling is a revision after a1 on a database of its own, and the checksum of the
database before and after the run proves it unchanged. The shadow-database grant is taken
away, so that the statement guard itself is what refuses, not the plan measured beforehand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import (
    ScratchDatabase,
    Server,
    revoke_shadow_databases,
    scratch_databases,
)

OWNERS = "CREATE TABLE owners (id INT PRIMARY KEY)"
# The cascading foreign key keeps MariaDB 11.4+ from copying the table online, so a type
# change, or any ALGORITHM=COPY, blocks writes on every server.
LEDGER = (
    "CREATE TABLE ledger (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL,"
    " hp SMALLINT NOT NULL DEFAULT 30, owner_id INT NULL, KEY ix_name (name),"
    " FOREIGN KEY (owner_id) REFERENCES owners (id) ON DELETE CASCADE)"
)
# 200 rows count as big here: the guard asks the server the same questions whatever the
# size, and a small table keeps the corpus fast.
BIG = {"MIGRATE_BLOCKING_DDL": "refuse", "MIGRATE_BLOCKING_DDL_MIN_ROWS": "100"}
RETYPE = "MODIFY hp INT NOT NULL DEFAULT 30"
ALTER = f"ALTER TABLE ledger {RETYPE}"
ALTER_COLUMN = "'hp', type_=sa.Integer(), existing_nullable=False, existing_server_default='30'"

# Ways to spell a change that blocks writes on `ledger`, as revision bodies; {db} is the
# database's name. Each would have run, exit 0, on the guard before issue 24.
CORPUS: dict[str, list[str]] = {
    "plain": [sql(ALTER)],
    "lower_case": [sql(ALTER.lower())],
    "mixed_case_backquotes": [sql("aLtEr TaBlE `ledger` mOdIfY `hp` InT nOt NuLl DeFaUlT 30")],
    "author_algorithm_copy_last": [sql(f"{ALTER}, ALGORITHM=COPY")],
    "author_algorithm_copy_first": [sql(f"ALTER TABLE ledger ALGORITHM=COPY, {RETYPE}")],
    "author_lock_shared": [sql(f"{ALTER}, LOCK=SHARED")],
    "author_lock_then_algorithm": [sql(f"{ALTER}, LOCK=EXCLUSIVE, ALGORITHM=COPY")],
    "author_algorithm_then_lock": [
        sql(f"ALTER TABLE ledger ALGORITHM=INPLACE, LOCK=SHARED, {RETYPE}")
    ],
    "author_clauses_spaced": [sql(f"{ALTER} , ALGORITHM = COPY , LOCK = SHARED")],
    "author_clause_without_equals": [sql(f"{ALTER}, ALGORITHM COPY")],
    "author_instant_then_copy": [
        sql(f"ALTER TABLE ledger ALGORITHM=INSTANT, {RETYPE}, ALGORITHM=COPY")
    ],
    "author_lock_none_then_shared": [sql(f"ALTER TABLE ledger LOCK=NONE, {RETYPE}, LOCK=SHARED")],
    "author_algorithm_default": [sql(f"{ALTER}, ALGORITHM=DEFAULT, LOCK=DEFAULT")],
    "fake_clause_in_comment": [sql(f"{ALTER}, ALGORITHM=COPY -- , ALGORITHM=INSTANT")],
    "block_comments": [sql(f"ALTER /* a */ TABLE /* b */ ledger /* c */ {RETYPE} /* d */")],
    "dash_comment_lines": [
        sql(f"-- widen hp\nALTER TABLE ledger -- the table\n{RETYPE} -- done\n")
    ],
    "hash_comments": [sql(f"# widen hp\nALTER TABLE ledger # the table\n{RETYPE}\n")],
    "database_qualified": [sql(f"ALTER TABLE {{db}}.ledger {RETYPE}")],
    "database_qualified_backquoted": [sql(f"ALTER TABLE `{{db}}`.`ledger` {RETYPE}")],
    "database_qualified_spaced": [sql(f"ALTER TABLE `{{db}}` . ledger {RETYPE}")],
    "executable_comment": [sql(f"/*!50000 {ALTER} */")],
    "executable_comment_version_gated": [sql(f"/*!80000 {ALTER} */")],
    "executable_comment_no_version": [sql(f"/*! {ALTER} */")],
    "executable_comment_mariadb": [sql(f"/*M!100100 {ALTER} */")],
    "executable_comment_holds_clause": [sql(f"{ALTER} /*!50000 , ALGORITHM=COPY */")],
    "several_statements": [sql(f"ALTER TABLE ledger ADD COLUMN note INT NULL; {ALTER}")],
    "statement_after_select": [sql(f"SELECT 1; {ALTER}")],
    "trailing_semicolons": [sql(f"{ALTER};;")],
    "whitespace_and_newlines": [sql(f"\n\t ALTER\n\tTABLE\r\n  ledger\n\n  {RETYPE}\t\n")],
    "bookkeeping_word_in_comment": [sql(f"{ALTER} COMMENT 'alembic_version'")],
    "sqlalchemy_text": [f"op.execute(sa.text({ALTER!r}))"],
    "text_with_bound_parameter": [
        f"op.execute(sa.text({ALTER + ' COMMENT :note'!r}).bindparams(note='widened'))"
    ],
    "exec_driver_sql": [f"op.get_bind().exec_driver_sql({ALTER + ', ALGORITHM=COPY'!r})"],
    "alter_column": [f"op.alter_column('ledger', {ALTER_COLUMN})"],
    "batch_alter_table": [
        "with op.batch_alter_table('ledger') as batch:",
        f"    batch.alter_column({ALTER_COLUMN})",
    ],
    "create_index_algorithm_copy": [sql("CREATE INDEX ix_hp ON ledger (hp) ALGORITHM=COPY")],
    "create_index_lock_shared": [
        sql("create unique index ix_id_hp using btree on `ledger` (id, hp) lock = shared")
    ],
    "create_index_both_clauses": [
        sql("CREATE INDEX ix_hp ON {db}.ledger (hp) COMMENT 'x' LOCK=SHARED ALGORITHM=INPLACE")
    ],
    "drop_index_algorithm_copy": [sql("DROP INDEX ix_name ON ledger ALGORITHM=COPY")],
    "drop_index_lock_exclusive": [sql("drop index `ix_name` on `ledger` LOCK EXCLUSIVE")],
    "prepared_statement": [sql(f"PREPARE widen FROM '{ALTER}'"), sql("EXECUTE widen")],
    "execute_immediate": [sql(f"EXECUTE IMMEDIATE '{ALTER}'")],
    "no_backslash_escapes": [
        sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"),
        sql(f"{ALTER} COMMENT 'x\\', ALGORITHM=COPY -- '"),
    ],
}
# MariaDB's own syntax: MySQL refuses these statements as syntax errors.
MARIADB_CORPUS: dict[str, list[str]] = {
    "set_statement_prefix": [sql(f"SET STATEMENT max_statement_time=1000 FOR {ALTER}")],
    "set_statement_prefix_with_clause": [
        sql(f"SET STATEMENT lock_wait_timeout=5, sql_mode='' FOR {ALTER}, ALGORITHM=COPY")
    ],
    "alter_online_then_lock_shared": [sql(f"ALTER ONLINE TABLE ledger {RETYPE}, LOCK=SHARED")],
    "alter_ignore": [sql(f"ALTER IGNORE TABLE ledger {RETYPE}")],
    "alter_wait": [sql(f"ALTER TABLE ledger WAIT 5 {RETYPE}, ALGORITHM=COPY")],
    "create_or_replace_index": [
        sql("CREATE OR REPLACE INDEX ix_name ON ledger (name) LOCK=SHARED")
    ],
}


BASE = [sql(OWNERS), sql(LEDGER)]


@pytest.fixture(scope="module")
def template(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database the runner took to revision a1, with `ledger` filled: its name."""
    root = tmp_path_factory.mktemp("template")
    with scratch_databases(server, 1) as (database,):
        migrations = MigrationsDir.create(root / "migrations")
        migrations.add("a1", None, upgrade=BASE)
        (root / "cwd").mkdir()
        assert Migrate(database, migrations, root / "cwd")("upgrade").code == 0
        values = ", ".join(f"({i}, 'n{i}', 30, NULL)" for i in range(200))
        database.execute(f"INSERT INTO ledger VALUES {values}")
        yield database.name


def copy_of(template: str, database: ScratchDatabase) -> ScratchDatabase:
    """``database`` made a copy of the template by SQL: starting the runner to build each
    would be slower."""
    with closing(database.server.connect(database.name)) as connection:
        cursor = connection.cursor()
        cursor.execute("SET SESSION foreign_key_checks = 0")
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (template,),
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"SHOW CREATE TABLE `{template}`.`{table}`")
            cursor.execute(cursor.fetchone()[1])
            cursor.execute(f"INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`")
        cursor.execute("ANALYZE TABLE ledger")
    return database


@pytest.fixture
def ledger(database: ScratchDatabase, template: str) -> ScratchDatabase:
    """A copy of the template for each spelling (so a bypass shows once, not in every
    spelling after it), without the shadow-database grant."""
    revoke_shadow_databases(copy_of(template, database))
    return database


def refused_unchanged(database: ScratchDatabase, tmp_path: Path, revision: str) -> None:
    """Revision ``revision`` of the corpus, after a1, is refused and changes nothing."""
    migrations = MigrationsDir.create(tmp_path / "migrations")
    migrations.add("a1", None, upgrade=BASE)
    body = {**CORPUS, **MARIADB_CORPUS}[revision]
    migrations.add(revision, "a1", upgrade=[line.replace("{db}", database.name) for line in body])
    (tmp_path / "cwd").mkdir()
    before = live_checksum(database)

    result = Migrate(database, migrations, tmp_path / "cwd")("upgrade", **BIG)

    assert result.code == 11, result.stderr
    assert f"revision {revision}" in result.error["message"]
    assert live_checksum(database) == before
    assert database.version() == {"a1"}


@pytest.mark.parametrize("revision", CORPUS)
def test_refuse_stops_every_spelling_of_a_blocking_change(
    ledger: ScratchDatabase, tmp_path: Path, revision: str
) -> None:
    refused_unchanged(ledger, tmp_path, revision)


@pytest.mark.mariadb_only(reason="MariaDB's own syntax: SET STATEMENT, ONLINE, IGNORE, WAIT")
@pytest.mark.parametrize("revision", MARIADB_CORPUS)
def test_refuse_stops_mariadb_spellings_of_a_blocking_change(
    ledger: ScratchDatabase, tmp_path: Path, revision: str
) -> None:
    refused_unchanged(ledger, tmp_path, revision)


# The promises of docs/big-tables.md about the guard, one test each where none had one.
ADD_LEVEL = sql("ALTER TABLE ledger ADD COLUMN level INT NULL")


@pytest.fixture
def guarded(
    database: ScratchDatabase, template: str, migrations: MigrationsDir, migrate: Migrate
) -> ScratchDatabase:
    """A copy of the template, with the shadow grant, and a2's place in `migrations` next."""
    migrations.add("a1", None, upgrade=BASE)
    return copy_of(template, database)


def columns(database: ScratchDatabase) -> dict[str, str]:
    return {row[0]: row[1] for row in database.execute("SHOW COLUMNS FROM ledger")}


def test_refuse_measures_the_authors_own_clauses_before_anything_runs(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    # The server could add `note` instantly, but the author asks for a copy.
    migrations.add(
        "a2",
        "a1",
        upgrade=[ADD_LEVEL, sql("ALTER TABLE ledger ADD COLUMN note INT NULL, ALGORITHM=COPY")],
    )
    before = live_checksum(guarded)

    result = migrate("upgrade", **BIG)

    assert result.code == 11, result.stderr
    assert "nothing was run" in result.error["message"]
    assert live_checksum(guarded) == before


def test_refuse_stops_before_the_first_pending_revision_runs(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL])
    migrations.add("a3", "a2", upgrade=[sql(ALTER)])
    before = live_checksum(guarded)

    result = migrate("upgrade", **BIG)

    assert result.code == 11, result.stderr
    message = result.error["message"]
    assert message.startswith(f"revision a3: `{ALTER}` would block writes on ledger (~")
    assert "nothing was run" in message
    assert live_checksum(guarded) == before
    assert guarded.version() == {"a1"}


def test_without_the_plan_a_refusal_says_how_much_of_the_revision_ran(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    revoke_shadow_databases(guarded)
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL, sql(ALTER)])

    result = migrate("upgrade", **BIG)

    assert result.code == 11, result.stderr
    message = result.error["message"]
    assert f"`{ALTER}` would block writes on ledger (~" in message
    assert "is not supported" in message  # the server's own reason
    assert "1 of the revision's statements had run, so it is partly applied while the" in message
    assert "level" in columns(guarded)
    assert columns(guarded)["hp"].startswith("smallint")
    assert guarded.version() == {"a1"}


def test_an_authors_instant_the_server_honours_runs_under_refuse(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add(
        "a2", "a1", upgrade=[sql("ALTER TABLE ledger ADD COLUMN level INT NULL, ALGORITHM=INSTANT")]
    )

    result = migrate("upgrade", **BIG)

    assert result.code == 0, result.stderr
    (ran,) = [e for e in result.logs if e["message"] == "ran without blocking writes"]
    assert (ran["table"], ran["algorithm"]) == ("ledger", "INSTANT")
    assert "level" in columns(guarded)


def test_an_authors_instant_the_server_cannot_honour_fails_with_its_reason(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    # The author's clause holds the statement to INSTANT: the server refuses it rather
    # than block writes, so the revision fails as written (exit 6), nothing blocked.
    migrations.add("a2", "a1", upgrade=[sql(f"{ALTER}, ALGORITHM=INSTANT")])
    before = live_checksum(guarded)

    result = migrate("upgrade", **BIG)

    assert result.code == 6, result.stderr
    assert "ALGORITHM=INSTANT is not supported" in result.error["message"]
    assert live_checksum(guarded) == before


def test_an_authors_lock_none_runs_as_written_under_refuse(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("CREATE INDEX ix_hp ON ledger (hp) LOCK=NONE")])

    result = migrate("upgrade", **BIG)

    assert result.code == 0, result.stderr
    (ran,) = [e for e in result.logs if e["message"] == "ran without blocking writes"]
    assert (ran["table"], ran["lock"]) == ("ledger", "NONE")
    assert guarded.execute("SHOW INDEX FROM ledger WHERE key_name = 'ix_hp'")


def test_drop_index_on_a_big_table_runs_without_blocking_writes(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add("a2", "a1", upgrade=[sql("DROP INDEX ix_name ON ledger")])

    result = migrate("upgrade", **BIG)

    assert result.code == 0, result.stderr
    (ran,) = [e for e in result.logs if e["message"] == "ran without blocking writes"]
    assert ran["table"] == "ledger"
    assert not guarded.execute("SHOW INDEX FROM ledger WHERE key_name = 'ix_name'")


def test_the_guard_holds_during_downgrade(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add("a2", "a1", upgrade=[ADD_LEVEL], downgrade=[sql(ALTER)])
    assert migrate("upgrade", **BIG).code == 0
    before = live_checksum(guarded)

    result = migrate("downgrade", "a1", **BIG)

    assert result.code == 11, result.stderr
    assert f"`{ALTER}` would block writes on ledger (~" in result.error["message"]
    assert live_checksum(guarded) == before
    assert guarded.version() == {"a2"}


def test_warn_runs_what_it_cannot_take_apart_and_says_so(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add(
        "a2", "a1", upgrade=[sql("/*!50000 ALTER TABLE ledger ADD COLUMN level INT NULL */")]
    )

    result = migrate("upgrade", **{**BIG, "MIGRATE_BLOCKING_DDL": "warn"})

    assert result.code == 0, result.stderr
    (warning,) = [e["message"] for e in result.logs if e["level"] == "warning"]
    assert warning.startswith("revision a2: cannot take `/*!50000 ALTER TABLE ledger")
    assert warning.endswith("running it unguarded (MIGRATE_BLOCKING_DDL=warn)")
    assert "level" in columns(guarded)


def test_a_qualified_table_is_measured_in_the_database_it_names(
    server: Server, template: str, tmp_path: Path
) -> None:
    with scratch_databases(server, 2) as (home, other):
        copy_of(template, home).execute("DELETE FROM ledger")
        home.execute("ANALYZE TABLE ledger")  # small here, big in `other`
        copy_of(template, other)
        migrations = MigrationsDir.create(tmp_path / "migrations")
        migrations.add("a1", None, upgrade=BASE)
        migrations.add("a2", "a1", upgrade=[sql(f"ALTER TABLE `{other.name}`.ledger {RETYPE}")])
        (tmp_path / "cwd").mkdir()
        before = live_checksum(other)

        result = Migrate(home, migrations, tmp_path / "cwd")("upgrade", **BIG)

        assert result.code == 11, result.stderr
        assert f"would block writes on {other.name}.ledger (~" in result.error["message"]
        assert live_checksum(other) == before


def test_warn_runs_a_statement_that_takes_no_clause_as_written(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    # Partitioning takes no ALGORITHM/LOCK clause before it: the server cannot read the
    # guarded form (1064), which must not fail a statement the server accepts as written.
    migrations.add(
        "a2",
        "a1",
        upgrade=[
            sql("CREATE TABLE parts (id INT PRIMARY KEY)"),
            sql("INSERT INTO parts SELECT id FROM ledger"),
            sql("ANALYZE TABLE parts"),
            sql("ALTER TABLE parts PARTITION BY KEY (id) PARTITIONS 2"),
        ],
    )

    result = migrate("upgrade", **{**BIG, "MIGRATE_BLOCKING_DDL": "warn"})

    assert result.code == 0, result.stderr
    (warning,) = [e["message"] for e in result.logs if e["level"] == "warning"]
    assert "cannot read it with an ALGORITHM/LOCK clause" in warning
    assert guarded.execute(
        "SELECT COUNT(*) FROM information_schema.partitions WHERE table_schema = DATABASE()"
        " AND table_name = 'parts'"
    ) == [(2,)]


def test_warn_logs_the_servers_reason_then_runs_the_statement_as_written(
    guarded: ScratchDatabase, migrations: MigrationsDir, migrate: Migrate
) -> None:
    migrations.add("a2", "a1", upgrade=[sql(f"{ALTER}, ALGORITHM=COPY")])

    result = migrate("upgrade", **{**BIG, "MIGRATE_BLOCKING_DDL": "warn"})

    assert result.code == 0, result.stderr
    (warning,) = [e["message"] for e in result.logs if e["level"] == "warning"]
    assert warning.startswith(f"revision a2: `{ALTER}, ALGORITHM=COPY` would block writes on")
    assert "is not supported" in warning  # the server's own reason
    assert warning.endswith("running it anyway (MIGRATE_BLOCKING_DDL=warn)")
    assert columns(guarded)["hp"].startswith("int")
