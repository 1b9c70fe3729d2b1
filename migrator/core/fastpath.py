"""The no-op fast path: decide "already at head" without SQLAlchemy, Alembic or revision imports.

An init container runs at every pod start, and the database is nearly always
at head already. The head is read from the revision files as text; anything
unusual (a value that is not a plain literal, branch labels, dependencies,
several heads, a database at another revision) answers "don't know", and the
normal path decides. The only answer acted on is "certainly at head"; the lock
taken on the way is the one the normal path would take, handed on to it. A run
marker (a revision being applied, or left half-applied) is read in the same
round trip as the version: with one, the database is never "at head".
"""

from __future__ import annotations

import ast
import logging
import os
import re
from collections.abc import Callable
from contextlib import suppress
from importlib.machinery import SourceFileLoader
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from migrator.db.connection import connection_lost
from migrator.errors import MigrationFailed
from migrator.process.logs import get_logger

if TYPE_CHECKING:
    from migrator.core.session import LockedSession, State

log = get_logger()

# Alembic's own filter for revision files (alembic.script.base): no __init__, no editor locks.
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")
_ASSIGNMENT = re.compile(
    rf"^(?P<name>{'|'.join(_FIELDS)})\s*(?::[^=\n]*)?=\s*(?P<value>.+?)\s*(?:#.*)?$", re.MULTILINE
)
# Nearly every value is a plain quoted id or None; literal_eval reads the rest.
_PLAIN_STRING = re.compile(r"""(["'])([^"'\\]*)\1""")


def static_history(migrations_dir: Path) -> tuple[str, frozenset[str]] | None:
    """The single head and every revision id, read from the files as text; None when unsure."""
    texts = _revision_texts(migrations_dir / "versions")
    if texts is None:
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for text in texts:
        fields = _fields(text)
        if fields is None:
            return None
        revision, down, branch_labels, depends_on = fields
        if not isinstance(revision, str) or branch_labels is not None or depends_on is not None:
            return None
        downs = (down,) if isinstance(down, str) else down or ()
        if not isinstance(downs, tuple) or not all(isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        parents.update(downs)
    if not parents <= revisions:  # a down_revision pointing nowhere: let Alembic say so
        return None
    heads = revisions - parents
    return (heads.pop(), frozenset(revisions)) if len(heads) == 1 else None


def all_compile(migrations_dir: Path) -> bool:
    """Whether Python compiles every revision file: a check for typos that imports nothing
    (False only for a file that certainly fails; unreadable files are the full load's).

    Through the import system's own loader, so that the bytecode cache serves both this
    check and Alembic's load that follows: the image's precompiled files are read, not
    compiled, and a checkout's are compiled once.
    """
    versions = migrations_dir / "versions"
    try:
        with os.scandir(versions) as entries:
            files = [e.path for e in entries if _REVISION_FILE.fullmatch(e.name) and e.is_file()]
        for path in files:
            SourceFileLoader("revision", path).get_code("revision")
    except OSError:
        return True
    except (SyntaxError, ValueError):  # ValueError: a null byte in the source
        return False
    return True


def _revision_texts(versions: Path) -> list[str] | None:
    """The text of every revision file; None when a file or the folder cannot be read
    (missing, unreadable, a name too long): the full path says which, with its exit code."""
    try:
        with os.scandir(versions) as entries:
            files = [e.path for e in entries if _REVISION_FILE.fullmatch(e.name) and e.is_file()]
        return [Path(path).read_text(encoding="utf-8", errors="replace") for path in files]
    except OSError:
        return None


def _fields(text: str) -> tuple[Any, ...] | None:
    values: dict[str, Any] = {}
    for match in _ASSIGNMENT.finditer(text):
        name, value = match.group("name", "value")
        if name in values:
            return None
        values[name] = _literal(value)
    if "revision" not in values or _UNREADABLE in values.values():
        return None
    return tuple(values.get(name) for name in _FIELDS)


_UNREADABLE = object()


def _literal(text: str) -> Any:
    if text == "None":
        return None
    if plain := _PLAIN_STRING.fullmatch(text):
        return plain.group(2)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):  # e.g. a tuple spread over several lines
        return _UNREADABLE


def at_head_or_take_lock(
    history: tuple[str, frozenset[str]],
    session: LockedSession,
    *,
    noop_level: int = logging.INFO,
    before_lock: Callable[[], None] = lambda: None,
) -> str | None:
    """The head revision when the database is certainly at it, else None (use the full path).

    With a lock on ``session``, a database found behind head is read again once the
    lock is held: when another runner held it, that runner has usually just migrated
    the database, and this one is done without loading SQLAlchemy, Alembic or a
    revision. When the answer is None, the session may hold the lock and what was read
    under it, for the full path to migrate with; if the session was lost, neither is of
    use any more. The session, not this function, releases the lock.

    Raises MigrationFailed when a revision was left partly applied: a marker that is
    still there once this runner holds the lock belongs to a runner that is gone.

    ``history`` is what :func:`static_history` read from the files; ``noop_level`` the
    level of the line saying that there was nothing to do; ``before_lock`` runs once the
    database is known to be behind head, before the lock is taken (it may raise).
    """
    head, known = history
    seen = _quietly(session, session.observe)
    current = seen.current if seen is not None else ()
    if current == (head,) and seen is not None and seen.running is None:
        log.log(noop_level, "nothing to do: already at head", extra={"revision": head})
        return head
    # A revision these files do not know (a rollback to an older release) is the
    # full path's to judge, and without the lock, as pods starting then must not queue.
    if session.lock is None or not session.alive or not set(current) <= known:
        return None
    before_lock()
    log.info(
        "the database is behind head: taking the migration lock"
        if seen is None or seen.running is None
        else "a revision is being applied: taking the migration lock",
        extra={"head": head, "current": ",".join(current) or "base"},
    )
    try:
        waited = session.acquire()
    except pymysql.err.MySQLError as error:
        if not connection_lost(error):
            raise
        return None  # the session was lost while waiting (a failover): log in afresh
    locked = _quietly(session, session.take_lock)
    # Unreadable: the full path reads again, and says what went wrong. A marker with an
    # online change left behind: the full path finishes with it.
    if locked is not None and locked.running is not None and session.online_change() is None:
        raise MigrationFailed(f"{locked.running.describe()}: {locked.running.remedy()}")
    if locked is None or locked.running is not None or locked.current != (head,):
        return None
    log.log(
        noop_level,
        "nothing to do: already at head after waiting for the lock",
        extra={"revision": head, "waited_s": round(waited, 1)},
    )
    return head


def _quietly(session: LockedSession, read: Callable[[], State]) -> State | None:
    """The state, or None when it cannot be read: the full path reads it then, and fails
    with the reason if it must. The read's transaction is ended either way."""
    try:
        return read()
    except pymysql.err.MySQLError:
        with suppress(pymysql.err.MySQLError):  # a lost connection has no transaction left
            session.connection.rollback()
        return None
