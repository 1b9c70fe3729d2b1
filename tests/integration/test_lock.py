"""Concurrent runners on one database: no failures, each revision applied exactly once."""

from __future__ import annotations

import time
from collections import Counter

from tests.conftest import ScratchDatabase, finish, start_entrypoint
from tests.integration.conftest import Migrate, MigrationsDir

RUNNERS = 20


def test_concurrent_runners_on_an_empty_database_apply_each_revision_once(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    revisions = migrations.chain(5)
    env = migrate.env(MIGRATE_WAIT_TIMEOUT="60", MIGRATE_LOCK_TIMEOUT="120")

    started = time.monotonic()
    processes = [start_entrypoint(["upgrade"], env, migrate.workdir) for _ in range(RUNNERS)]
    results = [finish(process, started) for process in processes]

    assert [result.code for result in results] == [0] * RUNNERS, [
        result.stderr for result in results if result.code
    ]
    applied = Counter(
        entry["revision"]
        for result in results
        for entry in result.logs
        if entry["message"] == "applied revision"
    )
    assert applied == Counter(revisions)  # every revision exactly once, all told
    appliers = [r for r in results if any(e["message"] == "applied revision" for e in r.logs)]
    assert len(appliers) == 1
    others = [r for r in results if r not in appliers]
    for result in others:
        messages = result.messages()
        assert (
            "nothing to do: already at head after waiting for the lock" in messages
            or "nothing to do: already at head" in messages
        ), messages
    assert database.version() == {revisions[-1]}
    assert database.tables() == {"alembic_version", *(f"t{i}" for i in range(1, 6))}
