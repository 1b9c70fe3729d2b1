"""Fixtures shared by every suite: the test server, a fresh database per test, and the
entrypoint run as a real process (the helpers behind them are in tests/support/).

The server comes from TEST_DATABASE_URL (default: the local MariaDB as root).
With CI=true an unreachable server fails the run instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from migrator.settings.target import parse_database_url
from tests.support.runner import Result, RunEntrypoint, run_entrypoint, runner_env
from tests.support.servers import (
    DEFAULT_TEST_DATABASE_URL,
    ScratchDatabase,
    Server,
    scratch_databases,
)


@pytest.fixture
def run_cli(tmp_path: Path) -> RunEntrypoint:
    """Run the entrypoint with only the given settings, from an empty directory (no .env)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, **settings: str) -> Result:
        return run_entrypoint(args, runner_env(**settings), workdir)

    return run


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
