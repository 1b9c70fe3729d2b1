"""Integration fixtures: migrations directories, schema modules, users and a TCP forwarder.

The server and the fresh database per test come from tests/conftest.py.
"""

from __future__ import annotations

import shutil
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import (
    PROJECT_ROOT,
    Result,
    ScratchDatabase,
    Server,
    free_port,
    run_entrypoint,
    runner_env,
)

REVISION_TEMPLATE = '''"""{doc}"""

import time

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


@dataclass
class MigrationsDir:
    """A migrations directory with the project's env.py and hand-written revisions."""

    path: Path
    revisions: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, path: Path) -> MigrationsDir:
        (path / "versions").mkdir(parents=True)
        for name in ("env.py", "script.py.mako"):
            shutil.copy(PROJECT_ROOT / "migrations" / name, path / name)
        return cls(path)

    def add(
        self,
        revision: str,
        down_revision: str | tuple[str, ...] | None,
        upgrade: Sequence[str] = (),
        downgrade: Sequence[str] = (),
        doc: str | None = None,
    ) -> Path:
        """A revision whose bodies are Python lines (use `sql()` for plain statements)."""
        text = REVISION_TEMPLATE.format(
            doc=doc or f"revision {revision}",
            revision=revision,
            down_revision=down_revision,
            upgrade=_body(upgrade),
            downgrade=_body(downgrade),
        )
        path = self.path / "versions" / f"{revision}.py"
        path.write_text(text)
        self.revisions.append(revision)
        return path

    def chain(self, count: int, prefix: str = "r") -> list[str]:
        """`count` revisions in a line, each creating one table `t<i>`."""
        down: str | None = self.revisions[-1] if self.revisions else None
        created = []
        for index in range(1, count + 1):
            revision = f"{prefix}{index:04d}"
            self.add(
                revision,
                down,
                upgrade=[sql(f"CREATE TABLE t{index} (id INT PRIMARY KEY)")],
                downgrade=[sql(f"DROP TABLE t{index}")],
            )
            created.append(revision)
            down = revision
        return created


def sql(statement: str) -> str:
    return f"op.execute({statement!r})"


def _body(lines: Sequence[str]) -> str:
    return "\n".join(f"    {line}" for line in lines) or "    pass"


@pytest.fixture
def migrations(tmp_path: Path) -> MigrationsDir:
    return MigrationsDir.create(tmp_path / "migrations")


@dataclass
class Migrate:
    """Runs the entrypoint against the test database and migrations directory."""

    database: ScratchDatabase
    migrations: MigrationsDir
    workdir: Path

    def env(self, **settings: str | None) -> dict[str, str]:
        """The runner's settings; a setting given as None is left unset."""
        defaults: dict[str, str | None] = {
            "DATABASE_URL": self.database.url,
            "MIGRATE_MIGRATIONS_DIR": str(self.migrations.path),
            "MIGRATE_WAIT_TIMEOUT": "10",
        }
        defaults.update(settings)
        return runner_env(**{k: v for k, v in defaults.items() if v is not None})

    def __call__(self, *args: str, **settings: str | None) -> Result:
        return run_entrypoint(args, self.env(**settings), self.workdir)


@pytest.fixture
def migrate(database: ScratchDatabase, migrations: MigrationsDir, tmp_path: Path) -> Migrate:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return Migrate(database, migrations, workdir)


@dataclass
class Users:
    server: Server
    created: list[str] = field(default_factory=list)

    def create(self, password: str, *grants: str) -> str:
        """A user with the given password and grants (e.g. "ALL ON db.*")."""
        name = f"mu_{uuid.uuid4().hex[:10]}"
        self.server.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", password)
        self.created.append(name)
        for grant in grants:
            self.server.execute(f"GRANT {grant} TO '{name}'@'%'")
        return name


@pytest.fixture
def users(server: Server) -> Iterator[Users]:
    users = Users(server)
    yield users
    for name in users.created:
        server.execute(f"DROP USER IF EXISTS '{name}'@'%'")


class TcpProxy:
    """A TCP forwarder to the test server that can be started late and stopped.

    Until `start()`, its port refuses connections exactly like a server that is
    not up yet; `stop()` cuts every connection like a server going away.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
            listener, self._listener = self._listener, None
        for sock in [*sockets, *([listener] if listener else [])]:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy(server: Server) -> Iterator[TcpProxy]:
    proxy = TcpProxy((server.target.host, server.target.port))
    yield proxy
    proxy.stop()


SCHEMA_TEMPLATE = """
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData(naming_convention={{
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}})

{tables}
"""


@dataclass
class SchemaModule:
    """A schema module of the test's own, found through MIGRATE_SCHEMA and PYTHONPATH."""

    directory: Path
    name: str = "app_schema"

    def write(self, tables: str) -> dict[str, str]:
        """Define the module's tables (Python source); returns the settings that select it."""
        (self.directory / f"{self.name}.py").write_text(SCHEMA_TEMPLATE.format(tables=tables))
        return self.settings

    @property
    def settings(self) -> dict[str, str]:
        return {"MIGRATE_SCHEMA": f"{self.name}:metadata", "PYTHONPATH": str(self.directory)}


@pytest.fixture
def schema(tmp_path: Path) -> SchemaModule:
    directory = tmp_path / "schema_module"
    directory.mkdir()
    return SchemaModule(directory)
