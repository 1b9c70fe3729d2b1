"""What a fleet logs: one line per shard that changed or failed, each naming its shard."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.migrations import Migrate, MigrationsDir, game_migrations, shard_template
from tests.support.servers import ScratchDatabase

SHARDS = 20

# The lines about the fleet as a whole, not about one of its shards.
FLEET_PROGRESS = re.compile(r"\d+/\d+ databases done, \d+ failed(, ETA \d+ s)?")
FLEET_SUMMARY = re.compile(r"\d+ database\(s\): \d+ succeeded, \d+ failed, \d+ not started.*")


def fleet_wide(entry: dict[str, Any]) -> bool:
    message = entry["message"]
    return (
        message == "migrating target"
        or FLEET_PROGRESS.fullmatch(message) is not None
        or FLEET_SUMMARY.fullmatch(message) is not None
    )


def fleet_env(
    shards: list[ScratchDatabase], game: MigrationsDir, **settings: str
) -> dict[str, Any]:
    return {**shard_template(shards), "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path), **settings}


# A process per shard costs a Python start each: fewer shards make the same point.
@pytest.mark.parametrize(("isolation", "count"), [("thread", SHARDS), ("process", 6)])
def test_a_fleets_first_run_logs_one_info_line_per_shard_and_the_summary(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str, count: int
) -> None:
    game = game_migrations(tmp_path)  # three revisions

    result = migrate(**fleet_env(shards[:count], game, MIGRATE_SHARD_ISOLATION=isolation))

    assert result.code == 0, result.stderr
    assert all(shard.version() == {"g0003"} for shard in shards[:count])
    info = [e for e in result.logs if e["level"] == "info"]
    per_shard = [e for e in info if not fleet_wide(e)]
    # At most one line per database, and each says what became of it.
    assert Counter(e["shard"] for e in per_shard) == Counter(range(count)), result.stderr
    assert {e["message"] for e in per_shard} == {"shard finished"}
    assert all(e["exit_code"] == 0 and e["applied"] == 3 for e in per_shard)
    assert len([e for e in info if e["message"] == "migrating target"]) == 1
    assert info[-1]["message"] == f"{count} database(s): {count} succeeded, 0 failed, 0 not started"


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_failed_shard_logs_its_error_and_one_info_line_and_the_rest_nothing_at_info(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str
) -> None:
    game = game_migrations(tmp_path)
    assert migrate(**fleet_env(shards[:10], game, MIGRATE_SHARD_ISOLATION=isolation)).code == 0
    shards[15].execute("CREATE TABLE t1 (conflict INT)")  # g0001 fails there

    result = migrate(
        **fleet_env(
            shards,
            game,
            MIGRATE_SHARD_ISOLATION=isolation,
            MIGRATE_ON_SHARD_FAILURE="continue",
        )
    )

    assert result.code == 6, result.stderr
    per_shard = [e for e in result.logs if e["level"] == "info" and not fleet_wide(e)]
    # Shards 0-9 were at head: nothing at INFO. 10-19 changed or failed: one line each.
    assert Counter(e["shard"] for e in per_shard) == Counter(range(10, SHARDS)), result.stderr
    failed = next(e for e in per_shard if e["shard"] == 15)
    assert (failed["exit_code"], failed["target_name"]) == (6, "game")
    errors = [e for e in result.logs if e["level"] == "error" and "shard" in e]
    assert [(e["target_name"], e["shard"]) for e in errors] == [("game", 15)]


def test_a_single_database_keeps_its_steps_at_info(migrate: Migrate, tmp_path: Path) -> None:
    game = game_migrations(tmp_path)

    result = migrate(MIGRATE_MIGRATIONS_DIR=str(game.path))

    assert result.code == 0, result.stderr
    info = [e["message"] for e in result.logs if e["level"] == "info"]
    assert info == [
        "the database is behind head: taking the migration lock",
        "starting upgrade",
        *["applying revision", "applied revision"] * 3,
        "upgrade complete",
    ]


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_every_line_about_a_shard_names_its_target_and_position(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str
) -> None:
    game = MigrationsDir.create(tmp_path / "game")
    # Shard 2 is slow: its "still running" lines must say which shard they are about.
    game.add(
        "g0001",
        None,
        upgrade=[
            "database = op.get_bind().exec_driver_sql('SELECT DATABASE()').scalar()",
            "op.execute(f'SELECT SLEEP({4 if database.endswith(\"_2\") else 0})')",
        ],
    )

    result = migrate(
        **fleet_env(
            shards[:4],
            game,
            MIGRATE_SHARD_ISOLATION=isolation,
            MIGRATE_DEBUG="1",  # the shards' steps too
            MIGRATE_PROGRESS_INTERVAL="1",
            MIGRATE_CONNECT_TIMEOUT="1",
        )
    )

    assert result.code == 0, result.stderr
    still_running = [e for e in result.logs if e["message"].startswith("still running after")]
    assert still_running, result.stderr
    assert {(e["level"], e["target_name"], e["shard"]) for e in still_running} == {
        ("info", "game", 2)
    }
    # And how far the fleet is, in both isolations.
    assert any(FLEET_PROGRESS.fullmatch(e["message"]) for e in result.logs), result.stderr
    about_shards = [e for e in result.logs if not fleet_wide(e)]
    unnamed = [e for e in about_shards if e.get("target_name") != "game" or "shard" not in e]
    assert not unnamed, unnamed
    assert {e["shard"] for e in about_shards} == {0, 1, 2, 3}
