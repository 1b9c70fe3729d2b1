"""For the tests of MIGRATE_BLOCKING_DDL=online: a writer that times its inserts, the tool's
processes, and what pt-online-schema-change may leave in a database."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from tests.support.polling import wait_until
from tests.support.servers import ScratchDatabase
from tests.support.unavailable import unavailable

TOOL = "pt-online-schema-change"
DEADLOCK = 1213


def require_tool() -> None:
    if shutil.which(TOOL) is None:
        unavailable(f"{TOOL} is not installed (apt-get install percona-toolkit libdbd-mysql-perl)")


def allow_triggers(database: ScratchDatabase) -> None:
    """What the README's Grants say `online` needs beyond the database: with binary logging
    on, creating a trigger takes SUPER (or log_bin_trust_function_creators=1, a global the
    shared test server must not change)."""
    assert database.app_user is not None
    if database.server.execute("SELECT @@log_bin")[0][0]:
        database.server.execute(f"GRANT SUPER ON *.* TO '{database.app_user[0]}'@'%'")


@dataclass
class Writer:
    """Inserts into a table in a loop; the longest gap between two inserts, and their count."""

    longest: float = 0.0
    inserted: int = 0
    deadlocks: int = 0  # inserts the server rolled back and the writer retried
    longest_ended: float = 0.0  # when the longest wait ended (epoch seconds), for messages
    failed: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)


@contextmanager
def writer(database: ScratchDatabase, table: str = "big") -> Iterator[Writer]:
    state = Writer()

    def write() -> None:
        connection = database.server.connect(database.name)
        last = time.monotonic()
        try:
            with connection.cursor() as cursor:
                while not state.stop.is_set():
                    try:
                        cursor.execute(f"INSERT INTO {table} (a, b) VALUES (-1, 'w')")
                    except pymysql.err.OperationalError as error:
                        # The tool's triggers and its copy may deadlock a write, which the
                        # server rolls back: an application retries it, as here (the gap
                        # until it succeeds counts as the insert's time).
                        if error.args[0] != DEADLOCK:
                            raise
                        state.deadlocks += 1
                        continue
                    now = time.monotonic()
                    if now - last > state.longest:
                        state.longest, state.longest_ended = now - last, time.time()
                    last = now
                    state.inserted += 1
                    time.sleep(0.01)
        except pymysql.err.MySQLError as error:
            state.failed = str(error)
        finally:
            connection.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while state.inserted < 20:  # writing before the revision starts
        assert time.monotonic() < deadline, "the writer did not start"
        assert state.failed is None, state.failed
        time.sleep(0.05)
    try:
        yield state
    finally:
        state.stop.set()
        thread.join(timeout=120)
    assert state.failed is None, state.failed


def tool_processes() -> dict[int, list[str]]:
    """Every running pt-online-schema-change: pid and its argument list, as `ps` shows it."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv if word]
        if any(word.endswith(TOOL) for word in words[:2]):
            found[int(entry.name)] = words
    return found


def children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry.name))
    return children


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, D, T, Z, ...); None once it is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def freeze(pid: int) -> bool:
    """SIGSTOP ``pid`` and wait until it is stopped. False when it was exiting instead: a
    process that has ended but is not yet reaped takes the signal and goes on ending."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    wait_until(
        lambda: process_state(pid) in {"T", "t", "Z", "X", None},
        timeout=30,
        message=f"process {pid} did not stop",
    )
    return process_state(pid) in {"T", "t"}


def leftovers(database: ScratchDatabase, table: str = "big") -> list[str]:
    """The tool's triggers and tables left in the database."""
    triggers = database.server.execute(
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s",
        database.name,
    )
    tables = {f"_{table}_new", f"_{table}_old"} & database.tables()
    return sorted([str(row[0]) for row in triggers] + list(tables))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
