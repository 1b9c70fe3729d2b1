"""MariaDB servers the tests start themselves: one they may freeze, one that offers TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from migrator.settings.target import DatabaseTarget, Secret
from tests.support.network import free_port
from tests.support.servers import Server


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


@dataclass(frozen=True)
class TlsServer:
    """A second MariaDB server, started for the tests, that offers TLS."""

    server: Server
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes]) -> pymysql.Connection[Any]:
    # Connect only once the socket exists: PyMySQL leaks the socket of a failed attempt.
    deadline = time.monotonic() + 60
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start (exit {process.poll()})")
        time.sleep(0.1)
    return pymysql.connect(unix_socket=str(path), user="root", autocommit=True)


def certificates(directory: Path, host: str) -> tuple[Path, Path, Path]:
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
