"""Bringing one database up to a revision, from the login through the fast path to the full path.

The common case, a database already at head, is decided by :mod:`migrator.core.fastpath`
without SQLAlchemy, Alembic or a revision import. Otherwise the session and the
migration lock the fast path took are handed to :func:`migrator.core.runner.upgrade`,
which imports Alembic. A fleet calls :func:`upgrade_database` once per shard, from
several threads, with the project's scripts read once for all of them.
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing
from typing import TYPE_CHECKING

from migrator.core.fastpath import all_compile, at_head_or_take_lock, static_history
from migrator.db.connection import ConnectionSettings, session_errors, wait_for_database
from migrator.process import interrupts
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from migrator.db.connection import DriverConnection


class ProjectScripts:
    """One project's revision scripts, read once and shared by every shard that needs them.

    The head as text first (enough for a database at head); Alembic's
    ScriptDirectory only when some database is not, and then once.
    """

    def __init__(self, project: Project, revision: str) -> None:
        self.project = project
        # Only `head` can be decided from the files' text.
        self.history = static_history(project.migrations_dir) if revision == "head" else None
        self._script: ScriptDirectory | None = None
        self._compiles: bool | None = None  # whether every revision file compiles
        self._loading = threading.Lock()
        if self.history is None:
            # Read before any login: a broken directory or revision is reported with
            # the server untouched.
            self.script()

    def check_before_lock(self) -> None:
        """Raise ScriptError for a revision file with a syntax error, before a database
        behind head is locked: a typo is exit 9 at once, not after a wait for the lock.
        Only compiled, so runners that then find the database at head import nothing;
        the full load, which every write waits for, catches the rest and words the error.
        """
        with self._loading:  # once for all the shards of a fleet
            if self._compiles is None:
                self._compiles = self._script is not None or all_compile(
                    self.project.migrations_dir
                )
        if not self._compiles:
            self.script()

    def script(self) -> ScriptDirectory:
        with self._loading:
            if self._script is None:
                from migrator.alembic_support.scripts import load_scripts

                self._script = load_scripts(self.project)
            return self._script


def upgrade_database(
    scripts: ProjectScripts,
    database: ConnectionSettings,
    options: RunOptions,
    revision: str,
    report: RunReport,
    *,
    quiet: bool = False,
) -> None:
    """Log in, and upgrade the database to ``revision`` unless it is certainly there.

    ``quiet`` logs a database found at head at debug level: a fleet's thousand
    shards at head would otherwise be a thousand lines saying nothing happened.
    """
    login = wait_for_database(database)  # the run's one session, reused by the full path
    lock = None
    if options.use_lock:
        from migrator.db.lock import MigrationLock

        lock = MigrationLock(
            login, database.target.database, options.lock_timeout, database.connect_timeout
        )
    try:
        if scripts.history is not None:
            with session_errors(database.target):
                head = at_head_or_take_lock(
                    scripts.history,
                    login,
                    lock,
                    noop_level=logging.DEBUG if quiet else logging.INFO,
                    before_lock=scripts.check_before_lock,
                )
            if head is not None:
                report.source = report.destination = head
                _schema_as_left(login, database, options)
                return
        interrupts.checkpoint()  # a lock wait the signal cut ends here, not in a new login
        script = scripts.script()
        from migrator.core import runner

        # The full path goes on with the session and the lock the fast path took;
        # if the session was lost meanwhile, it logs in and locks afresh.
        alive = login.open
        trusted = alive and _schema_as_left(login, database, options)
        runner.upgrade(
            scripts.project,
            database,
            options,
            revision,
            report,
            login=login if alive else None,
            lock=lock if alive and lock is not None and lock.held else None,
            script=script,
        )
        if trusted and report.applied:
            _store_fingerprint(database)
    finally:
        # On every way out (also a broken script before the full path took them
        # over); no-ops when the full path already released and closed them.
        with interrupts.held():
            if lock is not None and login.open:
                lock.release()
            if login.open:
                login.close()


def _schema_as_left(
    login: DriverConnection, database: ConnectionSettings, options: RunOptions
) -> bool:
    """MIGRATE_DRIFT before anything runs: whether the schema is as the runner left it
    (warns, or raises SchemaDrift under `fail`, when it is not). Imports nothing when off."""
    if options.drift == "off":
        return False
    from migrator.drift.pod_start import check_at_start

    with session_errors(database.target):
        return check_at_start(login, database.target.database, options.drift)


def _store_fingerprint(database: ConnectionSettings) -> None:
    """After revisions ran on a schema known to be the migrations' own, store its new print."""
    from migrator.drift.pod_start import store_after_migration

    with closing(wait_for_database(database)) as connection, session_errors(database.target):
        store_after_migration(connection, database.target.database)
