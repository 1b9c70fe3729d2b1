"""MIGRATE_DRIFT at pod start: the live schema's fingerprint against the one the runner stored."""

from __future__ import annotations

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase

FINGERPRINT_TABLE = "migrator_schema_fingerprint"
CHANGED = "the live schema changed since the runner last migrated it"
NONE_STORED = "no schema fingerprint is stored for this database"


def two_revisions(migrations: MigrationsDir) -> None:
    migrations.add(
        "s0001",
        None,
        upgrade=[sql("CREATE TABLE inventory (id INT PRIMARY KEY, qty BIGINT NOT NULL)")],
    )
    migrations.add(
        "s0002",
        "s0001",
        upgrade=[sql("CREATE TABLE players (id INT PRIMARY KEY, name VARCHAR(40))")],
    )


def warnings(result_stderr: str, text: str) -> int:
    return result_stderr.count(text)


def test_fail_stops_a_drifted_database_with_exit_12_before_any_revision_runs(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    two_revisions(migrations)
    first = migrate(MIGRATE_DRIFT="fail")  # from an empty database: the print is stored
    assert first.code == 0, first.stderr
    assert FINGERPRINT_TABLE in database.tables()
    noop = migrate(MIGRATE_DRIFT="fail")
    assert noop.code == 0, noop.stderr
    assert CHANGED not in noop.stderr

    database.execute("CREATE INDEX ix_x ON inventory (qty)")
    at_head = migrate(MIGRATE_DRIFT="fail")
    migrations.add("s0003", "s0002", upgrade=[sql("CREATE TABLE guild (id INT PRIMARY KEY)")])
    behind = migrate(MIGRATE_DRIFT="fail")

    assert at_head.code == 12, at_head.stderr
    assert CHANGED in at_head.error["message"]
    assert behind.code == 12, behind.stderr
    assert database.version() == {"s0002"}
    assert "guild" not in database.tables()


def test_warn_says_it_in_one_line_and_migrates(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    two_revisions(migrations)
    assert migrate(MIGRATE_DRIFT="warn").code == 0
    database.execute("ALTER TABLE inventory MODIFY qty INT NOT NULL")

    noop = migrate(MIGRATE_DRIFT="warn")

    assert noop.code == 0, noop.stderr
    assert warnings(noop.stderr, CHANGED) == 1
    assert migrate(MIGRATE_DRIFT="off").stderr.count(CHANGED) == 0


def test_a_database_migrated_before_gets_a_fingerprint_only_from_a_clean_drift(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    two_revisions(migrations)
    assert migrate().code == 0  # MIGRATE_DRIFT=off: nothing stored

    noop = migrate(MIGRATE_DRIFT="fail")
    assert noop.code == 0, noop.stderr
    assert warnings(noop.stderr, NONE_STORED) == 1
    assert FINGERPRINT_TABLE not in database.tables()

    database.execute("CREATE INDEX ix_x ON inventory (qty)")
    drifted = migrate("drift", MIGRATE_DRIFT="fail")
    assert drifted.code == 12, drifted.stderr
    assert FINGERPRINT_TABLE not in database.tables()  # never stored blindly

    database.execute("DROP INDEX ix_x ON inventory")
    clean = migrate("drift", MIGRATE_DRIFT="fail")
    assert clean.code == 0, clean.stderr
    assert FINGERPRINT_TABLE in database.tables()

    database.execute("CREATE INDEX ix_y ON inventory (qty)")
    assert migrate(MIGRATE_DRIFT="fail").code == 12


def test_the_noop_with_drift_on_imports_no_sqlalchemy_alembic_or_pydantic(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    two_revisions(migrations)
    assert migrate(MIGRATE_DRIFT="warn").code == 0

    result = migrate(MIGRATE_DRIFT="warn", MIGRATE_DEBUG="1", PYTHONVERBOSE="1")

    assert result.code == 0, result.stderr[-2000:]
    imported = result.stderr
    assert "import 'migrator.drift.pod_start'" in imported  # the check did run
    assert "the schema is as the runner left it" in imported
    assert "import 'sqlalchemy'" not in imported
    assert "import 'alembic'" not in imported
    assert "import 'pydantic'" not in imported


def test_an_unchanged_schema_is_judged_by_its_quick_print_without_reading_it_in_full(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """One query on the no-op path: normalising (the full read) is not even imported."""
    two_revisions(migrations)
    assert migrate(MIGRATE_DRIFT="warn").code == 0
    database.execute("INSERT INTO inventory VALUES (1, 5)")  # data, statistics: not schema
    database.execute("ANALYZE TABLE inventory")

    result = migrate(MIGRATE_DRIFT="fail", MIGRATE_DEBUG="1", PYTHONVERBOSE="1")

    assert result.code == 0, result.stderr[-2000:]
    assert "the schema is as the runner left it" in result.stderr
    assert "import 'migrator.drift.normalise'" not in result.stderr


def test_a_quick_print_this_server_no_longer_makes_falls_back_to_the_full_comparison(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """A server upgrade may print an unchanged schema differently: that is not drift."""
    two_revisions(migrations)
    assert migrate(MIGRATE_DRIFT="fail").code == 0
    database.execute(f"UPDATE {FINGERPRINT_TABLE} SET quick_print = REPEAT('0', 64)")

    unchanged = migrate(MIGRATE_DRIFT="fail", MIGRATE_DEBUG="1", PYTHONVERBOSE="1")
    database.execute("ALTER TABLE players MODIFY name VARCHAR(41)")
    changed = migrate(MIGRATE_DRIFT="fail")

    assert unchanged.code == 0, unchanged.stderr[-2000:]
    assert "import 'migrator.drift.normalise'" in unchanged.stderr  # compared in full
    assert CHANGED not in unchanged.stderr
    assert changed.code == 12, changed.stderr
