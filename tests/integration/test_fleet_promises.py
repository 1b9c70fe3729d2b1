"""The promises of docs/many-databases.md that no other test holds the runner to."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir, game_migrations, shard_template
from tests.support.servers import ScratchDatabase, Server, scratch_databases

SHARDS = 6


def test_at_most_migrate_parallel_shards_are_migrated_at_once(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = MigrationsDir.create(tmp_path / "game")
    game.add("g0001", None, upgrade=["op.execute('SELECT SLEEP(1)')"])

    result = migrate(
        **shard_template(shards), MIGRATE_MIGRATIONS_DIR_GAME=str(game.path), MIGRATE_PARALLEL="2"
    )

    assert result.code == 0, result.stderr
    finished = [e for e in result.logs if e["message"] == "shard finished"]
    assert sorted(e["shard"] for e in finished) == list(range(SHARDS))
    spans = []
    for entry in finished:
        end = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
        spans.append((end - entry["duration_s"], end))
    # How many shards were being migrated at each shard's start (a shard's span is its
    # login to its end; the 0.1 s leeway is the timestamps' resolution).
    at_once = [sum(start < s_end - 0.1 and s_start < start for s_start, s_end in spans) + 1
               for start, _ in spans]  # fmt: skip
    assert max(at_once) == 2, spans


def test_upgrade_takes_the_default_target_first_then_the_named_ones_in_their_order(
    migrate: Migrate, migrations: MigrationsDir, server: Server, tmp_path: Path
) -> None:
    migrations.chain(1, prefix="m")
    zeta, alpha = (MigrationsDir.create(tmp_path / name) for name in ("zeta", "alpha"))
    zeta.chain(1, prefix="z")
    alpha.chain(1, prefix="a")
    with scratch_databases(server, 2) as (zeta_database, alpha_database):
        result = migrate(
            MIGRATE_TARGETS="zeta,alpha",
            DATABASE_URL_ZETA=zeta_database.url,
            MIGRATE_MIGRATIONS_DIR_ZETA=str(zeta.path),
            DATABASE_URL_ALPHA=alpha_database.url,
            MIGRATE_MIGRATIONS_DIR_ALPHA=str(alpha.path),
        )

        assert result.code == 0, result.stderr
        assert (zeta_database.version(), alpha_database.version()) == ({"z0001"}, {"a0001"})
    assert migrate.database.version() == {"m0001"}
    order = [e["target_name"] for e in result.logs if e["message"] == "migrating target"]
    assert order == ["default", "zeta", "alpha"]


def test_another_command_on_a_sharded_target_needs_a_shard(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    settings = {**shard_template(shards), "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path)}

    refused = migrate("stamp", "head", "--target", "game", **settings)
    stamped = migrate("stamp", "head", "--target", "game", "--shard", "4", **settings)

    assert refused.code == 2
    assert refused.error["message"] == (f"target game has {SHARDS} shards: name one with --shard")
    assert stamped.code == 0, stamped.stderr
    assert [shard.version() for shard in shards] == [set()] * 4 + [{"g0003"}] + [set()]


def test_the_revision_files_are_loaded_once_for_all_shards(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = game_migrations(tmp_path)
    imports = tmp_path / "imports"
    for revision in game.revisions:  # each file notes when Python runs it
        path = game.path / "versions" / f"{revision}.py"
        path.write_text(
            path.read_text() + f"\nopen({str(imports)!r}, 'a').write('{revision}\\n')\n"
        )

    result = migrate(**shard_template(shards), MIGRATE_MIGRATIONS_DIR_GAME=str(game.path))

    assert result.code == 0, result.stderr
    assert all(shard.version() == {"g0003"} for shard in shards)
    assert sorted(imports.read_text().split()) == ["g0001", "g0002", "g0003"]


@pytest.mark.parametrize(("isolation", "seen"), [("thread", "1-2-3"), ("process", "1-1-1")])
def test_a_process_per_shard_keeps_one_shards_process_wide_state_from_the_next(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path, isolation: str, seen: str
) -> None:
    game = MigrationsDir.create(tmp_path / "game")
    # Process-wide state, as a module-level cache or a monkeypatch would keep it.
    game.add(
        "g0001",
        None,
        upgrade=[
            "import json",
            "json.shards_seen = getattr(json, 'shards_seen', 0) + 1",
            "op.execute(f'CREATE TABLE seen_{json.shards_seen} (id INT PRIMARY KEY)')",
        ],
    )

    result = migrate(
        **shard_template(shards[:3]),
        MIGRATE_MIGRATIONS_DIR_GAME=str(game.path),
        MIGRATE_SHARD_ISOLATION=isolation,
        MIGRATE_PARALLEL="1",  # one after another: the count is the order
    )

    assert result.code == 0, result.stderr
    tables = [{t for t in shard.tables() if t.startswith("seen_")} for shard in shards[:3]]
    assert "-".join(table.removeprefix("seen_") for (table,) in tables) == seen
