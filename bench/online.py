"""`make bench`: INT to BIGINT on a 1,000,000-row table, a plain ALTER against
MIGRATE_BLOCKING_DDL=online, with a writer inserting throughout, on one server.

Each run gets a fresh database and table. The revision writes `LOCK=SHARED`, as MariaDB
11.4+ would otherwise copy the table online by itself: that is the blocking ALTER the
other servers run for this change, and the statement the guard hands to the tool.
Reports the runner's wall time and the writer's longest insert for each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pymysql
from pymysql.constants import ER

from bench.run import report
from migrator.settings.target import DatabaseTarget, parse_database_url

ROOT = Path(__file__).resolve().parent.parent
ROWS = 1_000_000
CHANGE = "ALTER TABLE big MODIFY a BIGINT NOT NULL, LOCK=SHARED"
REVISION = '''"""{doc}"""
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute({statement!r})


def downgrade() -> None:
    pass
'''


def connect(target: DatabaseTarget, database: str | None = None) -> pymysql.Connection[Any]:
    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password.get_secret_value(),
        database=database,
        autocommit=True,
    )


def url(target: DatabaseTarget, database: str) -> str:
    password = target.password.get_secret_value()
    auth = target.user + (f":{password}" if password else "")
    return f"mysql://{auth}@{target.host}:{target.port}/{database}"


def prepare(target: DatabaseTarget, database: str) -> None:
    with connect(target) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}`")
        cursor.execute(f"USE `{database}`")  # a name of the bench's own
        cursor.execute(
            "CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, a INT NOT NULL,"
            " b VARCHAR(100) NOT NULL)"
        )
        cursor.execute("CREATE TABLE digits (d INT PRIMARY KEY)")
        cursor.execute("INSERT INTO digits VALUES " + ", ".join(f"({d})" for d in range(10)))  # noqa: S608
        joins = ", ".join(f"digits AS d{p}" for p in range(6))
        number = " + ".join(f"d{p}.d * {10**p}" for p in range(6))
        cursor.execute(f"INSERT INTO big (a, b) SELECT {number}, REPEAT('x', 100) FROM {joins}")  # noqa: S608
        cursor.execute("DROP TABLE digits")
        cursor.execute("ANALYZE TABLE big")
        cursor.fetchall()


def measure(target: DatabaseTarget, policy: str, work: Path) -> tuple[float, float]:
    """(runner's wall time, the writer's longest insert) for one change under ``policy``."""
    database = f"bench_online_{uuid.uuid4().hex[:8]}"
    prepare(target, database)
    migrations = work / database
    (migrations / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        (migrations / name).write_text((ROOT / "migrations" / name).read_text())
    text = REVISION.format(doc="to bigint", revision="o1", down=None, statement=CHANGE)
    (migrations / "versions" / "o1.py").write_text(text)
    longest, stop = [0.0], threading.Event()

    def write() -> None:
        with connect(target, database) as connection, connection.cursor() as cursor:
            last = time.monotonic()
            while not stop.is_set():
                try:
                    cursor.execute("INSERT INTO big (a, b) VALUES (-1, 'w')")
                except pymysql.err.OperationalError as error:
                    # The tool's triggers and its copy may deadlock a write, which the
                    # server rolls back: an application retries it, and the wait until
                    # it succeeds counts as the insert's time.
                    if error.args[0] != ER.LOCK_DEADLOCK:
                        raise
                    continue
                now = time.monotonic()
                longest[0], last = max(longest[0], now - last), now
                time.sleep(0.01)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.5)
    started = time.monotonic()
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": url(target, database),
        "MIGRATE_MIGRATIONS_DIR": str(migrations),
        "MIGRATE_BLOCKING_DDL": policy,
        "MIGRATE_LOG_FORMAT": "json",
    }
    try:
        ran = subprocess.run(
            [sys.executable, str(ROOT / "entrypoint.py"), "upgrade"],
            env=environment,
            check=True,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        wall = time.monotonic() - started
        # A figure for the tool is only one if the tool made the change.
        if (policy == "online") != ("changed big online" in ran.stderr):
            raise SystemExit(f"the change did not run as {policy} expects:\n{ran.stderr}")
    finally:
        stop.set()
        writer.join(timeout=60)
        with connect(target) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
    return wall, longest[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="write the section into this file")
    args = parser.parse_args()
    target = parse_database_url(
        os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306/test")
    )
    target = replace(target, database="")
    with connect(target) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        full = str(cursor.fetchone()[0])
    version, family = (
        full.split("-", maxsplit=1)[0],
        "MariaDB" if "mariadb" in full.lower() else "MySQL",
    )
    with tempfile.TemporaryDirectory(prefix="migrator-bench-online-") as work:
        plain = measure(target, "allow", Path(work))
        online = measure(target, "online", Path(work))
    rows = [
        ("plain ALTER: wall time", f"{plain[0]:.1f} s"),
        ("plain ALTER: writer's longest insert", f"{plain[1]:.2f} s"),
        ("online (pt-online-schema-change): wall time", f"{online[0]:.1f} s"),
        ("online: writer's longest insert", f"{online[1]:.2f} s"),
        ("ratio wall time online / plain (target <= 3)", f"{online[0] / plain[0]:.2f}"),
    ]
    load = os.getloadavg()[0]
    header = (
        f"{os.cpu_count()} cores, {family} {version}, INT to BIGINT on {ROWS:,} rows, one run,"
        f" load average {load:.1f} at the end"
    )
    report(header, rows, args.markdown, heading=f"Online changes: {family} {version}")


if __name__ == "__main__":
    main()
