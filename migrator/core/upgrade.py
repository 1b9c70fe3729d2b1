"""Bringing one database up to a revision, from the login through the fast path to the full path.

The common case, a database already at head, is decided by :mod:`migrator.core.fastpath`
without SQLAlchemy, Alembic or a revision import. Otherwise the session
(:class:`migrator.core.session.LockedSession`: the login, the lock the fast path
took, and what it read under it) is handed to :func:`migrator.core.migrate.migrate`,
which imports Alembic. A fleet calls :func:`upgrade_database` once per shard, from
several threads, with the project's scripts read once for all of them.
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing
from typing import TYPE_CHECKING

from migrator.core.fastpath import all_compile, at_head_or_take_lock, static_history
from migrator.core.session import LockedSession
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
    with LockedSession.login(database, options) as session:  # the run's one session
        if scripts.history is not None:
            with session_errors(database.target):
                head = at_head_or_take_lock(
                    scripts.history,
                    session,
                    noop_level=logging.DEBUG if quiet else logging.INFO,
                    before_lock=scripts.check_before_lock,
                )
            if head is not None:
                report.source = report.destination = head
                _schema_as_left(session.connection, database, options)
                return
        interrupts.checkpoint()  # a lock wait the signal cut ends here, not in a new login
        script, project = scripts.script(), scripts.project
        from migrator.core.migrate import migrate

        if session.alive:
            # The full path goes on with the session, the lock and what was read under it.
            trusted = _schema_as_left(session.connection, database, options)
            migrate(project, script, session, options, revision, report=report, upgrade=True)
        else:
            # The session was lost meanwhile (a failover): log in and lock afresh.
            trusted = False
            with LockedSession.login(database, options) as fresh:
                migrate(project, script, fresh, options, revision, report=report, upgrade=True)
        if trusted and report.applied:
            _store_fingerprint(database)


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
