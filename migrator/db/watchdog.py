"""A watchdog that cuts a session whose server stopped answering while a statement runs.

A migration's own statements cannot have a socket timeout: a big ALTER TABLE may
run for an hour with nothing on the wire. A frozen server (SIGSTOP, a hung VM) or
a silent network partition looks the same from the client, and would block the
runner forever. So while such a statement runs longer than the probe delay, a
second session asks the server a trivial question, bounded by the connect timeout.
A server that answers is busy, and the statement goes on; a server that does not
answer in time is gone, and the migration session is shut down, which ends the
blocked read with "lost connection" and the run with its documented exit status.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import pymysql
from pymysql.constants import CR

from migrator.db import progress
from migrator.db.connection import connect_once, error_code
from migrator.db.driver_compat import set_io_timeout, shut_down
from migrator.process import interrupts
from migrator.process.logs import get_logger

if TYPE_CHECKING:
    from migrator.db.connection import ConnectionSettings, DriverConnection

log = get_logger()

# The shortest probe delay: connect timeouts below a second would probe a busy
# server several times a second for nothing.
MIN_PROBE_DELAY = 1.0
# Probes in a row that must go unanswered before the session is cut.
UNANSWERED_PROBES = 2

# The server's ids of this process's probe sessions: the runner's own, never a
# session to name as blocking a DDL statement.
PROBE_SESSIONS: set[int] = set()


def _session_id(connection: pymysql.Connection[Any]) -> int:
    session: int = connection.thread_id()  # type: ignore[no-untyped-call]
    return session


class Watchdog:
    """Watches one session's unbounded reads and writes; see the module docstring."""

    def __init__(self, connection: DriverConnection, settings: ConnectionSettings) -> None:
        self.connection = connection
        self.settings = settings
        self.probe_delay = max(settings.connect_timeout, MIN_PROBE_DELAY)
        self.cut = False
        self._stop = threading.Event()
        self._probe: pymysql.Connection[Any] | None = None
        # In the context of the thread it watches for: its lines name that thread's shard.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._watch,),
            name="migrator-watchdog",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._close_probe()

    def _watch(self) -> None:
        poll = min(0.25, self.probe_delay / 4)
        next_probe = 0.0
        unanswered = 0
        while not self._stop.wait(poll):
            since = getattr(self.connection, "blocked_since", None)
            now = time.monotonic()
            if since is None or now - since < self.probe_delay or now < next_probe:
                unanswered = 0 if since is None else unanswered
                continue
            if self._server_answers():
                unanswered = 0
                next_probe = time.monotonic() + self.probe_delay
                if self._probe is not None:
                    progress.report_through(self._probe, _session_id(self.connection))
                continue
            if getattr(self.connection, "blocked_since", None) is None:
                continue  # the statement ended while the probe waited: all is well
            # One unanswered probe may be a passing hiccup; a migration cut is costly.
            unanswered += 1
            if unanswered < UNANSWERED_PROBES:
                continue
            log.warning(
                "the server stopped answering: cutting the migration session",
                extra={
                    "target": self.settings.target.redacted_url(),
                    "blocked_s": round(time.monotonic() - since, 1),
                    "probe_timeout_s": self.settings.connect_timeout,
                },
            )
            self.cut = True
            shut_down(self.connection)
            return

    def _server_answers(self) -> bool:
        """Whether the server answers a trivial query on a second session in time."""
        if self._probe is not None and self._probe.open:
            try:
                return self._ask(self._probe)
            except pymysql.err.MySQLError as error:
                self._close_probe()
                if _is_answer(error):
                    return True
            # The server may have dropped an idle probe session: one fresh login decides.
        try:
            self._probe = connect_once(self.settings.target, self.settings.connect_timeout)
            PROBE_SESSIONS.add(_session_id(self._probe))
            return self._ask(self._probe)
        except pymysql.err.MySQLError as error:
            self._close_probe()
            return _is_answer(error)
        except Exception:
            self._close_probe()
            return False

    @staticmethod
    def _ask(probe: pymysql.Connection[Any]) -> bool:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True

    def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            PROBE_SESSIONS.discard(_session_id(probe))
            with suppress(Exception):
                probe.close()


def _is_answer(error: pymysql.err.MySQLError) -> bool:
    """An error the server sent (no privilege, too many connections, an account limit)
    proves it is alive; client-side errors (lost, timed out) do not."""
    code = error_code(error)
    # The client library numbers its own errors from CR_ERROR_FIRST; below are the server's.
    return code is not None and code < CR.CR_ERROR_FIRST


@contextmanager
def watched(connection: DriverConnection, settings: ConnectionSettings) -> Iterator[Watchdog]:
    """Make the session's reads and writes unbounded, under a watchdog, for the block."""
    set_io_timeout(connection, None)
    watchdog = Watchdog(connection, settings)
    watchdog.start()
    try:
        yield watchdog
    finally:
        with interrupts.held():
            watchdog.stop()
