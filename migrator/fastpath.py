"""The no-op fast path: decide "already at head" without SQLAlchemy, Alembic or revision imports.

An init container runs at every pod start, and the database is nearly always
at head already. The head is read from the revision files as text; anything
unusual (a value that is not a plain literal, branch labels, dependencies,
several heads, a database at another revision) answers "don't know", and the
normal path decides. The only answer acted on is "certainly at head"; the lock
taken on the way is the one the normal path would take, handed on to it.
"""

from __future__ import annotations

import ast
import os
import re
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from migrator.database import connection_lost
from migrator.logs import get_logger

if TYPE_CHECKING:
    from migrator.database import DriverConnection
    from migrator.lock import MigrationLock

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
    versions = migrations_dir / "versions"
    if not versions.is_dir():
        return None
    with os.scandir(versions) as entries:
        files = [e.path for e in entries if _REVISION_FILE.fullmatch(e.name) and e.is_file()]
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in files:
        fields = _fields(Path(path).read_text(encoding="utf-8", errors="replace"))
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


def current_revisions(connection: DriverConnection) -> tuple[str, ...] | None:
    """alembic_version's rows; None when they cannot be read (no table yet, or anything else).

    The read's transaction is ended here: under REPEATABLE READ the connection would
    otherwise keep this snapshot, and the full path, which reuses the connection, must
    see what other runners commit later.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version_num FROM alembic_version")
            return tuple(sorted(row[0] for row in cursor.fetchall()))
    except pymysql.err.MySQLError:
        return None
    finally:
        with suppress(pymysql.err.MySQLError):  # a lost connection has no transaction left
            connection.rollback()


def at_head_or_take_lock(
    migrations_dir: Path, connection: DriverConnection, lock: MigrationLock | None = None
) -> str | None:
    """The head revision when the database is certainly at it, else None (use the full path).

    With ``lock``, a database found behind head is read again once the lock is held:
    when another runner held it, that runner has usually just migrated the database,
    and this one is done without loading SQLAlchemy, Alembic or a revision. When the
    answer is None, the lock may be held (``lock.held``) for the full path to migrate
    under, on this connection; if the connection was lost, neither is of use any more.
    """
    history = static_history(migrations_dir)
    if history is None:
        return None
    head, known = history
    current = current_revisions(connection)
    if current == (head,):
        log.info("nothing to do: already at head", extra={"revision": head})
        return head
    # A revision these files do not know (a rollback to an older release) is the
    # full path's to judge, and without the lock, as pods starting then must not queue.
    if lock is None or not connection.open or not set(current or ()) <= known:
        return None
    log.info(
        "the database is behind head: taking the migration lock",
        extra={"head": head, "current": ",".join(current or ()) or "base"},
    )
    try:
        waited = lock.acquire()
    except pymysql.err.MySQLError as error:
        if not connection_lost(error):
            raise
        return None  # the session was lost while waiting (a failover): log in afresh
    if current_revisions(connection) != (head,):
        return None
    lock.release()
    log.info(
        "nothing to do: already at head after waiting for the lock",
        extra={"revision": head, "waited_s": round(waited, 1)},
    )
    return head
