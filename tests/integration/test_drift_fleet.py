"""`drift` over a fleet: 200 shards, 3 drifted differently, each named; one replay per revision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir, shard_template, sql
from tests.support.servers import ScratchDatabase

SHARDS = 200
DRIFTED = {17: "index", 112: "column", 199: "table"}
AT_SECOND_REVISION = (3, 150)  # downgraded: a second distinct revision to replay


def inventory_migrations(tmp_path: Path) -> MigrationsDir:
    game = MigrationsDir.create(tmp_path / "game")
    game.add(
        "g0001",
        None,
        upgrade=[sql("CREATE TABLE inventory (id INT PRIMARY KEY, qty BIGINT NOT NULL)")],
        downgrade=[sql("DROP TABLE inventory")],
    )
    game.add(
        "g0002",
        "g0001",
        upgrade=[sql("CREATE TABLE players (id INT PRIMARY KEY, name VARCHAR(40))")],
        downgrade=[sql("DROP TABLE players")],
    )
    return game


# Making, migrating and dropping 200 databases takes minutes on two shared cores; the
# suite's 300 s default covers setup and teardown too.
@pytest.mark.timeout(900)
def test_two_hundred_shards_three_drifted_each_named_and_the_rest_clean(
    migrate: Migrate, shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    game = inventory_migrations(tmp_path)
    settings = {**shard_template(shards), "MIGRATE_MIGRATIONS_DIR_GAME": str(game.path)}
    upgraded = migrate(**settings)
    assert upgraded.code == 0, upgraded.stderr
    for position in AT_SECOND_REVISION:
        down = migrate("downgrade", "-1", "--target", "game", "--shard", str(position), **settings)
        assert down.code == 0, down.stderr
    by_hand = {
        17: "CREATE INDEX ix_x ON inventory (qty)",
        112: "ALTER TABLE inventory MODIFY qty INT NOT NULL",
        199: "CREATE TABLE scratch (id INT PRIMARY KEY)",
    }
    for position, statement in by_hand.items():
        shards[position].server.execute(statement, database=shards[position].name)

    result = migrate("drift", "--format", "json", MIGRATE_DEBUG="1", **settings)
    text = migrate("drift", **settings)

    assert result.code == 12, result.stderr
    databases = json.loads(result.stdout)["databases"]
    assert [entry["shard"] for entry in databases] == list(range(SHARDS))
    drifted = {entry["shard"]: entry["differences"] for entry in databases if entry["drifted"]}
    assert drifted == {
        17: [
            {
                "object": "inventory.ix_x",
                "kind": "extra",
                "live": "INDEX (qty)",
                "migrations": None,
            }
        ],
        112: [
            {
                "object": "inventory.qty",
                "kind": "changed",
                "live": "INT",
                "migrations": "BIGINT",
            }
        ],
        199: [{"object": "scratch", "kind": "extra", "live": "TABLE (id INT)", "migrations": None}],
    }
    revisions = {entry["shard"]: entry["revision"] for entry in databases}
    assert {revisions[p] for p in AT_SECOND_REVISION} == {"g0001"}
    assert sum(1 for r in revisions.values() if r == "g0002") == SHARDS - len(AT_SECOND_REVISION)
    # One replay per distinct recorded revision, never one per shard.
    created = [e for e in result.logs if e["message"] == "created the shadow database"]
    assert len(created) == 2
    assert text.code == 12
    assert text.stdout.splitlines()[-1] == (
        f"197 databases match their migrations; 3 differ: {shards[17].name}"
        f" (extra index ix_x on inventory), {shards[112].name}"
        f" (inventory.qty INT live, BIGINT by the migrations), {shards[199].name}"
        " (extra table scratch)"
    )
