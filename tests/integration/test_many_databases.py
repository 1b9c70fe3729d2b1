"""Several targets with different schemas, and one schema across sixteen shards."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from migrator.db.marker import MARKER_TABLE
from tests.support.migrations import Migrate, MigrationsDir, game_migrations, shard_template
from tests.support.network import free_port
from tests.support.runner import applied_revisions, finish, start_entrypoint
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Server, scratch_databases

SHARDS = 16
# A fleet logs each revision applied at debug level; the tests that count them need it.
STEPS = {"MIGRATE_DEBUG": "1"}


def template(shards: list[ScratchDatabase]) -> dict[str, str | None]:
    return shard_template(shards)


def test_two_targets_with_different_schemas_in_one_run(
    migrate: Migrate, migrations: MigrationsDir, server: Server, tmp_path: Path
) -> None:
    migrations.chain(2, prefix="m")
    log_migrations = MigrationsDir.create(tmp_path / "log")
    log_migrations.add(
        "l1", None, upgrade=["op.execute('CREATE TABLE events (id BIGINT PRIMARY KEY)')"]
    )
    with scratch_databases(server, 1) as (log_database,):
        result = migrate(
            MIGRATE_TARGETS="log",
            DATABASE_URL_LOG=log_database.url,
            MIGRATE_MIGRATIONS_DIR_LOG=str(log_migrations.path),
        )

        assert result.code == 0, result.stderr
        assert migrate.database.version() == {"m0002"}
        assert migrate.database.tables() == {"alembic_version", "t1", "t2"}
        assert log_database.version() == {"l1"}
        assert log_database.tables() == {"alembic_version", "events"}
        order = [e["target_name"] for e in result.logs if e["message"] == "migrating target"]
        assert order == ["default", "log"]
        assert "2 database(s): 2 succeeded, 0 failed, 0 not started" in result.messages()

        status = migrate("status", "--target", "log", MIGRATE_TARGETS="log",
                         DATABASE_URL_LOG=log_database.url,
                         MIGRATE_MIGRATIONS_DIR_LOG=str(log_migrations.path))  # fmt: skip
        assert "current:  l1" in status.stdout


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_sixteen_shards_with_parallelism_4_alongside_a_second_runner(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str
) -> None:
    game = game_migrations(tmp_path)
    env = migrate.env(
        **template(shards),
        MIGRATE_MIGRATIONS_DIR_GAME=str(game.path),
        MIGRATE_PARALLEL="4",
        MIGRATE_SHARD_ISOLATION=isolation,
    )

    started = time.monotonic()
    first = start_entrypoint(["upgrade"], env, migrate.workdir)
    second = start_entrypoint(["upgrade"], env, migrate.workdir)
    results = [finish(first, started), finish(second, started)]

    assert [r.code for r in results] == [0, 0], [r.stderr for r in results]
    assert all(shard.version() == {"g0003"} for shard in shards)
    finished = [e for r in results for e in r.logs if e["message"] == "shard finished"]
    # Only the shards a runner changed: each exactly once, by one of the two, which
    # applied the three revisions.
    assert sorted((e["target_name"], e["shard"]) for e in finished) == [
        ("game", i) for i in range(SHARDS)
    ]
    assert [e["target"] for e in sorted(finished, key=lambda e: e["shard"])] == [
        shard.target.redacted_url() for shard in shards
    ]
    assert all(e["applied"] == 3 for e in finished)


@pytest.mark.parametrize("policy", ["continue", "stop"])
def test_one_broken_shard_is_reported_and_the_others_are_correct(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, policy: str
) -> None:
    game = game_migrations(tmp_path)
    shards[5].execute("CREATE TABLE t2 (conflict INT)")  # g0002 will fail there

    result = migrate(
        **template(shards),
        MIGRATE_MIGRATIONS_DIR_GAME=str(game.path),
        MIGRATE_PARALLEL="1" if policy == "stop" else "4",
        MIGRATE_ON_SHARD_FAILURE=policy,
    )

    assert result.code == 6
    assert shards[5].version() == {"g0001"}
    errors = [entry for entry in result.logs if entry["level"] == "error"]
    shard_error, summary = errors[0], errors[-1]
    assert (shard_error["target_name"], shard_error["shard"]) == ("game", 5)
    assert "(1050) Table 't2' already exists" in shard_error["message"]
    assert f"game[5] {shards[5].target.redacted_url()}" in summary["message"]
    if policy == "continue":
        assert summary["message"].startswith(
            "16 database(s): 15 succeeded, 1 failed, 0 not started"
        )
        assert all(shard.version() == {"g0003"} for i, shard in enumerate(shards) if i != 5)
    else:
        # One at a time, in order: shards before the failure are done, none after it started.
        assert all(shard.version() == {"g0003"} for shard in shards[:5])
        assert all(shard.version() == set() for shard in shards[6:])
        assert summary["message"].startswith(
            "16 database(s): 5 succeeded, 1 failed, 10 not started"
        )


def test_four_pods_of_an_indexed_job_cover_every_shard_once(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    settings = {
        **template(shards),
        "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path),
        "MIGRATE_SHARD_COUNT": "4",
        **STEPS,
    }

    first_pod = migrate(JOB_COMPLETION_INDEX="0", **settings)

    assert first_pod.code == 0, first_pod.stderr
    assert [bool(shard.version()) for shard in shards] == [i % 4 == 0 for i in range(SHARDS)]

    others = [migrate(MIGRATE_SHARD_INDEX=str(index), **settings) for index in (1, 2, 3)]

    assert [pod.code for pod in others] == [0, 0, 0]
    assert applied_revisions(first_pod, *others) == Counter(
        {"g0001": SHARDS, "g0002": SHARDS, "g0003": SHARDS}
    )


def test_status_shows_each_shard_and_flags_disagreement(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    settings = {**template(shards), "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path)}
    assert migrate("upgrade", "--target", "game", "--shard", "3", **settings).code == 0

    result = migrate("status", "--target", "game", "--exit-code", **settings)

    assert result.code == 10
    lines = result.stdout.splitlines()
    assert lines[0] == f"target game: {SHARDS} shards, head g0003"
    assert len(lines) == 1 + SHARDS + 2
    assert "g0003" in lines[1 + 3]
    assert "3 pending" in lines[1 + 4]
    assert lines[-2] == "shards disagree: 2 different revisions"
    assert lines[-1] == f"revisions: {SHARDS - 1} at base, 1 at g0003 (head)"
    assert "***" not in result.stdout or "mysql://" in result.stdout


def test_status_names_an_interrupted_shard_and_fails_only_with_exit_code(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    settings = {**template(shards), "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path)}
    assert migrate("upgrade", "--target", "game", **settings).code == 0
    # What a runner killed halfway through a revision of shard 5 leaves behind.
    shards[5].execute(
        f"INSERT INTO {MARKER_TABLE} VALUES (1, 'g0003', 'g0002', 'g0003', NOW(6), 'pod-x pid 1')"
    )

    plain = migrate("status", "--target", "game", **settings)
    gated = migrate("status", "--target", "game", "--exit-code", **settings)

    assert plain.code == 0, plain.stderr
    assert "interrupted" in plain.stdout.splitlines()[1 + 5]
    assert gated.code == 6
    assert "1 shard(s) have a revision left partly applied (shards 5)" in gated.error["message"]


def test_autogenerate_for_a_named_target_writes_into_its_own_directory(
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    server: Server,
    tmp_path: Path,
) -> None:
    log_migrations = MigrationsDir.create(tmp_path / "log")
    log_schema = SchemaModule(schema.directory, name="log_schema")
    log_schema.write(
        'events = sa.Table("events", metadata, sa.Column("id", sa.BigInteger, primary_key=True))'
    )
    with scratch_databases(server, 1) as (log_database,):
        result = migrate(
            "autogenerate", "--target", "log", "-m", "events",
            MIGRATE_TARGETS="log",
            DATABASE_URL_LOG=log_database.url,
            MIGRATE_MIGRATIONS_DIR_LOG=str(log_migrations.path),
            MIGRATE_SCHEMA_LOG="log_schema:metadata",
            PYTHONPATH=str(schema.directory),
        )  # fmt: skip

    assert result.code == 0, result.stderr
    assert Path(result.stdout.strip()).parent == log_migrations.path / "versions"
    assert len(list((log_migrations.path / "versions").glob("*.py"))) == 1
    assert list((migrations.path / "versions").glob("*.py")) == []


def test_a_named_target_without_a_url_is_an_error(migrate: Migrate) -> None:
    result = migrate("status", "--target", "audit")

    assert result.code == 2
    assert "no target named 'audit'" in result.error["message"]


def test_status_when_no_shard_can_be_read(migrate: Migrate, tmp_path: Path) -> None:
    game = game_migrations(tmp_path)
    closed = f"mysql://root@127.0.0.1:{free_port()}/game_{{shard}}"

    result = migrate(
        "status",
        "--target",
        "game",
        DATABASE_URL=None,
        MIGRATE_TARGETS="game",
        DATABASE_URL_GAME_TEMPLATE=closed,
        DATABASE_URL_GAME_SHARDS="0-1",
        MIGRATE_MIGRATIONS_DIR_GAME=str(game.path),
        MIGRATE_WAIT_TIMEOUT="0",
    )

    assert result.code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "target game: 2 shards, head g0003"  # the head is the scripts'
    assert lines[-1] == "revisions: no shard could be read"
    assert "2 shard(s) could not be read" in result.error["message"]


def test_a_platform_database_url_is_not_a_target_unless_declared(
    migrate: Migrate, migrations: MigrationsDir, server: Server
) -> None:
    migrations.chain(1, prefix="m")
    with scratch_databases(server, 1) as (replica,):
        result = migrate(DATABASE_URL_REPLICA=replica.url)

        assert result.code == 0, result.stderr
        assert migrate.database.version() == {"m0001"}
        assert replica.tables() == set()
        assert any(
            "DATABASE_URL_REPLICA: not a migration target" in message
            for message in result.messages()
        )


def test_a_named_target_names_its_own_variables_and_status_covers_every_target(
    migrate: Migrate, migrations: MigrationsDir, server: Server, tmp_path: Path
) -> None:
    migrations.chain(1, prefix="m")
    log_migrations = MigrationsDir.create(tmp_path / "log")
    log_migrations.chain(2, prefix="l")
    with scratch_databases(server, 1) as (log_database,):
        settings = {"MIGRATE_TARGETS": "log", "DATABASE_URL_LOG": log_database.url}
        missing = migrate(**settings, MIGRATE_MIGRATIONS_DIR_LOG=str(tmp_path / "nowhere"))
        settings["MIGRATE_MIGRATIONS_DIR_LOG"] = str(log_migrations.path)
        upgraded = migrate(**settings)
        status = migrate("status", **settings)
        waited = migrate("wait", "--head", **settings)

    assert waited.code == 0, waited.stderr
    assert waited.messages().count("the database is at head") == 2  # the default and log
    assert missing.code == 2
    assert "MIGRATE_MIGRATIONS_DIR_LOG=" in missing.error["message"]
    assert upgraded.code == 0, upgraded.stderr
    finished = [e for e in upgraded.logs if e["message"] == "shard finished"]
    # The default target was migrated by the first run; the log target's one database.
    assert [(e["target_name"], e["shard"], e["target"]) for e in finished] == [
        ("log", 0, log_database.target.redacted_url())
    ]
    assert status.code == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "== target default"
    assert "== target log" in lines
    assert "current:  l0002" in lines[lines.index("== target log") + 2]


def test_with_only_named_targets_status_check_and_wait_cover_every_target(
    migrate: Migrate, server: Server, tmp_path: Path, schema: SchemaModule
) -> None:
    """Issue 24 item 9: no DATABASE_URL, one named target of two shards."""
    log_migrations = MigrationsDir.create(tmp_path / "log")
    log_migrations.chain(2, prefix="l")
    schema.write(
        "t1 = sa.Table('t1', metadata, sa.Column('id', sa.Integer, primary_key=True,"
        " autoincrement=False))\n"
        "t2 = sa.Table('t2', metadata, sa.Column('id', sa.Integer, primary_key=True,"
        " autoincrement=False))\n"
    )
    with scratch_databases(server, 2) as shards:
        settings: dict[str, str | None] = {
            "DATABASE_URL": None,
            "MIGRATE_TARGETS": "log",
            "DATABASE_URL_LOG": " ".join(shard.url for shard in shards),
            "MIGRATE_MIGRATIONS_DIR_LOG": str(log_migrations.path),
            "MIGRATE_SCHEMA_LOG": f"{schema.name}:metadata",
            "PYTHONPATH": str(schema.directory),
        }
        waited = migrate("wait", **settings)
        pending = migrate("status", "--exit-code", **settings)
        upgraded = migrate("upgrade", **settings)
        versions = [shard.version() for shard in shards]
        status = migrate("status", **settings)
        at_head = migrate("wait", "--head", **settings)
        clean = migrate("check", **settings)
        shards[1].execute("ALTER TABLE t2 ADD COLUMN extra INT")
        drifted = migrate("check", **settings)

    assert waited.code == 0, waited.stderr
    assert waited.messages().count("the database accepts logins") == 2
    assert pending.code == 10, pending.stderr
    assert upgraded.code == 0, upgraded.stderr
    assert versions == [{"l0002"}, {"l0002"}]
    assert status.code == 0, status.stderr
    assert status.stdout.count("l0002") >= 2
    assert at_head.code == 0, at_head.stderr
    assert at_head.messages().count("the database is at head") == 2
    assert clean.code == 0, clean.stderr
    assert clean.messages().count("no differences between the database and the schema module") == 2
    assert drifted.code == 7, drifted.stderr
    final = [entry for entry in drifted.logs if entry["level"] == "error"][-1]
    assert final["message"].startswith("1 of 2 databases failed:"), final
    assert f"log {shards[1].target.redacted_url()}: " in final["message"]
    assert shards[0].target.redacted_url() not in final["message"]
