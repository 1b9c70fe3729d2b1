"""Every place the runner relies on PyMySQL's private internals, each named and explained.

PyMySQL has no public way to tell how long a session has been blocked on a read,
to change a live session's read and write timeouts, or to end a read blocked in
another thread. Each function here says which internal it touches and why;
tests/unit/test_driver_compat.py fails when an installed PyMySQL changes one.
"""

from __future__ import annotations

import socket
import ssl
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

import pymysql

if TYPE_CHECKING:
    from migrator.db.connection import DriverConnection


class TimedConnection(pymysql.connections.Connection):
    """PyMySQL's connection, without a 20 ms cost on every login, telling how long it has
    been blocked on a read or write that has no timeout (for the watchdog).

    Every read of PyMySQL goes through its private ``_read_packet``, every write
    through ``_write_bytes``; both apply the private ``_read_timeout`` and
    ``_write_timeout`` first (see :func:`set_io_timeout`). Overriding them is the only
    way to see a read or write begin and end.

    PyMySQL 2 tries TLS on every login ("preferred": used when the server offers it,
    the certificate not verified). For that its ``__init__`` calls the private
    ``_create_ssl_ctx``, whose ssl.create_default_context() loads the system CA store
    (about 20 ms, a fifth of a no-op run) only never to consult it, as verification is
    off. Without TLS options, this builds the same unverified context without the
    store; with them, PyMySQL's own code runs.
    """

    blocked_since: float | None = None

    # PyMySQL's private I/O methods and attributes are not in its type stubs.
    def _read_packet(self, *args: Any) -> Any:
        driver: Any = super()
        if cast("Any", self)._read_timeout is not None:  # bounded by its socket timeout
            return driver._read_packet(*args)
        self.blocked_since = time.monotonic()
        try:
            return driver._read_packet(*args)
        finally:
            self.blocked_since = None

    def _write_bytes(self, data: bytes) -> None:
        driver: Any = super()
        if cast("Any", self)._write_timeout is not None:
            driver._write_bytes(data)
            return
        self.blocked_since = time.monotonic()
        try:
            driver._write_bytes(data)
        finally:
            self.blocked_since = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp:
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc,no-any-return]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


def set_io_timeout(connection: DriverConnection, seconds: float | None) -> None:
    """Bound the session's later reads and writes; None: unbounded.

    PyMySQL takes ``read_timeout`` and ``write_timeout`` only at login, into the private
    ``_read_timeout`` and ``_write_timeout``, which it applies to the socket before
    each read and write.
    """
    driver: Any = connection
    driver._read_timeout = seconds
    driver._write_timeout = seconds


def io_timeout(connection: DriverConnection) -> float | None:
    """The session's bound on its reads (PyMySQL's private ``_read_timeout``)."""
    seconds: float | None = cast("Any", connection)._read_timeout
    return seconds


def shut_down(connection: DriverConnection) -> None:
    """Shut the session's socket (PyMySQL's private ``_sock``) down: a read blocked on it
    in another thread ends at once with "lost connection". ``close()`` would first
    write to the socket, which another thread is blocked on."""
    sock = getattr(connection, "_sock", None)
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
