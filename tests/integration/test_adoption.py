"""Adopting an existing database: a baseline revision, then `check`; exit 8 tells why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from migrator.db.marker import MARKER_TABLE
from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir
from tests.support.runner import applied_revisions
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase

FOREIGN = "a1b2c3d4e5f6"


def tables_built_without_these_migrations(database: ScratchDatabase) -> None:
    """What `chain(2)` would have built, made by hand (or by the application itself)."""
    database.execute("CREATE TABLE t1 (id INT PRIMARY KEY)")
    database.execute("CREATE TABLE t2 (id INT PRIMARY KEY)")


def foreign_alembic_version(database: ScratchDatabase) -> None:
    """alembic_version as another migrations directory left it."""
    database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    database.execute(f"INSERT INTO alembic_version VALUES ('{FOREIGN}')")


EXISTING_SCHEMA = (
    't1 = sa.Table("t1", metadata, sa.Column("id", sa.Integer, primary_key=True,'
    " autoincrement=False))\n"
    't2 = sa.Table("t2", metadata, sa.Column("id", sa.Integer, primary_key=True,'
    " autoincrement=False))"
)


def test_a_database_with_tables_and_no_revision_is_adopted_then_checked_then_upgraded(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, schema: SchemaModule
) -> None:
    migrations.chain(2)  # the revisions that describe the existing schema
    tables_built_without_these_migrations(database)
    settings = schema.write(EXISTING_SCHEMA)

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
    assert "README: Adopting an existing database" in upgrade.error["message"]
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


def foreign_history_with_tables(database: ScratchDatabase) -> None:
    tables_built_without_these_migrations(database)
    foreign_alembic_version(database)


def own_record_from_a_newer_release(database: ScratchDatabase) -> None:
    """What this runner leaves after migrating to a revision of a newer release."""
    database.execute(f"CREATE TABLE {MARKER_TABLE} (id TINYINT PRIMARY KEY)")
    tables_built_without_these_migrations(database)
    database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    database.execute("INSERT INTO alembic_version VALUES ('r0099')")


def interrupted_first_revision(database: ScratchDatabase) -> None:
    """A first upgrade killed inside r0001: its marker row, its table, no version yet."""
    tables_built_without_these_migrations(database)
    database.execute(
        f"CREATE TABLE {MARKER_TABLE} (id TINYINT NOT NULL, revision VARCHAR(64) NOT NULL,"
        " stamped_before VARCHAR(255) NOT NULL, stamped_after VARCHAR(255) NOT NULL,"
        " started_at DATETIME(6) NOT NULL, runner VARCHAR(255) NOT NULL, PRIMARY KEY (id))"
    )
    database.execute(
        f"INSERT INTO {MARKER_TABLE} VALUES (1, 'r0001', '', 'r0001', UTC_TIMESTAMP(6), 'gone')"
    )


REFUSALS: dict[str, tuple[Callable[[ScratchDatabase], None], tuple[str, ...], int, str]] = {
    "unknown revision": (tables_built_without_these_migrations, ("nope",), 2, "'nope'"),
    "unknown revision over a foreign history": (
        foreign_history_with_tables,
        ("nope", "--replace-foreign"),
        2,
        "'nope'",
    ),
    "base": (tables_built_without_these_migrations, ("base",), 2, "base"),
    "a relative revision before the first": (
        tables_built_without_these_migrations,
        ("-2",),
        2,
        "base",
    ),
    "foreign history without the flag": (
        foreign_history_with_tables,
        ("r0002",),
        2,
        "--replace-foreign",
    ),
    "no tables": (lambda database: None, ("r0001",), 2, "no tables"),
    "no tables but a foreign history": (
        foreign_alembic_version,
        ("r0001", "--replace-foreign"),
        2,
        "no tables",
    ),
    "own record from a newer release": (
        own_record_from_a_newer_release,
        ("r0002",),
        8,
        "newer release",
    ),
    "own record from a newer release, with the flag": (
        own_record_from_a_newer_release,
        ("r0002", "--replace-foreign"),
        8,
        "newer release",
    ),
    "an interrupted revision": (interrupted_first_revision, ("r0002",), 6, "r0001"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_baseline_leaves_the_database_byte_for_byte_unchanged(
    case: str, migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    prepare, arguments, code, named = REFUSALS[case]
    migrations.chain(2)
    prepare(database)
    before = live_checksum(database)

    refused = migrate("baseline", *arguments)

    assert refused.code == code, refused.stderr
    assert named in refused.error["message"]
    assert live_checksum(database) == before


def test_after_a_refused_baseline_over_a_foreign_history_upgrade_still_refuses_it(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """The foreign record is not lost, so exit 8 still says "other migrations"."""
    migrations.chain(2)
    foreign_history_with_tables(database)

    refused = migrate("baseline", "nope", "--replace-foreign")
    upgrade = migrate()

    assert refused.code == 2
    assert upgrade.code == 8, upgrade.stderr
    assert "have never had" in upgrade.error["message"]
    assert applied_revisions(upgrade) == Counter()
    assert database.version() == {FOREIGN}


def test_the_first_revision_is_written_from_the_schema_module_then_adopted_as_the_readme_says(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, schema: SchemaModule
) -> None:
    """Steps 1-3: `revision` (autogenerate) on a shadow database, `baseline`, `check`."""
    tables_built_without_these_migrations(database)
    settings = schema.write(EXISTING_SCHEMA)
    before = live_checksum(database)

    written = migrate("autogenerate", "-m", "baseline", **settings)

    assert written.code == 0, written.stderr
    assert live_checksum(database) == before  # written on a shadow database
    (path,) = (migrations.path / "versions").glob("*_baseline.py")
    assert "op.create_table(" in path.read_text()
    revision = path.name.split("_")[1]

    adopted = migrate("baseline", revision)
    checked = migrate("check", **settings)

    assert adopted.code == 0, adopted.stderr
    assert database.version() == {revision}
    assert database.tables() == {"alembic_version", "t1", "t2"}  # recorded, not run
    assert checked.code == 0, checked.stderr


def test_check_after_a_baseline_lists_what_differs_with_exit_7_and_keeps_the_record(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, schema: SchemaModule
) -> None:
    migrations.chain(2)
    tables_built_without_these_migrations(database)
    database.execute("ALTER TABLE t2 ADD COLUMN note VARCHAR(20)")  # not in the schema module
    settings = schema.write(EXISTING_SCHEMA)

    assert migrate("baseline", "r0002").code == 0
    checked = migrate("check", **settings)

    assert checked.code == 7, checked.stderr
    assert "note" in checked.stderr
    assert database.version() == {"r0002"}


def test_an_adopted_database_is_this_runners_own_so_an_unknown_revision_is_a_newer_release(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    foreign_history_with_tables(database)
    assert migrate("baseline", "r0002", "--replace-foreign").code == 0
    database.execute("UPDATE alembic_version SET version_num = 'r0099'")  # a newer release ran

    upgrade = migrate()
    rewind = migrate("baseline", "r0002", "--replace-foreign")

    assert upgrade.code == 8
    assert "newer release" in upgrade.error["message"]
    assert rewind.code == 8
    assert database.version() == {"r0099"}


def test_baseline_writes_under_the_migration_lock(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    tables_built_without_these_migrations(database)
    before = live_checksum(database)

    with database.lock_held_elsewhere():
        waited = migrate("baseline", "r0002", MIGRATE_LOCK_TIMEOUT="2")

    assert waited.code == 5, waited.stderr
    assert live_checksum(database) == before


def test_stamp_at_a_revision_the_migrations_lack_leaves_the_database_unchanged(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    before = live_checksum(database)

    refused = migrate("stamp", "nope")

    assert refused.code == 2, refused.stderr
    assert "cannot stamp 'nope'" in refused.error["message"]
    assert live_checksum(database) == before
