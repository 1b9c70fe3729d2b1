"""The no-op fast path agrees with Alembic's own answer, or steps aside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from migrator.alembic_support.scripts import alembic_config
from migrator.core.fastpath import at_head_or_take_lock, static_history
from migrator.core.session import LockedSession
from migrator.db.connection import ConnectionSettings, wait_for_database
from migrator.settings.target import Project
from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir
from tests.support.project import PROJECT_ROOT
from tests.support.runner import finish, start_entrypoint, wait_for_line
from tests.support.servers import ScratchDatabase


def static_head(path: Path) -> str | None:
    history = static_history(path)
    return history[0] if history is not None else None


def alembic_heads(path: Path) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(Project(path)))
    return list(script.get_heads())


def settings(database: ScratchDatabase) -> ConnectionSettings:
    return ConnectionSettings(database.target, wait_timeout=10, connect_timeout=5)


def at_head(migrations: Path, database: ScratchDatabase) -> str | None:
    history = static_history(migrations)
    if history is None:
        return None
    with LockedSession(settings(database), wait_for_database(settings(database)), None) as session:
        return at_head_or_take_lock(history, session)


def linear(migrations: MigrationsDir) -> None:
    migrations.chain(3)


def branched(migrations: MigrationsDir) -> None:
    migrations.chain(1)
    migrations.add("left", "r0001")
    migrations.add("right", "r0001")


def merged(migrations: MigrationsDir) -> None:
    branched(migrations)
    migrations.add("merge", ("left", "right"))


def empty(migrations: MigrationsDir) -> None:
    pass


def multiline_merge(migrations: MigrationsDir) -> None:
    branched(migrations)
    path = migrations.add("merge", ("left", "right"))
    path.write_text(
        path.read_text().replace("('left', 'right')", "(\n    'left',\n    'right',\n)")
    )


@pytest.mark.parametrize("history", [linear, branched, merged, empty, multiline_merge])
def test_static_head_agrees_with_alembic_or_steps_aside(
    migrations: MigrationsDir, history: object
) -> None:
    history(migrations)  # type: ignore[operator]

    fast = static_head(migrations.path)
    heads = alembic_heads(migrations.path)

    if fast is None:  # stepping aside is always allowed: the full path decides
        assert history in {branched, empty, multiline_merge}
    else:
        assert [fast] == heads


def test_the_bundled_migrations_have_a_static_head() -> None:
    migrations = PROJECT_ROOT / "migrations"

    assert [static_head(migrations)] == alembic_heads(migrations)


@pytest.mark.parametrize("history", [linear, merged])
def test_the_fast_path_agrees_with_the_database_state(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, history: object
) -> None:
    history(migrations)  # type: ignore[operator]
    head = alembic_heads(migrations.path)[0]

    assert at_head(migrations.path, database) is None  # empty database
    assert migrate("upgrade", "r0001").code == 0
    assert at_head(migrations.path, database) is None  # behind

    assert migrate().code == 0

    assert at_head(migrations.path, database) == head
    database.execute("UPDATE alembic_version SET version_num = 'somewhere_else'")
    assert at_head(migrations.path, database) is None  # unknown: full path


def test_the_connection_it_hands_on_sees_later_commits(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    # The full path reuses the fast path's login; a REPEATABLE READ snapshot left
    # open by the fast path would hide what another runner committed meanwhile.
    migrations.chain(2)
    assert migrate("upgrade", "r0001").code == 0
    connection = wait_for_database(settings(database))
    try:
        # What the fast path reads before the lock.
        assert LockedSession(settings(database), connection, None).observe().current == ("r0001",)
        database.execute("UPDATE alembic_version SET version_num = 'r0002'")
        with connection.cursor() as cursor:
            cursor.execute("SELECT version_num FROM alembic_version")
            assert cursor.fetchall() == (("r0002",),)
    finally:
        connection.close()


def test_a_noop_through_the_fast_path_imports_no_sqlalchemy_alembic_or_pydantic(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.chain(2)
    assert migrate().code == 0

    result = migrate(MIGRATE_DEBUG="1", PYTHONVERBOSE="1")

    assert result.code == 0
    imported = result.stderr
    assert "import 'pymysql'" in imported  # the probe sees imports at all
    assert "import 'sqlalchemy'" not in imported
    assert "import 'alembic'" not in imported
    assert "import 'pydantic'" not in imported


def test_a_runner_that_waited_out_another_stops_at_head_without_loading_alembic(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(2)
    with database.lock_held_elsewhere():
        started = time.monotonic()
        process = start_entrypoint(
            ["upgrade"], {**migrate.env(), "PYTHONVERBOSE": "1"}, migrate.workdir
        )
        wait_for_line(process, "taking the migration lock")
        # Meanwhile the lock holder, another runner, brings the database to head.
        database.execute(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
        )
        database.execute("INSERT INTO alembic_version VALUES ('r0002')")
    result = finish(process, started, timeout=30)

    assert result.code == 0
    assert "already at head after waiting for the lock" in result.stderr
    assert "import 'sqlalchemy'" not in result.stderr
    assert "import 'alembic'" not in result.stderr


def test_a_revision_with_a_syntax_error_is_exit_9_before_the_migration_lock(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """Behind head, with the lock held by another runner: the typo is reported at once,
    not after waiting out the lock (exit 5), and nothing is written."""
    migrations.chain(1)
    assert migrate().code == 0
    broken = migrations.add("r0002", "r0001")
    broken.write_text(broken.read_text().replace("def upgrade() -> None:", "def upgrade() -> None"))
    before = live_checksum(database)

    with database.lock_held_elsewhere():
        result = migrate(MIGRATE_LOCK_TIMEOUT="5")

    assert result.code == 9, result.stderr
    assert "SyntaxError in" in result.error["message"]
    assert "r0002.py" in result.error["message"]
    assert not any("migration lock" in message for message in result.messages())
    assert live_checksum(database) == before


def test_a_noop_at_head_does_not_compile_the_revisions(
    migrate: Migrate, migrations: MigrationsDir, tmp_path: Path
) -> None:
    """The syntax check is for a database behind head: at head, no revision file is read
    as code (a file that no longer compiles is the next release's problem, not this run's)."""
    migrations.chain(2)
    assert migrate().code == 0
    broken = migrations.path / "versions" / "r0001.py"
    broken.write_text(broken.read_text().replace("def upgrade() -> None:", "def upgrade() -> None"))

    result = migrate()

    assert result.code == 0, result.stderr
    assert "nothing to do: already at head" in result.messages()
