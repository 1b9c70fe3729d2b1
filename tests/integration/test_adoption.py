"""Adopting an existing database: a baseline revision, then `check`; exit 8 tells why."""

from __future__ import annotations

from collections import Counter

from tests.conftest import ScratchDatabase, applied_revisions
from tests.integration.conftest import Migrate, MigrationsDir, SchemaModule

FOREIGN = "a1b2c3d4e5f6"


def tables_built_without_these_migrations(database: ScratchDatabase) -> None:
    """What `chain(2)` would have built, made by hand (or by the application itself)."""
    database.execute("CREATE TABLE t1 (id INT PRIMARY KEY)")
    database.execute("CREATE TABLE t2 (id INT PRIMARY KEY)")


def foreign_alembic_version(database: ScratchDatabase) -> None:
    """alembic_version as another migrations directory left it."""
    database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    database.execute(f"INSERT INTO alembic_version VALUES ('{FOREIGN}')")


def test_a_database_with_tables_and_no_revision_is_adopted_then_checked_then_upgraded(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, schema: SchemaModule
) -> None:
    migrations.chain(2)  # the revisions that describe the existing schema
    tables_built_without_these_migrations(database)
    settings = schema.write(
        't1 = sa.Table("t1", metadata, sa.Column("id", sa.Integer, primary_key=True,'
        " autoincrement=False))\n"
        't2 = sa.Table("t2", metadata, sa.Column("id", sa.Integer, primary_key=True,'
        " autoincrement=False))"
    )

    adopted = migrate("baseline", "r0002")
    checked = migrate("check", **settings)
    migrations.add("r0003", "r0002", upgrade=["op.execute('CREATE TABLE t3 (id INT PRIMARY KEY)')"])
    upgraded = migrate()

    assert adopted.code == 0, adopted.stderr
    assert any("run `check`" in message for message in adopted.messages())
    assert checked.code == 0, checked.stderr
    assert upgraded.code == 0, upgraded.stderr
    assert applied_revisions(upgraded) == Counter({"r0003": 1})
    assert database.tables() == {"alembic_version", "t1", "t2", "t3"}


def test_a_foreign_alembic_version_is_exit_8_naming_the_adoption_then_replaced_when_asked(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    tables_built_without_these_migrations(database)
    foreign_alembic_version(database)

    upgrade = migrate()
    stamp = migrate("stamp", "r0002")
    refused = migrate("baseline", "r0002")

    assert upgrade.code == 8
    assert "have never had" in upgrade.error["message"]
    assert "baseline REVISION --replace-foreign" in upgrade.error["message"]
    assert stamp.code != 0  # stamp keeps refusing a history it cannot place
    assert refused.code == 2
    assert "--replace-foreign" in refused.error["message"]
    assert database.version() == {FOREIGN}

    adopted = migrate("baseline", "r0002", "--replace-foreign")
    again = migrate()

    assert adopted.code == 0, adopted.stderr
    assert database.version() == {"r0002"}
    assert again.code == 0, again.stderr
    assert applied_revisions(again) == Counter()


def test_baseline_refuses_a_database_without_tables_or_already_at_a_known_revision(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)

    empty = migrate("baseline", "r0001")
    assert migrate().code == 0
    known = migrate("baseline", "r0001")

    assert empty.code == 2
    assert "no tables" in empty.error["message"]
    assert known.code == 2
    assert "already at r0002" in known.error["message"]
    assert database.version() == {"r0002"}


def test_baseline_at_a_revision_the_migrations_lack_is_exit_2(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    tables_built_without_these_migrations(database)

    result = migrate("baseline", "nope")

    assert result.code == 2
    assert "cannot baseline at 'nope'" in result.error["message"]
    assert database.version() == set()
