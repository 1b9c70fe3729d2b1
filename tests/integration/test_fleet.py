"""A fleet in one process: signals, a killed runner, progress, the no-op, status across shards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from migrator.db.marker import MARKER_TABLE
from tests.support.migrations import Migrate, MigrationsDir, game_migrations, shard_template, sql
from tests.support.polling import wait_until
from tests.support.runner import finish, kill_hard, start_entrypoint
from tests.support.servers import ScratchDatabase

SHARDS = 8
# A fleet logs each shard's steps ("applying revision") at debug level; these tests watch them.
STEPS = {"MIGRATE_DEBUG": "1"}


def slow_game(tmp_path: Path, seconds: float) -> MigrationsDir:
    """g0001 creates a table (committing its run marker), then sleeps; g0002 is quick."""
    game = MigrationsDir.create(tmp_path / "game")
    game.add(
        "g0001",
        None,
        upgrade=[sql("CREATE TABLE t1 (id INT PRIMARY KEY)"), sql(f"SELECT SLEEP({seconds})")],
        downgrade=[sql("DROP TABLE t1")],
    )
    game.add("g0002", "g0001", upgrade=[sql("CREATE TABLE t2 (id INT PRIMARY KEY)")])
    return game


def read_until(process: subprocess.Popen[str], done: Callable[[str], bool]) -> str:
    """The runner's stderr, read until ``done`` holds for everything read so far."""
    assert process.stderr is not None
    text = ""
    while not done(text):
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"the runner exited (status {process.wait()}):\n{text}")
        text += line
    return text


def markers(shard: ScratchDatabase) -> list[str]:
    present = shard.server.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name = %s",
        shard.name,
        MARKER_TABLE,
    )[0][0]
    return [row[0] for row in shard.run_marker()] if present else []


@pytest.mark.parametrize(
    ("isolation", "signum", "status"),
    [
        ("thread", signal.SIGTERM, 143),
        ("thread", signal.SIGINT, 130),
        ("process", signal.SIGTERM, 143),
    ],
)
def test_a_signal_mid_fleet_finishes_the_revisions_in_flight_and_starts_no_more(
    migrate: Migrate,
    shards: list[ScratchDatabase],
    tmp_path: Path,
    isolation: str,
    signum: int,
    status: int,
) -> None:
    # Long enough for the second child to start its revision while the first is in its own.
    game = slow_game(tmp_path, 3 if isolation == "thread" else 10)
    env = migrate.env(
        **env_for(
            shards,
            game,
            MIGRATE_PARALLEL="3",
            MIGRATE_LOCK_TIMEOUT="120",
            MIGRATE_SHARD_ISOLATION=isolation,
            **STEPS,
        )
    )
    with shards[0].lock_held_elsewhere():  # shard 0's thread waits for its lock meanwhile
        started = time.monotonic()
        process = start_entrypoint(["upgrade"], env, migrate.workdir)
        before = read_until(
            process,
            lambda text: (
                text.count('"applying revision"') == 2 and "taking the migration lock" in text
            ),
        )
        process.send_signal(signum)
        signalled = time.monotonic()
        result = finish(process, started)

    assert result.code == status, result.stderr
    # The two revisions in flight finished and were stamped; nothing else started.
    assert [shard.version() for shard in shards] == [set(), {"g0001"}, {"g0001"}] + [set()] * 5
    assert all(markers(shard) == [] for shard in shards)
    assert before.count('"applying revision"') == 2
    assert "applying revision" not in result.stderr
    # The thread waiting for shard 0's lock was cut loose, not left to wait 120 s.
    assert time.monotonic() - signalled < 60
    summary = [e for e in result.logs if e["message"].startswith(f"{SHARDS} database(s)")]
    assert summary[0]["message"] == (
        f"{SHARDS} database(s): 0 succeeded, 0 failed, 5 not started, 3 interrupted"
    )
    assert "Traceback" not in result.stderr


def test_a_killed_fleet_leaves_a_marker_on_each_shard_in_flight_and_no_other(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = slow_game(tmp_path, 30)
    env = migrate.env(**env_for(shards, game, MIGRATE_PARALLEL="2", **STEPS))
    process = start_entrypoint(["upgrade"], env, migrate.workdir)
    read_until(process, lambda text: text.count('"applying revision"') == 2)
    wait_until(  # both have created t1, committing their markers
        lambda: sum(markers(shard) == ["g0001"] for shard in shards) == 2,
        message="the two revisions in flight never committed their markers",
    )
    kill_hard(process)

    assert [markers(shard) for shard in shards] == [["g0001"], ["g0001"]] + [[]] * 6

    quick = slow_game(tmp_path / "quick", 0)  # the same revisions, without the wait
    again = migrate(**env_for(shards, quick, MIGRATE_ON_SHARD_FAILURE="continue"))

    assert again.code == 6, again.stderr
    summary = next(e for e in again.logs if e.get("error") == "ShardsFailed")
    assert summary["message"].startswith(f"{SHARDS} database(s): 6 succeeded, 2 failed")
    for position in (0, 1):
        assert f"game[{position}] {shards[position].target.redacted_url()}" in summary["message"]
    assert [shard.version() for shard in shards] == [set(), set()] + [{"g0002"}] * 6
    shard_errors = [e for e in again.logs if e["level"] == "error" and "shard" in e]
    assert sorted(e["shard"] for e in shard_errors if isinstance(e["shard"], int)) == [0, 1]
    assert all("revision g0001" in e["message"] for e in shard_errors if e["shard"] in {0, 1})


def env_for(
    shards: list[ScratchDatabase], game: MigrationsDir, **settings: str
) -> dict[str, str | None]:
    """The fleet's settings: the shards as target `game`, with ``game``'s migrations."""
    return {
        **shard_template(shards),
        "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path),
        **settings,
    }


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_long_fleet_reports_progress_and_names_its_slowest_shard(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str
) -> None:
    game = MigrationsDir.create(tmp_path / "game")
    # Every shard takes a moment; shard 3 takes much longer.
    game.add(
        "g0001",
        None,
        upgrade=[
            "database = op.get_bind().exec_driver_sql('SELECT DATABASE()').scalar()",
            "op.execute(f'SELECT SLEEP({4 if database.endswith(\"_3\") else 0.5})')",
        ],
    )

    result = migrate(
        **env_for(
            shards,
            game,
            MIGRATE_PARALLEL="2",
            MIGRATE_PROGRESS_INTERVAL="1",
            MIGRATE_SHARD_ISOLATION=isolation,
        )
    )

    assert result.code == 0, result.stderr
    progress = re.compile(r"\d+/8 databases done, \d+ failed.*")
    lines = [e for e in result.logs if progress.fullmatch(e["message"])]
    assert len(lines) >= 2
    done = [line["done"] for line in lines]
    assert done == sorted(done)
    assert done[-1] < SHARDS
    assert all(line["total"] == SHARDS and line["failed"] == 0 for line in lines)
    assert any(re.search(r", ETA \d+ s$", line["message"]) for line in lines)
    summary = next(e for e in result.logs if e["message"].startswith("8 database(s): 8 succeeded"))
    assert summary["message"] == "8 database(s): 8 succeeded, 0 failed, 0 not started"
    if isolation == "process":
        return  # a child's Python start varies with the machine's load more than shard 3's sleep
    slowest = summary["slowest_shards"]
    assert slowest[0].startswith(f"game[3] {shards[3].target.redacted_url()} ")
    # The first shards may join it under load: they also wait for Alembic to load.
    assert len(slowest) <= 3


def test_a_fleet_at_head_is_one_login_and_one_read_per_shard_without_alembic(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    assert migrate(**env_for(shards, game)).code == 0

    result = migrate(**env_for(shards, game, PYTHONVERBOSE="1"))

    assert result.code == 0, result.stderr
    assert "import 'pymysql'" in result.stderr  # the probe sees imports at all
    assert "import 'sqlalchemy'" not in result.stderr
    assert "import 'alembic'" not in result.stderr
    messages = [
        json.loads(line)["message"] for line in result.stderr.splitlines() if line.startswith("{")
    ]
    assert "8 database(s): 8 succeeded, 0 failed, 0 not started" in messages
    assert "shard finished" not in messages  # nothing changed: no line per shard
    assert "nothing to do: already at head" not in messages


def test_status_across_a_fleet_counts_the_shards_at_each_revision(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    assert migrate(**env_for(shards, game)).code == 0
    shards[2].execute("UPDATE alembic_version SET version_num = 'g0001'")
    shards[5].execute("DROP TABLE alembic_version")

    result = migrate("status", "--target", "game", **env_for(shards, game))

    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"target game: {SHARDS} shards, head g0003"
    assert len(lines) == 1 + SHARDS + 2
    assert lines[-2] == "shards disagree: 3 different revisions"
    assert lines[-1] == "revisions: 6 at g0003 (head), 1 at base, 1 at g0001"


def runners_with(marker: str) -> list[int]:
    """The ids of runner processes whose environment mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker.encode() in environment:
            found.append(int(entry.name))
    return found


def test_children_of_a_killed_process_fleet_stop_at_the_next_revision_boundary(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = slow_game(tmp_path, 3)
    env = migrate.env(
        **env_for(shards, game, MIGRATE_PARALLEL="2", MIGRATE_SHARD_ISOLATION="process", **STEPS)
    )
    process = start_entrypoint(["upgrade"], env, migrate.workdir)
    read_until(process, lambda text: text.count('"applying revision"') == 2)
    kill_hard(process)  # the parent only: its children are orphaned mid-revision
    deadline = time.monotonic() + 60
    while runners_with(shards[0].name.rsplit("_", 1)[0]) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert runners_with(shards[0].name.rsplit("_", 1)[0]) == []
    # Each orphan finished the revision it was in, stamped it, and started no other.
    assert [shard.version() for shard in shards] == [{"g0001"}, {"g0001"}] + [set()] * 6
    assert all(markers(shard) == [] for shard in shards)
