"""status, history, heads, sql, revision, autogenerate, check and wait against a real server."""

from __future__ import annotations

import ast
import signal
import time
from pathlib import Path

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.polling import wait_until
from tests.support.runner import RunEntrypoint, finish, start_entrypoint
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Users

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


def shadow_databases(database: ScratchDatabase) -> list[str]:
    rows = database.server.execute("SHOW DATABASES LIKE %s", f"{database.name}\\_shadow\\_%")
    return [row[0] for row in rows]


def shadow_tables(database: ScratchDatabase) -> set[str]:
    """The tables of ``database``'s shadow databases."""
    return {
        row[0]
        for shadow in shadow_databases(database)
        for row in database.server.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", shadow
        )
    }


def test_autogenerate_uses_a_shadow_database_whatever_the_live_state(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    migrations.chain(1)  # the live database stays empty: behind head

    result = migrate("autogenerate", "-m", "accounts", **schema.write(ACCOUNTS))

    assert result.code == 0, result.stderr
    written = set(revision_files(migrations)) - {migrations.path / "versions" / "r0001.py"}
    assert len(written) == 1
    text = written.pop().read_text()
    assert "down_revision: str | Sequence[str] | None = 'r0001'" in text.replace('"', "'")
    assert "op.create_table(" in text
    # Compared with head (where r0001 created t1), not with the empty live database:
    assert 'op.drop_table("t1")' in text
    assert database.tables() == set()  # the live database was not touched
    assert "created the shadow database" in result.messages()
    assert "dropped the shadow database" in result.messages()
    assert shadow_databases(database) == []


def test_autogenerate_on_a_custom_shadow_server(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    # A shadow server has an account of its own, allowed to create databases there.
    shadow_url = database.admin_url.replace(f"/{database.name}", "/test")

    result = migrate(
        "autogenerate",
        "-m",
        "accounts",
        MIGRATE_SHADOW_DATABASE_URL=shadow_url,
        **schema.write(ACCOUNTS),
    )

    assert result.code == 0, result.stderr
    created = next(e for e in result.logs if e["message"] == "created the shadow database")
    assert created["database"].startswith("test_shadow_")
    assert database.server.execute("SHOW DATABASES LIKE %s", created["database"]) == []


def test_autogenerate_without_create_privilege_falls_back_to_the_target_at_head(
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
    users: Users,
) -> None:
    migrations.chain(1)
    user = users.create("pw-no-create", f"ALL ON `{database.name}`.*")
    as_user = {"DATABASE_URL": database.url_as(user, "pw-no-create"), **schema.write(ACCOUNTS)}

    behind = migrate("autogenerate", "-m", "x", **as_user)

    assert behind.code == 10
    assert (
        "may not create databases"
        in next(e for e in behind.logs if e["level"] == "warning")["message"]
    )
    assert "run upgrade first" in behind.error["message"]

    assert migrate("upgrade", **as_user).code == 0
    at_head = migrate("autogenerate", "-m", "accounts", **as_user)

    assert at_head.code == 0, at_head.stderr
    assert len(revision_files(migrations)) == 2


def test_the_shadow_database_is_dropped_when_a_migration_fails(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    migrations.add("broken", None, upgrade=[sql("ALTER TABLE nope ADD x INT")])

    result = migrate("autogenerate", "-m", "x", **schema.write(ACCOUNTS))

    assert result.code == 6
    assert "dropped the shadow database" in result.messages()
    assert shadow_databases(database) == []


def test_the_shadow_database_is_dropped_when_interrupted(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    migrations.add(
        "slow", None, upgrade=[sql("CREATE TABLE a (id INT PRIMARY KEY)"), "time.sleep(30)"]
    )
    env = migrate.env(**schema.write(ACCOUNTS))
    started = time.monotonic()
    process = start_entrypoint(["autogenerate", "-m", "x"], env, migrate.workdir)
    wait_until(
        lambda: "a" in shadow_tables(database),
        message="the slow revision never ran on the shadow database",
    )

    process.send_signal(signal.SIGINT)
    result = finish(process, started)

    assert result.code == 130
    assert shadow_databases(database) == []


def test_autogenerate_summarises_operations_and_flags_destructive_ones(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule
) -> None:
    assert migrate("autogenerate", "-m", "accounts", **schema.write(ACCOUNTS_WITH_LEVEL)).code == 0
    narrower = ACCOUNTS.replace("sa.String(40)", "sa.String(20)")

    result = migrate("autogenerate", "-m", "drop level", **schema.write(narrower))

    assert result.code == 0, result.stderr
    written = next(e for e in result.logs if e["message"] == "revision written")
    assert (written["operations"], written["destructive"]) == (2, 2)
    warnings = [e["message"] for e in result.logs if e["level"] == "warning"]
    assert "destructive: remove_column accounts.level: review it before merging" in warnings
    assert "destructive: modify_type accounts.name: review it before merging" in warnings
    assert written["may_block_writes"] == 1
    assert any(w.startswith("may block writes: modify_type accounts.name: ") for w in warnings)


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
