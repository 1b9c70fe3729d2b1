"""status, history, heads, sql, revision, autogenerate, check and wait against a real server."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import RunEntrypoint, ScratchDatabase
from tests.integration.conftest import Migrate, MigrationsDir, SchemaModule

ACCOUNTS = """
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
)
"""
LEVEL = '    sa.Column("level", mysql.TINYINT, nullable=False, server_default="1"),\n'
ACCOUNTS_WITH_LEVEL = ACCOUNTS.replace('    sa.Column("name"', LEVEL + '    sa.Column("name"')


def revision_files(migrations: MigrationsDir) -> list[Path]:
    return sorted((migrations.path / "versions").glob("*.py"))


def test_status_reports_current_head_and_pending(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(3)
    migrate("upgrade", "r0001")

    result = migrate("status")

    assert result.code == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["current"].strip() == "r0001"
    assert lines["head"].strip() == "r0003"
    assert lines["pending"].split() == ["r0002", "r0003"]
    assert lines["database"].strip() == migrate.database.target.redacted_url()


def test_status_exit_code_is_10_when_behind_and_0_at_head(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(2)

    behind = migrate("status", "--exit-code")
    assert behind.code == 10
    assert behind.error["message"] == "2 revision(s) pending"

    migrate()
    at_head = migrate("status", "--exit-code")
    assert at_head.code == 0, at_head.stderr
    assert "pending:  none" in at_head.stdout


def test_history_and_heads_need_no_database(
    run_cli: RunEntrypoint, migrations: MigrationsDir
) -> None:
    migrations.chain(2)
    settings = {"MIGRATE_MIGRATIONS_DIR": str(migrations.path)}

    history = run_cli("history", **settings)
    heads = run_cli("heads", **settings)

    assert history.code == 0, history.stderr
    assert history.stdout.splitlines() == [
        "r0001 -> r0002 (head), revision r0002",
        "<base> -> r0001, revision r0001",
    ]
    assert heads.code == 0, heads.stderr
    assert heads.stdout.strip() == "r0002 (head)"


def test_sql_renders_ddl_offline(run_cli: RunEntrypoint, migrations: MigrationsDir) -> None:
    migrations.chain(2)
    settings = {"MIGRATE_MIGRATIONS_DIR": str(migrations.path)}

    everything = run_cli("sql", **settings)
    second_only = run_cli("sql", "r0001:r0002", **settings)

    assert everything.code == 0, everything.stderr
    assert "CREATE TABLE alembic_version" in everything.stdout
    assert "CREATE TABLE t1 (id INT PRIMARY KEY)" in everything.stdout
    assert "CREATE TABLE t2 (id INT PRIMARY KEY)" in everything.stdout
    assert second_only.code == 0, second_only.stderr
    assert "CREATE TABLE t1" not in second_only.stdout
    assert "UPDATE alembic_version SET version_num='r0002'" in second_only.stdout


def test_revision_writes_an_empty_revision_on_the_head(
    run_cli: RunEntrypoint, migrations: MigrationsDir
) -> None:
    migrations.chain(1)

    result = run_cli(
        "revision", "-m", "backfill names", MIGRATE_MIGRATIONS_DIR=str(migrations.path)
    )

    assert result.code == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.parent == migrations.path / "versions"
    assert written.name.endswith("_backfill_names.py")
    module = ast.parse(written.read_text())
    assignments = {
        node.target.id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    }
    assert assignments["down_revision"] == "r0001"


def test_autogenerate_writes_one_revision_then_nothing_when_in_sync(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    settings = schema.write(ACCOUNTS)

    first = migrate("autogenerate", "-m", "add accounts", **settings)

    assert first.code == 0, first.stderr
    files = revision_files(migrations)
    assert len(files) == 1
    assert first.stdout.strip() == str(files[0])
    assert "op.create_table(" in files[0].read_text()
    assert "accounts" not in database.tables()  # autogenerate writes files, not tables

    assert migrate("upgrade", **settings).code == 0
    assert database.tables() == {"accounts", "alembic_version"}

    again = migrate("autogenerate", "-m", "nothing changed", **settings)

    assert again.code == 0, again.stderr
    assert again.stdout == ""
    assert "no changes detected: no revision written" in again.messages()
    assert revision_files(migrations) == files


def test_autogenerate_refuses_a_database_behind_head(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule
) -> None:
    migrations.chain(1)

    result = migrate("autogenerate", "-m", "x", **schema.write(ACCOUNTS))

    assert result.code == 10
    assert "run upgrade first" in result.error["message"]
    assert len(revision_files(migrations)) == 1


def test_check_is_clean_after_upgrade_and_reports_drift_with_7(
    migrate: Migrate, schema: SchemaModule
) -> None:
    settings = schema.write(ACCOUNTS)
    assert migrate("autogenerate", "-m", "accounts", **settings).code == 0
    assert migrate("upgrade", **settings).code == 0

    clean = migrate("check", **settings)
    assert clean.code == 0, clean.stderr

    drifted = migrate("check", **schema.write(ACCOUNTS_WITH_LEVEL))
    assert drifted.code == 7
    assert "add_column accounts.level" in drifted.error["message"]


def test_the_bundled_schema_and_first_revision_agree(migrate: Migrate) -> None:
    assert migrate("upgrade", MIGRATE_MIGRATIONS_DIR=None).code == 0

    result = migrate("check", MIGRATE_MIGRATIONS_DIR=None)

    assert result.code == 0, result.stderr


def test_wait_returns_once_the_database_accepts_a_login(migrate: Migrate) -> None:
    result = migrate("wait")

    assert result.code == 0, result.stderr
    assert "the database accepts logins" in result.messages()
