"""Progress lines for a long statement: percent done and ETA from the server's counters,
and the slowest statement in the termination message."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase
from tests.support.tables import fill

ROWS = 2**21  # a rebuild of several seconds on these machines


def let_the_runner_see_progress(database: ScratchDatabase) -> None:
    """MySQL counts ALTER TABLE work only with the events_stages_current consumer on, and
    shows it only to users who may read performance_schema; MariaDB needs neither."""
    if database.server.family != "mysql":
        return
    database.server.execute(
        "UPDATE performance_schema.setup_consumers SET enabled = 'YES'"
        " WHERE name = 'events_stages_current'"
    )
    assert database.app_user is not None
    database.server.execute(f"GRANT SELECT ON performance_schema.* TO '{database.app_user[0]}'@'%'")


def test_a_long_rebuild_logs_a_growing_percentage_and_the_slowest_statement(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, tmp_path: Path
) -> None:
    database.execute(
        "CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, a INT NOT NULL,"
        " b VARCHAR(100) NOT NULL, KEY ix_a (a))"
    )
    fill(database, "big", ROWS)
    let_the_runner_see_progress(database)
    # MySQL counts the work of an in-place rebuild; MariaDB only that of a copy.
    algorithm = "INPLACE" if database.server.family == "mysql" else "COPY"
    migrations.add(
        "p1", None, upgrade=[sql(f"ALTER TABLE big ENGINE=InnoDB, ALGORITHM={algorithm}")]
    )
    termination = tmp_path / "termination-log"

    result = migrate(
        "upgrade",
        MIGRATE_PROGRESS_INTERVAL="1",
        MIGRATE_CONNECT_TIMEOUT="1",
        MIGRATE_BLOCKING_DDL="allow",
        MIGRATE_TERMINATION_LOG=str(termination),
    )

    assert result.code == 0, result.stderr
    lines = [e for e in result.logs if "percent" in e]
    percents = [e["percent"] for e in lines]
    assert len(percents) >= 2, result.stderr
    assert percents == sorted(percents)
    assert percents[-1] > percents[0]
    assert all(e["revision"] == "p1" and "eta_s" in e for e in lines)
    summary = json.loads(termination.read_text())
    assert summary["slowest_revision"] == "p1"
    assert summary["slowest_statement"].startswith("ALTER TABLE big ENGINE=InnoDB")
    assert summary["slowest_s"] >= 1


def test_a_long_statement_the_server_does_not_count_logs_its_elapsed_time(
    migrate: Migrate, migrations: MigrationsDir
) -> None:
    migrations.add("s1", None, upgrade=[sql("SELECT SLEEP(4)")])

    result = migrate("upgrade", MIGRATE_PROGRESS_INTERVAL="1", MIGRATE_CONNECT_TIMEOUT="1")

    assert result.code == 0, result.stderr
    elapsed = [e for e in result.logs if e["message"].startswith("still running after ")]
    assert len(elapsed) >= 2, result.stderr
    assert elapsed[-1]["elapsed_s"] > elapsed[0]["elapsed_s"]
