"""Integration fixtures: migrations, schema modules, users, a TCP forwarder, servers of the
tests' own (the helpers behind them are in tests/support/).

The server and the fresh database per test come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir
from tests.support.network import SilentPort, TcpProxy
from tests.support.owned_servers import (
    OwnedServer,
    TlsServer,
    certificates,
    start_owned_server,
)
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase, Server, Users, scratch_databases


@pytest.fixture
def migrations(tmp_path: Path) -> MigrationsDir:
    return MigrationsDir.create(tmp_path / "migrations")


@pytest.fixture
def shards(server: Server, request: pytest.FixtureRequest) -> Iterator[list[ScratchDatabase]]:
    """Fresh databases, as many as the test module's SHARDS, with one application user."""
    with scratch_databases(server, request.module.SHARDS) as databases:
        yield databases


@pytest.fixture
def migrate(database: ScratchDatabase, migrations: MigrationsDir, tmp_path: Path) -> Migrate:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return Migrate(database, migrations, workdir)


@pytest.fixture
def users(server: Server) -> Iterator[Users]:
    users = Users(server)
    yield users
    for name in users.created:
        server.execute(f"DROP USER IF EXISTS '{name}'@'%'")


@pytest.fixture
def proxy(server: Server) -> Iterator[TcpProxy]:
    proxy = TcpProxy((server.target.host, server.target.port))
    yield proxy
    proxy.stop()


@pytest.fixture
def schema(tmp_path: Path) -> SchemaModule:
    directory = tmp_path / "schema_module"
    directory.mkdir()
    return SchemaModule(directory)


@pytest.fixture(scope="module")
def owned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnedServer]:
    """A server the tests may freeze; thawed after each test that does (see `frozen`)."""
    owned = start_owned_server(tmp_path_factory.mktemp("owned-server"))
    yield owned
    owned.stop()


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    base = tmp_path_factory.mktemp("tls-server")
    ca, server_cert, server_key = certificates(base, "127.0.0.1")
    other_ca, _, _ = certificates(base / "other", "127.0.0.1")
    owned = start_owned_server(
        base, f"--ssl-ca={ca}", f"--ssl-cert={server_cert}", f"--ssl-key={server_key}"
    )
    yield TlsServer(owned.server, ca, other_ca)
    owned.stop()


@pytest.fixture
def silent_port() -> Iterator[SilentPort]:
    port = SilentPort()
    yield port
    port.close()
