"""`make bench`, drift part: `drift` over a fleet, also what MIGRATE_DRIFT costs a no-op.

1. N shards (default 1,000) migrated to one revision of a 10-table history, then
   `drift` over all of them: wall time and the runner's peak RSS (issue 25's goal:
   <= 30 s for 1,000 shards).
2. One database with 50 tables (columns, defaults, indexes, a foreign key each),
   migrated with MIGRATE_DRIFT=warn so that a fingerprint is stored, then the no-op
   upgrade with MIGRATE_DRIFT=off against warn, as processes (median of runs), and
   the check alone in process (its quick print of an unchanged schema; median of runs). Goal:
   <= 10 ms more with 50 tables.
Writes a "## Drift" section into the results file, replacing an older one.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.fleet import Fleet, connect, measured
from bench.run import ROOT, report
from migrator.settings.target import parse_database_url

REVISION = '''"""create table {index}"""
from alembic import op

revision = "d{index:05d}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{statements}


def downgrade() -> None:
    op.execute("DROP TABLE t{index}")
'''

TABLE = (
    "CREATE TABLE t{index} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(40) NOT NULL DEFAULT 'x', email VARCHAR(255) NULL,"
    " amount DECIMAL(10,2) NOT NULL DEFAULT 0, status ENUM('new','done') NOT NULL DEFAULT 'new',"
    " created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " note TEXT, parent_id INT NULL{reference},"
    " KEY ix_t{index}_name (name), UNIQUE KEY uq_t{index}_email (email))"
)


def migrations(work: Path, tables: int) -> Path:
    """An env.py of this project's and one revision per table, each referencing the last."""
    directory = work / f"migrations_{tables}"
    (directory / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "migrations" / name, directory / name)
    down = None
    for index in range(1, tables + 1):
        reference = (
            f", CONSTRAINT fk_t{index}_parent FOREIGN KEY (parent_id) REFERENCES t{index - 1} (id)"
            if index > 1
            else ""
        )
        statement = TABLE.format(index=index, reference=reference)
        text = REVISION.format(index=index, down=down, statements=f"    op.execute({statement!r})")
        (directory / "versions" / f"d{index:05d}.py").write_text(text)
        down = f"d{index:05d}"
    return directory


def runner(fleet: Fleet, directory: Path, *args: str, **settings: str) -> tuple[float, float]:
    command = [sys.executable, str(ROOT / "entrypoint.py"), *args]
    return measured(command, fleet.runner_env(directory, 4, **settings))


def check_in_process(fleet: Fleet, repeat: int) -> list[float]:
    """Milliseconds of MIGRATE_DRIFT's check alone on the first database, ``repeat`` times."""
    from migrator.drift.pod_start import check_at_start

    connection = connect(fleet.server, fleet.names()[0])
    samples = []
    with connection:
        for _ in range(repeat):
            started = time.perf_counter()
            check_at_start(connection, fleet.names()[0], "warn")
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--tables", type=int, default=50, help="tables of the no-op database")
    parser.add_argument("--repeat", type=int, default=11, help="runs of each no-op")
    parser.add_argument("--markdown", type=Path, help="write the section into this file")
    args = parser.parse_args(argv)
    server = parse_database_url(
        os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306/test")
    )
    work = Path(tempfile.mkdtemp(prefix="migrator-drift-bench-"))
    fleet = Fleet(server, args.shards)
    single = Fleet(server, 1)
    try:
        small = migrations(work, 10)
        fleet.recreate()
        runner(fleet, small, "upgrade")
        drift_wall, drift_rss = runner(fleet, small, "drift")
        print(
            f"drift over {args.shards} shards: {drift_wall:.1f} s, {drift_rss:.0f} MiB", flush=True
        )
        fleet.drop()

        wide = migrations(work, args.tables)
        single.recreate()
        runner(single, wide, "upgrade", "--target", "fleet", MIGRATE_DRIFT="warn")
        off = [
            runner(single, wide, "upgrade", "--target", "fleet", MIGRATE_DRIFT="off")[0]
            for _ in range(args.repeat)
        ]
        warn = [
            runner(single, wide, "upgrade", "--target", "fleet", MIGRATE_DRIFT="warn")[0]
            for _ in range(args.repeat)
        ]
        check = check_in_process(single, args.repeat)
        extra_ms = (statistics.median(warn) - statistics.median(off)) * 1000
        rows = [
            (f"drift: {args.shards} shards at one revision (10 tables)",
             f"{drift_wall:.1f} s, peak RSS {drift_rss:.0f} MiB"),
            (f"no-op at head, {args.tables} tables, MIGRATE_DRIFT=off", _seconds(off)),
            (f"no-op at head, {args.tables} tables, MIGRATE_DRIFT=warn", _seconds(warn)),
            ("MIGRATE_DRIFT=warn minus off, medians (goal <= 10 ms)", f"{extra_ms:.1f} ms"),
            (f"the check alone, in process, {args.tables} tables",
             f"{statistics.median(check):.1f} ms ({min(check):.1f}-{max(check):.1f})"),
        ]  # fmt: skip
    finally:
        fleet.drop()
        single.drop()
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {server.host}:{server.port}; fleet drift run once, no-ops median (min-max) of"
        f" {args.repeat}; load average {os.getloadavg()[0]:.1f} at the end"
    )
    report(header, rows, args.markdown, heading="Drift")


def _seconds(samples: list[float]) -> str:
    return (
        f"{statistics.median(samples) * 1000:.0f} ms"
        f" ({min(samples) * 1000:.0f}-{max(samples) * 1000:.0f})"
    )


if __name__ == "__main__":
    main()
