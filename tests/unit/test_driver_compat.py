"""Each private PyMySQL internal the runner touches still works as it relies on.

One test per touch of migrator.db.driver_compat, against a stand-in server on a local
socket that greets like MySQL, accepts the login and then answers, goes silent, or
stops reading: a newer PyMySQL that changes one of them fails here, by name.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest
from pymysql.constants import CLIENT, CR

from migrator.db.driver_compat import TimedConnection, io_timeout, set_io_timeout, shut_down
from tests.support.polling import wait_until

SALT = b"abcdefgh" + b"ijklmnopqrst"
CAPABILITIES = (
    CLIENT.LONG_PASSWORD
    | CLIENT.PROTOCOL_41
    | CLIENT.TRANSACTIONS
    | CLIENT.SECURE_CONNECTION
    | CLIENT.PLUGIN_AUTH
)
OK = b"\x00\x00\x00\x02\x00\x00\x00"  # no rows, no insert id, autocommit, no warnings
POLL = 0.02


def _packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


def _greeting() -> bytes:
    """A protocol 10 handshake without TLS (so PyMySQL logs in in plain text)."""
    return (
        b"\x0a8.0.0-stand-in\x00"
        + struct.pack("<I", 7)
        + SALT[:8]
        + b"\x00"
        + struct.pack("<HBHHB", CAPABILITIES & 0xFFFF, 45, 2, CAPABILITIES >> 16, len(SALT) + 1)
        + b"\x00" * 10
        + SALT[8:]
        + b"\x00mysql_native_password\x00"
    )


class StandIn:
    """One client's server: answers OK to every command while ``mode`` is "answer", reads
    and never answers when "silent", and stops reading when "stalled"."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        # A small receive buffer, so that a stalled server soon blocks a large write.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.port: int = self.listener.getsockname()[1]
        self.mode = "answer"
        self.received = 0  # commands (and the login) read in full
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        client.settimeout(POLL)
        with client:
            client.sendall(_packet(0, _greeting()))
            buffered = b""
            while not self.done.is_set():
                if self.mode == "stalled":
                    time.sleep(POLL)
                    continue
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    continue
                except OSError:  # the client shut its socket down
                    return
                if not data:
                    return
                buffered += data
                while len(buffered) >= 4:
                    length = int.from_bytes(buffered[:3], "little")
                    if len(buffered) < 4 + length:
                        break
                    sequence, buffered = buffered[3], buffered[4 + length :]
                    self.received += 1
                    if self.mode == "answer":
                        client.sendall(_packet(sequence + 1, OK))

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


def _login(server: StandIn) -> TimedConnection:
    return TimedConnection(
        host="127.0.0.1", port=server.port, user="app", password=b"pw", connect_timeout=5
    )


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def test_the_stand_in_server_logs_in_and_answers(stand_in: StandIn) -> None:
    connection = _login(stand_in)
    try:
        connection.query("DO 1")
        assert connection.get_server_info() == "8.0.0-stand-in"  # type: ignore[no-untyped-call]
    finally:
        connection.close()


def test_an_unbounded_read_shows_as_blocked_and_shut_down_ends_it(stand_in: StandIn) -> None:
    """``_read_packet`` is every read, ``_read_timeout`` None leaves it unbounded, and
    shutting ``_sock`` down ends it from another thread."""
    connection = _login(stand_in)
    set_io_timeout(connection, None)
    assert io_timeout(connection) is None
    stand_in.mode = "silent"
    sent = stand_in.received
    thread, errors = _in_thread(lambda: connection.query("DO SLEEP(60)"))
    # Once the statement is out, the session waits for the answer.
    wait_until(
        lambda: stand_in.received > sent and connection.blocked_since is not None,
        timeout=10,
        message="the statement never blocked the session",
    )
    shut_down(connection)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(error) for error in errors] == [pymysql.err.OperationalError]
    assert errors[0].args[0] == CR.CR_SERVER_LOST
    assert connection.blocked_since is None


def test_a_bounded_read_times_out_unwatched(stand_in: StandIn) -> None:
    """``_read_timeout`` set on a live session bounds its next read."""
    connection = _login(stand_in)
    set_io_timeout(connection, 0.2)
    assert io_timeout(connection) == 0.2
    stand_in.mode = "silent"
    samples: list[float | None] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(connection.blocked_since)
            time.sleep(POLL)

    sampler, _ = _in_thread(sample)
    started = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as raised:
        connection.query("DO SLEEP(60)")
    assert raised.value.args[0] == CR.CR_SERVER_LOST
    assert time.monotonic() - started < 5
    stop.set()
    sampler.join()
    # Bounded by its socket's timeout, the read is not one for the watchdog.
    assert samples
    assert set(samples) == {None}


def test_an_unbounded_write_shows_as_blocked_and_shut_down_ends_it(stand_in: StandIn) -> None:
    """``_write_bytes`` is every write, ``_write_timeout`` None leaves it unbounded."""
    connection = _login(stand_in)
    set_io_timeout(connection, None)
    stand_in.mode = "stalled"
    statement = "SELECT '" + "x" * 8_000_000 + "'"  # more than the socket buffers hold
    thread, errors = _in_thread(lambda: connection.query(statement))
    wait_until(
        lambda: connection.blocked_since is not None,
        timeout=10,
        message="the write never blocked the session",
    )
    shut_down(connection)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(error) for error in errors] == [pymysql.err.OperationalError]
    assert errors[0].args[0] == CR.CR_SERVER_GONE_ERROR


def test_a_login_without_tls_options_builds_its_context_without_the_ca_store() -> None:
    """PyMySQL's ``__init__`` asks ``_create_ssl_ctx`` for the context of "preferred" TLS."""
    connection = TimedConnection(host="127.0.0.1", defer_connect=True)
    context = vars(connection)["ctx"]  # not in PyMySQL's type stubs
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def test_shut_down_leaves_a_session_without_a_socket_alone() -> None:
    connection = TimedConnection(host="127.0.0.1", defer_connect=True)
    shut_down(connection)
    assert not connection.open
