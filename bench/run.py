"""`make bench`: this runner against plain Alembic and dbmate, on one server, in one run.

Generates N revisions (each creates one small table) and the same migrations
as dbmate SQL files, then measures full upgrades from an empty database, no-op
runs on a database at head, the floor (Python + PyMySQL reading
alembic_version), a no-op through `docker run` when an engine and the image
are there, and concurrent runners on an empty database. Prints a table of
medians (min-max) and ratios; --markdown also writes it as Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pymysql

from migrator.settings.target import DatabaseTarget, parse_database_url

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / ".tools"
DBMATE_VERSION = "2.36.0"

REVISION = '''"""create bench_t{index}"""
from alembic import op

revision = "b{index:05d}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE bench_t{index} (id INT PRIMARY KEY, name VARCHAR(40))")


def downgrade() -> None:
    op.execute("DROP TABLE bench_t{index}")
'''

# The env.py of `alembic init`, as a team would run plain Alembic.
PLAIN_ENV = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""

DBMATE_SQL = """-- migrate:up
CREATE TABLE bench_t{index} (id INT PRIMARY KEY, name VARCHAR(40));

-- migrate:down
DROP TABLE bench_t{index};
"""

FLOOR = (
    "import pymysql, sys\n"
    "c = pymysql.connect(host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3],"
    " password=sys.argv[4], database=sys.argv[5])\n"
    "cur = c.cursor(); cur.execute('SELECT version_num FROM alembic_version'); cur.fetchall()\n"
)


@dataclass(frozen=True)
class Tool:
    name: str
    command: Callable[[DatabaseTarget], list[str]]
    env: dict[str, str]


@dataclass(frozen=True)
class Timing:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def __str__(self) -> str:
        return f"{self.median:.3f} s ({min(self.samples):.3f}-{max(self.samples):.3f})"


class Server:
    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self.created: list[str] = []

    def execute(self, sql: str) -> None:
        connection = pymysql.connect(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password.get_secret_value(),
            autocommit=True,
        )
        with connection:
            connection.cursor().execute(sql)

    def fresh(self) -> DatabaseTarget:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        self.execute(f"CREATE DATABASE `{name}`")
        self.created.append(name)
        return DatabaseTarget(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password,
            database=name,
        )

    def drop(self, target: DatabaseTarget) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{target.database}`")
        self.created.remove(target.database)

    def drop_all(self) -> None:
        for name in self.created:
            self.execute(f"DROP DATABASE IF EXISTS `{name}`")


def url(target: DatabaseTarget, scheme: str = "mysql") -> str:
    password = target.password.get_secret_value()
    auth = target.user + (f":{password}" if password else "")
    return f"{scheme}://{auth}@{target.host}:{target.port}/{target.database}"


def generate(work: Path, count: int) -> tuple[Path, Path, Path]:
    """The same migrations three ways: the runner's, plain Alembic's, dbmate's."""
    ours = work / "ours"
    (ours / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "migrations" / name, ours / name)
    plain = work / "plain"
    (plain / "versions").mkdir(parents=True)
    (plain / "env.py").write_text(PLAIN_ENV)
    shutil.copy(ROOT / "migrations" / "script.py.mako", plain / "script.py.mako")
    dbmate = work / "dbmate"
    dbmate.mkdir()
    down = None
    for index in range(1, count + 1):
        text = REVISION.format(index=index, down=down)
        (ours / "versions" / f"b{index:05d}.py").write_text(text)
        (plain / "versions" / f"b{index:05d}.py").write_text(text)
        (dbmate / f"{index:05d}_bench_t{index}.sql").write_text(DBMATE_SQL.format(index=index))
        down = f"b{index:05d}"
    return ours, plain, dbmate


def dbmate_binary() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "dbmate"
    if not binary.exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(TOOLS),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"dbmate@{DBMATE_VERSION}",
            ],
            check=True,
        )
    return binary


def tools(ours: Path, plain: Path, dbmate: Path) -> list[Tool]:
    quiet = {**os.environ, "MIGRATE_LOG_FORMAT": "json", "MIGRATE_TERMINATION_LOG": os.devnull}
    alembic = Path(sys.executable).parent / "alembic"

    def plain_command(target: DatabaseTarget) -> list[str]:
        ini = plain / f"{target.database}.ini"
        ini.write_text(
            f"[alembic]\nscript_location = {plain}\npath_separator = os\n"
            f"sqlalchemy.url = {url(target, 'mysql+pymysql')}\n"
        )
        return [str(alembic), "-c", str(ini), "upgrade", "head"]

    binary = dbmate_binary()
    return [
        Tool(
            "this runner",
            lambda target: [sys.executable, str(ROOT / "entrypoint.py"), "upgrade"],
            quiet | {"MIGRATE_MIGRATIONS_DIR": str(ours)},
        ),
        Tool("plain Alembic", plain_command, dict(os.environ)),
        Tool(
            "dbmate",
            lambda target: [
                str(binary),
                "--url",
                url(target),
                "--migrations-dir",
                str(dbmate),
                "--no-dump-schema",
                "up",
            ],
            dict(os.environ),
        ),
    ]


def run(tool: Tool, target: DatabaseTarget) -> tuple[float, int]:
    env = tool.env | {"DATABASE_URL": url(target)}
    started = time.perf_counter()
    result = subprocess.run(tool.command(target), env=env, capture_output=True, check=False)
    return time.perf_counter() - started, result.returncode


def timed(samples: int, once: Callable[[], tuple[float, int]]) -> Timing:
    return Timing([_succeeded(once()) for _ in range(samples)])


def _succeeded(measured: tuple[float, int]) -> float:
    seconds, code = measured
    if code != 0:
        raise SystemExit(f"a benchmark run failed with exit status {code}")
    return seconds


def concurrent(tool: Tool, target: DatabaseTarget, count: int) -> tuple[float, int]:
    env = tool.env | {"DATABASE_URL": url(target)}
    command = tool.command(target)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    failures = sum(process.wait() != 0 for process in processes)
    return time.perf_counter() - started, failures


def docker_noop(server: Server, repeat: int) -> Timing | None:
    """The image's no-op (bundled migrations) on the host network, when Docker can do it."""
    docker = os.environ.get("DOCKER", "docker")
    image = os.environ.get("IMAGE", "migrator:latest")
    if shutil.which(docker) is None:
        return None
    probe = subprocess.run([docker, "image", "inspect", image], capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    target = server.fresh()
    command = [
        docker,
        "run",
        "--rm",
        "--read-only",
        "--network",
        "host",
        "-e",
        f"DATABASE_URL={url(target)}",
        image,
    ]
    if subprocess.run(command, capture_output=True, check=False).returncode != 0:
        return None

    def once() -> tuple[float, int]:
        started = time.perf_counter()
        code = subprocess.run(command, capture_output=True, check=False).returncode
        return time.perf_counter() - started, code

    return timed(repeat, once)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    server = Server(
        parse_database_url(os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306/test"))
    )
    work = Path(tempfile.mkdtemp(prefix="migrator-bench-"))
    rows: list[tuple[str, str]] = []
    try:
        ours, plain, dbmate = generate(work, args.revisions)
        contenders = tools(ours, plain, dbmate)
        floor_tool = Tool("floor", floor_command, dict(os.environ))
        full = {tool.name: Timing([]) for tool in contenders}
        noop = {tool.name: Timing([]) for tool in [*contenders, floor_tool]}
        at_head = {}
        for tool in contenders:
            at_head[tool.name] = server.fresh()
            _succeeded(run(tool, at_head[tool.name]))
        at_head[floor_tool.name] = at_head[contenders[0].name]
        # Round-robin: every repetition runs each tool once, so drift on the server
        # (caches, purge, a neighbour's load) falls on all of them alike.
        for _ in range(args.repeat):
            for tool in contenders:
                target = server.fresh()
                full[tool.name].samples.append(_succeeded(run(tool, target)))
                server.drop(target)
            for tool in [*contenders, floor_tool]:
                noop[tool.name].samples.append(_succeeded(run(tool, at_head[tool.name])))
        for tool in contenders:
            target = server.fresh()
            wall, failures = concurrent(tool, target, args.concurrency)
            server.drop(target)
            rows += [
                (
                    f"{tool.name}: upgrade {args.revisions} revisions from empty",
                    str(full[tool.name]),
                ),
                (f"{tool.name}: no-op at head", str(noop[tool.name])),
                (
                    f"{tool.name}: {args.concurrency} concurrent on an empty database",
                    f"{wall:.2f} s wall, {failures} of {args.concurrency} failed",
                ),
            ]
        rows.append(("floor: Python + PyMySQL reading alembic_version", str(noop["floor"])))
        image = docker_noop(server, args.repeat)
        shown = str(image) if image else "no engine or image"
        rows.append(("this runner: no-op through `docker run`", shown))
        ours_full, ours_noop = full["this runner"], noop["this runner"]
        plain_full, plain_noop = full["plain Alembic"], noop["plain Alembic"]
        dbmate_noop, floor = noop["dbmate"], noop["floor"]
        ratios = {
            "no-op: this runner / plain Alembic (target <= 0.3)": ours_noop.median
            / plain_noop.median,
            "no-op: this runner / dbmate": ours_noop.median / dbmate_noop.median,
            "no-op: this runner / floor (target <= 1.5)": ours_noop.median / floor.median,
            f"upgrade {args.revisions}: this runner / plain Alembic (target <= 1.1)": (
                ours_full.median / plain_full.median
            ),
        }
        rows += [(f"ratio {name}", f"{value:.2f}") for name, value in ratios.items()]
    finally:
        server.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {args.revisions} revisions, median (min-max) of {args.repeat} runs"
    )
    report(header, rows, args.markdown)


def report(
    header: str, rows: list[tuple[str, str]], markdown: Path | None, heading: str | None = None
) -> None:
    """Print the table; with ``markdown``, also write it into that file as the section
    under ``heading`` (None: the part before the first heading), keeping the others."""
    width = max(len(name) for name, _ in rows)
    print(header)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if markdown is None:
        return
    lines = [f"_{header}_", "", "| Measurement | Result |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    table = "\n".join(lines) + "\n"
    old = markdown.read_text() if markdown.exists() else ""
    top, *sections = old.split("\n## ")
    named = {section.split("\n", 1)[0]: "## " + section.strip("\n") + "\n" for section in sections}
    if heading is None:
        top = table
    else:
        named[heading] = f"## {heading}\n\n{table}"
    markdown.write_text("\n".join([top.strip("\n") + "\n", *named.values()]).lstrip("\n"))


def floor_command(target: DatabaseTarget) -> list[str]:
    password = target.password.get_secret_value()
    return [
        sys.executable,
        "-c",
        FLOOR,
        target.host,
        str(target.port),
        target.user,
        password,
        target.database,
    ]


if __name__ == "__main__":
    main()
