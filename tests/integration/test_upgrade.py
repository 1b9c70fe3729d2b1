"""upgrade, downgrade and stamp against a real server."""

from __future__ import annotations

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase


def test_bundled_migrations_create_status_table_then_second_run_is_a_noop(
    migrate: Migrate, database: ScratchDatabase
) -> None:
    first = migrate(MIGRATE_MIGRATIONS_DIR=None)

    assert first.code == 0, first.stderr
    assert database.tables() == {"status", "alembic_version"}
    columns = database.execute(
        "SELECT column_name, column_type, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = DATABASE()"
        " AND table_name = 'status' ORDER BY ordinal_position"
    )
    assert [(name, kind.split("(")[0], null) for name, kind, null, _ in columns] == [
        ("account_id", "int", "NO"),
        ("hp", "smallint", "NO"),
        ("weapon_id", "smallint", "NO"),
        ("weapon_lv", "tinyint", "NO"),
        ("armor_id", "smallint", "NO"),
        ("armor_lv", "tinyint", "NO"),
    ]
    assert [str(default).strip("'") for *_, default in columns[1:]] == ["30", "1", "0", "1", "0"]
    head = database.version()
    assert len(head) == 1
    assert "applied revision" in first.messages()
    assert database.run_marker() == []  # written before the revision, cleared with its stamp

    second = migrate(MIGRATE_MIGRATIONS_DIR=None)

    assert second.code == 0, second.stderr
    assert "applied revision" not in second.messages()
    assert "nothing to do: already at head" in second.messages()
    assert database.version() == head


def test_upgrade_logs_target_revisions_and_timings(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(3)

    result = migrate("upgrade")

    assert result.code == 0, result.stderr
    start = next(e for e in result.logs if e["message"] == "starting upgrade")
    assert start["target"] == migrate.database.target.redacted_url()
    assert start["current"] == "base"
    applied = [e for e in result.logs if e["message"] == "applied revision"]
    assert [e["revision"] for e in applied] == ["r0001", "r0002", "r0003"]
    assert all(e["duration_s"] >= 0 for e in applied)
    done = next(e for e in result.logs if e["message"] == "upgrade complete")
    assert (done["from"], done["to"], done["applied"]) == ("base", "r0003", 3)
    assert done["duration_s"] > 0


def test_upgrade_to_a_revision_then_downgrade_step_by_step(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(3)

    assert migrate("upgrade", "r0002").code == 0
    assert database.version() == {"r0002"}
    assert database.tables() == {"alembic_version", "t1", "t2"}

    assert migrate("upgrade", "+1").code == 0
    assert database.version() == {"r0003"}

    assert migrate("downgrade", "-1").code == 0
    assert database.version() == {"r0002"}
    assert "t3" not in database.tables()

    result = migrate("downgrade", "base")
    assert result.code == 0, result.stderr
    assert database.version() == set()
    assert database.tables() == {"alembic_version"}
    assert [e["revision"] for e in result.logs if e["message"] == "reverted revision"] == [
        "r0002",
        "r0001",
    ]


def test_upgrade_to_an_unknown_target_is_a_usage_error(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)

    result = migrate("upgrade", "nosuchrev")

    assert result.code == 2
    assert "nosuchrev" in result.error["message"]
    assert database.tables() == set()


def test_stamp_records_a_revision_without_running_it(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)

    result = migrate("stamp", "head")

    assert result.code == 0, result.stderr
    assert database.version() == {"r0002"}
    assert database.tables() == {"alembic_version"}
    assert migrate("stamp", "base").code == 0
    assert database.version() == set()


def test_python_code_in_a_revision_runs_with_the_live_connection(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add(
        "data1",
        None,
        upgrade=[
            sql("CREATE TABLE config (k VARCHAR(20) PRIMARY KEY, v INT)"),
            "table = sa.table('config', sa.column('k'), sa.column('v'))",
            "op.bulk_insert(table, [{'k': 'a', 'v': 1}, {'k': 'b', 'v': 2}])",
        ],
        downgrade=[sql("DROP TABLE config")],
    )

    result = migrate()

    assert result.code == 0, result.stderr
    assert database.execute("SELECT k, v FROM config ORDER BY k") == [("a", 1), ("b", 2)]
    assert database.version() == {"data1"}


def test_empty_migrations_directory_is_nothing_to_do(
    migrate: Migrate, database: ScratchDatabase
) -> None:
    result = migrate()

    assert result.code == 0, result.stderr
    assert database.version() == set()
