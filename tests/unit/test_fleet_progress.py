"""A fleet's progress lines: how far it is while shards are still running."""

from __future__ import annotations

import logging

import pytest

from migrator.db.connection import ConnectionSettings
from migrator.fleet.threads import FleetProgress, Outcome, Shard
from migrator.settings.target import parse_database_url


def finished_shard(position: int) -> Outcome:
    database = ConnectionSettings(
        target=parse_database_url(f"mysql://app@db/game_{position}"),
        wait_timeout=1,
        connect_timeout=1,
    )
    return Outcome(Shard("game", position, database), 0, 0.1)


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "databases done" in r.getMessage()]


def test_a_line_says_how_many_shards_are_done_while_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = FleetProgress(total=2, interval=0)
    progress.finished(finished_shard(0))

    with caplog.at_level(logging.INFO, logger="migrator"):
        progress.log_if_due()

    assert progress_lines(caplog) == ["1/2 databases done, 0 failed, ETA 0 s"]


def test_no_line_once_every_shard_is_done_the_summary_says_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The last shard may end between two of the loop's checks: a line due then would
    only repeat the summary that follows."""
    progress = FleetProgress(total=2, interval=0)
    progress.finished(finished_shard(0))
    progress.finished(finished_shard(1))

    with caplog.at_level(logging.INFO, logger="migrator"):
        progress.log_if_due()

    assert progress_lines(caplog) == []
