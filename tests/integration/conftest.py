"""Integration fixtures: migrations, schema modules, users, a TCP forwarder, a TLS server.

The server and the fresh database per test come from tests/conftest.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from migrator.settings.target import DatabaseTarget, Secret
from tests.conftest import (
    PROJECT_ROOT,
    Result,
    ScratchDatabase,
    Server,
    free_port,
    run_entrypoint,
    runner_env,
    scratch_databases,
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


def wait_for_table(database: ScratchDatabase, table: str, limit: float = 30) -> None:
    """Wait until a revision running in another process has created ``table``."""
    deadline = time.monotonic() + limit
    while table not in database.tables():
        assert time.monotonic() < deadline, f"{table} never appeared"
        time.sleep(0.1)


def fill(database: ScratchDatabase, table: str, count: int) -> None:
    """Insert ``count`` rows ``(a, b)`` into ``table`` and refresh its statistics.

    A cross join of a ten-row table, cut by LIMIT: doubling a table into itself
    would go through a temporary table on disk, which has failed under load.
    """
    database.execute("CREATE TABLE IF NOT EXISTS digits (d INT PRIMARY KEY)")
    database.execute("INSERT IGNORE INTO digits VALUES " + ", ".join(f"({d})" for d in range(10)))
    places = max(1, len(str(count)))
    joins = ", ".join(f"digits AS d{p}" for p in range(places))
    number = " + ".join(f"d{p}.d * {10**p}" for p in range(places))
    database.execute(
        f"INSERT INTO {table} (a, b) SELECT {number}, REPEAT('x', 100) FROM {joins} LIMIT {count}"
    )
    database.execute("DROP TABLE digits")
    database.execute(f"ANALYZE TABLE {table}")  # MySQL estimates ALTER work from the statistics


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
def shards(server: Server, request: pytest.FixtureRequest) -> Iterator[list[ScratchDatabase]]:
    """Fresh databases, as many as the test module's SHARDS, with one application user."""
    with scratch_databases(server, request.module.SHARDS) as databases:
        yield databases


def game_migrations(tmp_path: Path) -> MigrationsDir:
    """The `game` target's migrations: three revisions g0001..g0003, one table each."""
    game = MigrationsDir.create(tmp_path / "game")
    game.chain(3, prefix="g")
    return game


def shard_template(shards: Sequence[ScratchDatabase], name: str = "game") -> dict[str, str | None]:
    """The databases as the shards of target ``name``, by URL template, and no default."""
    url = shards[0].url.rsplit("_", 1)[0] + "_{shard}"
    return {
        "DATABASE_URL": None,
        "MIGRATE_TARGETS": name,
        f"DATABASE_URL_{name.upper()}_TEMPLATE": url,
        f"DATABASE_URL_{name.upper()}_SHARDS": f"0-{len(shards) - 1}",
    }


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
        return self._grant(name, grants)

    def create_identified(self, how: str, database: ScratchDatabase) -> str:
        """A user of its own database only, identified as ``how`` says
        (e.g. "VIA ed25519 USING PASSWORD('pw')")."""
        name = f"mu_{uuid.uuid4().hex[:10]}"
        self.server.execute(f"CREATE USER '{name}'@'%' IDENTIFIED {how}")
        return self._grant(name, [f"ALL ON `{database.name}`.*"])

    def _grant(self, name: str, grants: Sequence[str]) -> str:
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
    "ck": "ck_%(table_name)s_%(constraint_name)s",
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


@dataclass
class OwnedServer:
    """A MariaDB server of the tests' own, on its own port: one they may stop or freeze,
    which the shared test server must never be."""

    process: subprocess.Popen[bytes]
    server: Server

    @property
    def port(self) -> int:
        return self.server.target.port

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, the server answers nothing."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        self.process.wait(timeout=60)


def start_owned_server(base: Path, *options: str) -> OwnedServer:
    """Initialise and start a MariaDB server of the host's binaries under ``base``, with a
    TCP account `tester` that may do anything."""
    binaries = [shutil.which(name) for name in ("mariadbd", "mariadb-install-db")]
    if None in binaries:
        message = "mariadbd and mariadb-install-db are needed to start a server of the tests'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    data = base / "data"
    # Several test servers start at once (one set per xdist worker), beside the
    # project's real servers: no native AIO, whose contexts are a machine-wide limit.
    lean = ["--innodb-use-native-aio=0", "--innodb-buffer-pool-size=32M"]
    for attempt in range(2):
        installed = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *lean,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if installed.returncode == 0:
            break
        shutil.rmtree(data, ignore_errors=True)
        if attempt:
            output = (installed.stdout + installed.stderr).strip().splitlines()
            raise RuntimeError("mariadb-install-db failed:\n" + "\n".join(output[-20:]))
    port = free_port()
    socket_path = data / "mysqld.sock"
    process = subprocess.Popen(
        [
            "mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={socket_path}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-log-bin",
            *lean,
            f"--log-error={base / 'error.log'}",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        admin = _wait_for_socket(socket_path, process)
        with admin, admin.cursor() as cursor:
            cursor.execute("CREATE USER 'tester'@'%' IDENTIFIED BY 'owned-test-password'")
            cursor.execute("GRANT ALL ON *.* TO 'tester'@'%' WITH GRANT OPTION")
    except BaseException:
        process.terminate()
        raise
    target = DatabaseTarget(
        host="127.0.0.1",
        port=port,
        user="tester",
        password=Secret("owned-test-password"),
        database="",
    )
    return OwnedServer(process, Server(target))


@pytest.fixture(scope="module")
def owned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnedServer]:
    """A server the tests may freeze; thawed after each test that does (see `frozen`)."""
    owned = start_owned_server(tmp_path_factory.mktemp("owned-server"))
    yield owned
    owned.stop()


@dataclass(frozen=True)
class TlsServer:
    """A second MariaDB server, started for the tests, that offers TLS."""

    server: Server
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    base = tmp_path_factory.mktemp("tls-server")
    ca, server_cert, server_key = _certificates(base, "127.0.0.1")
    other_ca, _, _ = _certificates(base / "other", "127.0.0.1")
    owned = start_owned_server(
        base, f"--ssl-ca={ca}", f"--ssl-cert={server_cert}", f"--ssl-key={server_key}"
    )
    yield TlsServer(owned.server, ca, other_ca)
    owned.stop()


class SilentPort:
    """A TCP port that accepts connections and never says a word: a stuck proxy."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port: int = self.listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._held.append(client)

    def close(self) -> None:
        self.listener.close()
        for client in self._held:
            client.close()


@pytest.fixture
def silent_port() -> Iterator[SilentPort]:
    port = SilentPort()
    yield port
    port.close()


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes]) -> pymysql.Connection[Any]:
    # Connect only once the socket exists: PyMySQL leaks the socket of a failed attempt.
    deadline = time.monotonic() + 60
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start (exit {process.poll()})")
        time.sleep(0.1)
    return pymysql.connect(unix_socket=str(path), user="root", autocommit=True)


def _certificates(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for ``host`` signed by it, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def issue(
        subject: str, key: rsa.RSAPrivateKey, issuer: str, signer: rsa.RSAPrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = f"migrator test CA {uuid.uuid4().hex[:8]}"
    files = {
        "ca.pem": issue(ca_name, ca_key, ca_name, ca_key, ca=True),
        "server.pem": issue(host, server_key, ca_name, ca_key, ca=False),
    }
    for name, certificate in files.items():
        (directory / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "server-key.pem").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
