"""`make bench`, fleet part: many tenant databases on one server, migrated in one run.

N databases x R revisions (each creates one small table), from empty, four ways:
this runner in one process, this runner with a process per shard, a shell loop of
plain `alembic upgrade head` (one database after another), and a floor: the same
DDL and version rows through PyMySQL on as many sessions as the runner's
MIGRATE_PARALLEL, with no Alembic. Then the fleet no-op (every shard at head),
and the same at a larger shard count. Peak RSS is the runner process's own.
Writes a "## Fleet" section into the results file, replacing an older one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymysql

from bench.run import ROOT, generate, report, url
from migrator.settings.target import DatabaseTarget, parse_database_url


class Fleet:
    """N databases on the server, named <prefix>_<i>, dropped and created afresh on demand."""

    def __init__(self, server: DatabaseTarget, count: int) -> None:
        self.server = server
        self.count = count
        self.prefix = f"bf_{uuid.uuid4().hex[:8]}"

    def names(self) -> list[str]:
        return [f"{self.prefix}_{index}" for index in range(self.count)]

    def execute(self, *statements: str) -> None:
        connection = connect(self.server, None)
        with connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def recreate(self) -> None:
        self.drop()
        self.execute(*(f"CREATE DATABASE `{name}`" for name in self.names()))

    def drop(self) -> None:
        self.execute(*(f"DROP DATABASE IF EXISTS `{name}`" for name in self.names()))

    def target(self, name: str) -> DatabaseTarget:
        return dataclasses.replace(self.server, database=name)

    def runner_env(self, migrations: Path, parallel: int, **settings: str) -> dict[str, str]:
        template = url(self.target(f"{self.prefix}_{{shard}}"))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "MIGRATE_", "MYSQL_"))
        }
        return env | {
            "MIGRATE_TARGETS": "fleet",
            "DATABASE_URL_FLEET_TEMPLATE": template,
            "DATABASE_URL_FLEET_SHARDS": f"0-{self.count - 1}",
            "MIGRATE_MIGRATIONS_DIR_FLEET": str(migrations),
            "MIGRATE_PARALLEL": str(parallel),
            "MIGRATE_LOG_FORMAT": "json",
            "MIGRATE_TERMINATION_LOG": os.devnull,
            **settings,
        }


def connect(target: DatabaseTarget, database: str | None) -> pymysql.Connection[Any]:
    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password.get_secret_value(),
        database=database,
        autocommit=True,
    )


# Linux carries a parent's peak RSS over into a child it spawns (vfork, then exec), so
# the bench, grown large, would inflate the runner's figure. A small launcher process
# starts the runner instead and reports the runner's own peak.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "process = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(process.pid, 0)\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')\n"
)


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run, which must succeed."""
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", LAUNCHER, report.name, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        code, peak_kib = (int(field) for field in report.read().split())
    if code != 0 or result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or [""]
        raise SystemExit(f"{command[2:]} failed with {code}: {last[0]}")
    return wall, peak_kib / 1024


def runner(fleet: Fleet, migrations: Path, parallel: int, **settings: str) -> tuple[float, float]:
    command = [sys.executable, str(ROOT / "entrypoint.py"), "upgrade"]
    return measured(command, fleet.runner_env(migrations, parallel, **settings))


def plain_loop(fleet: Fleet, plain: Path, work: Path) -> float:
    """A shell loop of `alembic upgrade head`, one database after another."""
    alembic = Path(sys.executable).parent / "alembic"
    lines = ["set -e"]
    for name in fleet.names():
        ini = work / f"{name}.ini"
        ini.write_text(
            f"[alembic]\nscript_location = {plain}\npath_separator = os\n"
            f"sqlalchemy.url = {url(fleet.target(name), 'mysql+pymysql')}\n"
        )
        lines.append(f"{alembic} -c {ini} upgrade head 2>/dev/null")
    script = work / "loop.sh"
    script.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    subprocess.run(["bash", str(script)], check=True)
    return time.perf_counter() - started


def floor(fleet: Fleet, revisions: int, parallel: int) -> float:
    """The same DDL and version rows through PyMySQL, ``parallel`` sessions, no Alembic."""
    queue = deque(fleet.names())
    taking = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        while True:
            with taking:
                if not queue:
                    return
                name = queue.popleft()
            try:
                connection = connect(fleet.server, name)
                with connection, connection.cursor() as cursor:
                    cursor.execute(
                        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                        " PRIMARY KEY (version_num))"
                    )
                    cursor.execute("INSERT INTO alembic_version VALUES ('')")
                    for index in range(1, revisions + 1):
                        cursor.execute(
                            f"CREATE TABLE bench_t{index} (id INT PRIMARY KEY, name VARCHAR(40))"
                        )
                        cursor.execute(
                            "UPDATE alembic_version SET version_num = %s", (f"b{index:05d}",)
                        )
            except BaseException as error:
                failures.append(error)
                return

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"the floor failed: {failures[0]}")
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=200)
    parser.add_argument("--revisions", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--large", type=int, default=1000, help="the larger shard count")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op")
    parser.add_argument("--markdown", type=Path, help="write the section into this file")
    args = parser.parse_args(argv)
    server = parse_database_url(
        os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306/test")
    )
    work = Path(tempfile.mkdtemp(prefix="migrator-fleet-bench-"))
    fleet = Fleet(server, args.shards)
    large = Fleet(server, args.large)
    rows: list[tuple[str, str]] = []
    try:
        ours, plain, _ = generate(work, args.revisions)
        fleet.recreate()
        in_process, rss = runner(fleet, ours, args.parallel)
        noops = [runner(fleet, ours, args.parallel) for _ in range(args.repeat)]
        fleet.recreate()
        processes, _ = runner(fleet, ours, args.parallel, MIGRATE_SHARD_ISOLATION="process")
        fleet.recreate()
        loop = plain_loop(fleet, plain, work)
        fleet.recreate()
        floor_s = floor(fleet, args.revisions, args.parallel)
        fleet.drop()
        large.recreate()
        large_upgrade, large_rss = runner(large, ours, args.parallel)
        large_noops = [runner(large, ours, args.parallel) for _ in range(args.repeat)]
        n, r, p = args.shards, args.revisions, args.parallel
        rows = [
            (f"this runner, in-process: {n} x {r} from empty", _upgrade(in_process, rss)),
            (f"this runner, a process per shard: {n} x {r}", f"{processes:.1f} s"),
            (f"plain Alembic, a shell loop over {n} databases", f"{loop:.1f} s"),
            (f"floor: PyMySQL, {p} sessions, the same DDL and version rows", f"{floor_s:.1f} s"),
            (f"this runner: no-op, {n} shards at head", _noop(noops)),
            (f"this runner, in-process: {large.count} x {r}", _upgrade(large_upgrade, large_rss)),
            (f"this runner: no-op, {args.large} shards at head", _noop(large_noops)),
            ("ratio plain Alembic loop / this runner (goal >= 10)", f"{loop / in_process:.1f}"),
            ("ratio this runner / floor (goal <= 2)", f"{in_process / floor_s:.2f}"),
            ("ratio a process per shard / in-process", f"{processes / in_process:.1f}"),
        ]  # fmt: skip
    finally:
        fleet.drop()
        large.drop()
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" MIGRATE_PARALLEL={args.parallel}; upgrades run once, no-ops median (min-max) of"
        f" {args.repeat}"
    )
    report(header, rows, args.markdown, heading="Fleet")


def _upgrade(wall: float, rss: float) -> str:
    return f"{wall:.1f} s, peak RSS {rss:.0f} MiB"


def _noop(samples: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in samples]
    rss = max(peak for _, peak in samples)
    return (
        f"{statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}),"
        f" peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
