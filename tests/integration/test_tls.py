"""TLS: used by default, verified on request, off on request; against a server the tests
start with a CA of their own, and against the server under test with its own certificate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from migrator.db.connection import ConnectionSettings, wait_for_database
from migrator.settings.target import parse_database_url
from tests.support.owned_servers import TlsServer
from tests.support.runner import run_entrypoint, runner_env
from tests.support.servers import ScratchDatabase, Server, scratch_databases


@pytest.fixture
def tls_database(tls_server: TlsServer) -> Iterator[ScratchDatabase]:
    with scratch_databases(tls_server.server, 1) as (database,):
        yield database


def cipher(url: str) -> str:
    """The TLS cipher of a runner login to ``url``; "" for a plain connection."""
    settings = ConnectionSettings(parse_database_url(url), wait_timeout=10, connect_timeout=5)
    connection = wait_for_database(settings)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = cursor.fetchone()
        return str(row[1]) if row else ""
    finally:
        connection.close()


def test_tls_is_used_whenever_the_server_offers_it(tls_database: ScratchDatabase) -> None:
    assert cipher(tls_database.url) != ""


def test_ssl_disabled_turns_it_off(tls_database: ScratchDatabase) -> None:
    assert cipher(tls_database.url + "?ssl_disabled=true") == ""


def test_the_certificate_is_verified_against_ssl_ca(
    tls_server: TlsServer, tls_database: ScratchDatabase
) -> None:
    verified = f"{tls_database.url}?ssl_ca={tls_server.ca}&ssl_verify_cert=true"

    assert cipher(verified) != ""


def test_a_certificate_from_another_ca_is_exit_4_naming_tls(
    tls_server: TlsServer, tls_database: ScratchDatabase, tmp_path: Path
) -> None:
    url = f"{tls_database.url}?ssl_ca={tls_server.other_ca}&ssl_verify_cert=true"

    result = run_entrypoint(["wait"], runner_env(DATABASE_URL=url), tmp_path)

    assert result.code == 4
    assert "TLS handshake with 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_demanded_from_a_server_without_it_is_exit_4(
    database: ScratchDatabase, tmp_path: Path
) -> None:
    url = f"{database.url}?ssl_verify_cert=true"

    result = run_entrypoint(["wait"], runner_env(DATABASE_URL=url), tmp_path)

    assert result.code == 4
    assert "Traceback" not in result.stderr


def test_an_unusable_tls_file_is_exit_2(database: ScratchDatabase, tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    url = f"{database.url}?ssl_ca={garbage}&ssl_verify_cert=true"

    result = run_entrypoint(["wait"], runner_env(DATABASE_URL=url), tmp_path)

    assert result.code == 2
    assert "not a usable certificate or key" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_upgrade_over_tls(tls_database: ScratchDatabase, tmp_path: Path) -> None:
    result = run_entrypoint(["upgrade"], runner_env(DATABASE_URL=tls_database.url), tmp_path)

    assert result.code == 0, result.stderr
    assert "status" in tls_database.tables()


# --- The server under test, with its own certificate -------------------------------------


def offers_tls(server: Server) -> bool:
    with closing(server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cursor.fetchone()
    return bool(row and row[1])


def test_the_server_under_test_is_used_over_tls_exactly_when_it_offers_it(
    database: ScratchDatabase,
) -> None:
    assert (cipher(database.url) != "") == offers_tls(database.server)
    assert cipher(database.url + "?ssl_disabled=true") == ""


def test_the_server_under_test_is_refused_when_another_ca_is_demanded(
    tls_server: TlsServer, database: ScratchDatabase, tmp_path: Path
) -> None:
    url = f"{database.url}?ssl_ca={tls_server.other_ca}&ssl_verify_cert=true"

    result = run_entrypoint(["wait"], runner_env(DATABASE_URL=url), tmp_path)

    assert result.code == 4, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.mysql_only(
    reason="MySQL writes the CA of its auto-generated certificate to its data directory;"
    " MariaDB 11.8 keeps its own in memory"
)
def test_the_server_under_test_is_verified_against_its_own_ca(
    database: ScratchDatabase, tmp_path: Path
) -> None:
    ca = os.environ.get("TEST_DATABASE_CA")
    if not ca:
        pytest.fail("TEST_DATABASE_CA names the server's CA file (make test-servers sets it)")
    url = f"{database.url}?ssl_ca={ca}&ssl_verify_cert=true"

    result = run_entrypoint(["upgrade"], runner_env(DATABASE_URL=url), tmp_path)

    assert result.code == 0, result.stderr
