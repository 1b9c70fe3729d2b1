"""TLS against a server that offers it: used by default, verified on request, off on request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.database import ConnectionSettings, wait_for_database
from migrator.target import parse_database_url
from tests.conftest import ScratchDatabase, run_entrypoint, runner_env, scratch_databases
from tests.integration.conftest import TlsServer


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
