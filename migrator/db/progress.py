"""Reports how far a revision's long statement has got, from the server's own counters.

The watchdog already asks the server a question on a second session while a
statement runs long; after each answer it hands that session here, and every
MIGRATE_PROGRESS_INTERVAL seconds one line is logged: percent done and ETA
where the server counts (MariaDB's ``PROCESSLIST.PROGRESS``; MySQL's
``performance_schema.events_stages_current`` when its consumer is enabled and
readable), elapsed time where it does not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pymysql

from migrator.db.connection import is_mariadb
from migrator.process.logs import LOGGER_NAME
from migrator.process.preview import PROGRESS_PREVIEW, SUMMARY_PREVIEW, preview
from migrator.process.report import Slowest

# A logger of its own: a fleet's shard logs its steps at DEBUG, but how far a long
# statement has got is what a reader of the fleet's log looks for.
log = logging.getLogger(f"{LOGGER_NAME}.progress")


class StatementProgress:
    """The statement a revision is running, when it started, and the slowest so far."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.slowest: Slowest | None = None
        self._lock = threading.Lock()
        self._running: tuple[str, str, float] | None = None  # revision, statement, start
        self._next_report = 0.0
        # The servers' estimates wobble (rows counted against a statistic); a person
        # reading the log wants a figure that only grows.
        self._shown_percent = 0.0

    def started(self, revision: str, statement: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._running = (revision, statement, now)
            self._next_report = now + self.interval
            self._shown_percent = 0.0

    def ended(self) -> None:
        with self._lock:
            running, self._running = self._running, None
        if running is None:
            return
        revision, statement, start = running
        duration = time.monotonic() - start
        if self.slowest is None or duration > self.slowest.duration_s:
            shown = preview(statement, SUMMARY_PREVIEW)
            self.slowest = Slowest(revision, shown, round(duration, 3))

    def report(self, probe: pymysql.Connection[Any], session_id: int) -> None:
        """Log one progress line when one is due, asking the server through ``probe``."""
        with self._lock:
            running = self._running
            now = time.monotonic()
            if running is None or now < self._next_report:
                return
            self._next_report = now + self.interval
        revision, statement, start = running
        elapsed = now - start
        percent = _percent_done(probe, session_id)
        extra: dict[str, Any] = {"revision": revision, "elapsed_s": round(elapsed)}
        shown = preview(statement, PROGRESS_PREVIEW)
        if percent is None or percent <= 0:
            log.info(f"still running after {round(elapsed)} s: {shown}", extra=extra)
            return
        with self._lock:
            percent = self._shown_percent = max(percent, self._shown_percent)
        eta = elapsed * (100 - percent) / percent
        extra |= {"percent": round(percent, 1), "eta_s": round(eta)}
        log.info(f"{percent:.1f}% done, ETA {round(eta)} s: {shown}", extra=extra)


# MariaDB: any session sees its own user's threads; PROGRESS is the percent done of the
# current STAGE out of MAX_STAGE (an ALTER TABLE copy has two: copy, then keys).
_MARIADB = (
    "SELECT ((stage - 1) + LEAST(progress, 100) / 100) / max_stage * 100, 100"
    " FROM information_schema.processlist WHERE id = %s AND max_stage > 0"
)
# MySQL: needs the events_stages_current consumer and SELECT on performance_schema.
_MYSQL = (
    "SELECT s.work_completed, s.work_estimated"
    " FROM performance_schema.events_stages_current AS s"
    " JOIN performance_schema.threads AS t ON t.thread_id = s.thread_id"
    " WHERE t.processlist_id = %s"
)


def _percent_done(probe: pymysql.Connection[Any], session_id: int) -> float | None:
    """The statement's progress in percent, as the server counts it; None if it does not."""
    mariadb = is_mariadb(probe.get_server_info())  # type: ignore[no-untyped-call]
    with suppress(pymysql.err.MySQLError), probe.cursor() as cursor:
        cursor.execute(_MARIADB if mariadb else _MYSQL, (session_id,))
        row = cursor.fetchone()
        if row is not None and row[0] is not None and row[1]:
            done, estimated = float(row[0]), float(row[1])
            return min(100.0, 100.0 * done / estimated) if done > 0 else None
    return None


# Each migrating session's tracker, by the server's session id, for the watchdog's
# thread to report through; a fleet migrates several sessions at once.
_TRACKERS: dict[int, StatementProgress] = {}


@contextmanager
def tracking(progress: StatementProgress | None, session_id: int) -> Iterator[None]:
    if progress is None:
        yield
        return
    _TRACKERS[session_id] = progress
    try:
        yield
    finally:
        _TRACKERS.pop(session_id, None)


def report_through(probe: pymysql.Connection[Any], session_id: int) -> None:
    """Called by the watchdog after the server answered its probe."""
    current = _TRACKERS.get(session_id)
    if current is None:
        return
    try:
        current.report(probe, session_id)
    except Exception:  # a progress line must never stop the watchdog
        log.debug("progress report failed", exc_info=True)
