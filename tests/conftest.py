"""Shared by every suite: the test server, a fresh database per test, and running the
entrypoint as a real process.

The server comes from TEST_DATABASE_URL (default: the local MariaDB as root).
With CI=true an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pymysql
import pytest
import yaml

from migrator.db.lock import lock_name
from migrator.db.marker import MARKER_TABLE
from migrator.settings.target import DatabaseTarget, parse_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = PROJECT_ROOT / "entrypoint.py"
DEFAULT_TEST_DATABASE_URL = "mysql://root@127.0.0.1:3306/test"


@dataclass(frozen=True)
class Result:
    """A finished runner process."""

    code: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON: a traceback or stray print fails the parse."""
        entries = []
        for line in self.stderr.splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"stderr line is not a JSON log line: {line!r}\n{self.stderr}")
        return entries

    def messages(self) -> list[str]:
        return [entry["message"] for entry in self.logs]

    @property
    def error(self) -> dict[str, Any]:
        """The one error line of a failed run."""
        errors = [entry for entry in self.logs if entry["level"] == "error"]
        assert len(errors) == 1, f"expected one error line, got {errors}"
        return errors[0]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it with CI=true (where everything must be there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k directory` would apply."""
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed (.ci/run installs it)")
    built = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc is not None]


def run_in_project(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A command run in the project's root (make, a nested pytest), its output captured."""
    return subprocess.run(
        list(argv),
        cwd=PROJECT_ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def runner_env(**settings: str) -> dict[str, str]:
    """A minimal environment: no settings leak in from the developer's shell."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MIGRATE_LOG_FORMAT": "json",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(settings)
    return env


def start_entrypoint(
    args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str) -> str:
    """Read the runner's stderr up to the first line containing ``text``."""
    assert process.stderr is not None
    while line := process.stderr.readline():
        if text in line:
            return line
    raise AssertionError(f"the runner exited (status {process.wait()}) before logging {text!r}")


def wait_for_lines(process: subprocess.Popen[str], text: str, count: int) -> list[str]:
    """Read the runner's stderr up to the ``count``-th line containing ``text``; every line
    read is returned."""
    assert process.stderr is not None
    lines, found = [], 0
    while found < count and (line := process.stderr.readline()):
        lines.append(line)
        found += text in line
    if found < count:
        raise AssertionError(f"the runner exited (status {process.wait()}) before {count}"
                             f" lines with {text!r}")  # fmt: skip
    return lines


def finish(process: subprocess.Popen[str], started: float, timeout: float = 180) -> Result:
    stdout, stderr = process.communicate(timeout=timeout)
    return Result(process.returncode, stdout, stderr, time.monotonic() - started)


def kill_hard(process: subprocess.Popen[str]) -> str:
    """SIGKILL, as when a pod is killed or runs out of memory: what it wrote to stderr."""
    process.kill()
    return process.communicate(timeout=30)[1] or ""


def applied_revisions(*results: Result) -> Counter[str]:
    """How often each revision was applied, counted over the logs of several runs."""
    return Counter(
        entry["revision"]
        for result in results
        for entry in result.logs
        if entry["message"] == "applied revision"
    )


def run_entrypoint(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
) -> Result:
    started = time.monotonic()
    return finish(start_entrypoint(args, env, cwd), started, timeout)


RunEntrypoint = Callable[..., Result]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunEntrypoint:
    """Run the entrypoint with only the given settings, from an empty directory (no .env)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, **settings: str) -> Result:
        return run_entrypoint(args, runner_env(**settings), workdir)

    return run


def url_of(target: DatabaseTarget) -> str:
    password = target.password.get_secret_value()
    auth = quote(target.user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"mysql://{auth}@{target.host}:{target.port}/{quote(target.database, safe='')}"


class Server:
    """Administrative access to the test server."""

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target

    def connect(self, database: str | None = None) -> pymysql.Connection[Any]:
        return pymysql.connect(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password.get_secret_value(),
            database=database,
            autocommit=True,
        )

    def execute(self, sql: str, *params: object, database: str | None = None) -> list[Any]:
        with closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall())

    @cached_property
    def family(self) -> str:
        """ "mariadb" or "mysql": what the server says it is."""
        version = str(self.execute("SELECT VERSION()")[0][0])
        return "mariadb" if "mariadb" in version.lower() else "mysql"


@dataclass
class ScratchDatabase:
    """One throwaway database on the test server, and the user the runner logs in as.

    That user is granted what the README tells users to grant: its database and the
    shadow databases of autogenerate, nothing global. Tests administer the database
    with the server's own account (`execute`, `server`).
    """

    server: Server
    name: str
    app_user: tuple[str, str] | None = None  # name and password; None: the admin account

    @property
    def target(self) -> DatabaseTarget:
        """Where the runner logs in: as the application user."""
        if self.app_user is None:
            return replace(self.server.target, database=self.name)
        user, password = self.app_user
        return replace(
            self.server.target,
            database=self.name,
            user=user,
            password=type(self.server.target.password)(password),
        )

    @property
    def url(self) -> str:
        return url_of(self.target)

    @property
    def admin_url(self) -> str:
        return url_of(replace(self.server.target, database=self.name))

    def url_as(self, user: str, password: str) -> str:
        return url_of(
            replace(self.target, user=user, password=type(self.target.password)(password))
        )

    def execute(self, sql: str, *params: object) -> list[Any]:
        return self.server.execute(sql, *params, database=self.name)

    def tables(self) -> set[str]:
        """The tables, without the runner's own marker table (see `run_marker`)."""
        rows = self.server.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", self.name
        )
        return {row[0] for row in rows} - {MARKER_TABLE}

    def run_marker(self) -> list[tuple[Any, ...]]:
        """The rows of the runner's marker table: one per interrupted revision."""
        return [tuple(row) for row in self.execute(f"SELECT revision, runner FROM {MARKER_TABLE}")]

    @contextmanager
    def lock_held_elsewhere(self) -> Iterator[int]:
        """Hold this database's migration lock from another session; yields its id."""
        holder = self.server.connect()
        try:
            with holder.cursor() as cursor:
                cursor.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (lock_name(self.name),))
                got, connection_id = cursor.fetchone() or (0, 0)
            assert got == 1
            yield int(connection_id)
        finally:
            holder.close()

    def lock_is_free(self) -> bool:
        return self.server.execute("SELECT IS_FREE_LOCK(%s)", lock_name(self.name)) == [(1,)]

    def version(self) -> set[str]:
        if "alembic_version" not in self.tables():
            return set()
        return {row[0] for row in self.execute("SELECT version_num FROM alembic_version")}


@pytest.fixture(scope="session")
def server() -> Server:
    target = parse_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    server = Server(target)
    try:
        server.execute("SELECT 1")
    except pymysql.err.MySQLError as error:
        message = f"test server {target.redacted_url()} is not reachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return server


@pytest.fixture(autouse=True)
def _server_family(request: pytest.FixtureRequest) -> None:
    """Tests marked mysql_only or mariadb_only say why, and run on that family alone."""
    for family in ("mysql", "mariadb"):
        marker = request.node.get_closest_marker(f"{family}_only")
        if marker is None:
            continue
        server: Server = request.getfixturevalue("server")
        if server.family != family:
            pytest.skip(f"{family} only: {marker.kwargs['reason']}")


@pytest.fixture
def database(server: Server) -> Iterator[ScratchDatabase]:
    with scratch_databases(server, 1) as (database,):
        yield database


def grants_for(database: str) -> list[str]:
    """What the README tells users to grant the migration user: its database, and the
    shadow databases autogenerate creates next to it."""
    shadow_pattern = database.replace("_", "\\_") + "\\_shadow\\_%"
    return [f"ALL ON `{database}`.*", f"ALL ON `{shadow_pattern}`.*"]


def revoke_shadow_databases(database: ScratchDatabase) -> None:
    """Take from the application user the shadow-database grant that `grants_for` gives."""
    assert database.app_user is not None
    shadow_grant = grants_for(database.name)[1].removeprefix("ALL ON ")
    database.server.execute(f"REVOKE ALL ON {shadow_grant} FROM '{database.app_user[0]}'@'%'")


@contextmanager
def scratch_databases(server: Server, count: int) -> Iterator[list[ScratchDatabase]]:
    """`count` fresh databases and their application user, dropped afterwards whatever
    happens."""
    prefix = f"mt_{uuid.uuid4().hex[:12]}"
    names = [prefix] if count == 1 else [f"{prefix}_{index}" for index in range(count)]
    user, password = f"app_{prefix[3:]}", f"app-Pw-{uuid.uuid4().hex[:8]}"
    try:
        server.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", password)
        for name in names:
            server.execute(f"CREATE DATABASE `{name}`")
            for grant in grants_for(name):
                server.execute(f"GRANT {grant} TO '{user}'@'%'")
        yield [ScratchDatabase(server, name, (user, password)) for name in names]
    finally:
        for name in names:
            server.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
