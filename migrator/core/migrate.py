"""The migrate engine: a database taken up or down to a revision on its locked session."""

from __future__ import annotations

import contextlib
import time

import sqlalchemy
from alembic.script import ScriptDirectory

from migrator.alembic_support.scripts import (
    current_heads,
    load_scripts,
    pending_steps,
    revisions,
)
from migrator.core.apply import run_steps
from migrator.core.inspection import known_or_skipped, refuse_left
from migrator.core.session import LockedSession
from migrator.db.connection import ConnectionSettings
from migrator.db.engine import driver_connection
from migrator.db.online_marker import OnlineChange
from migrator.db.progress import StatementProgress
from migrator.ddl import online_change
from migrator.ddl.guard import BlockingGuard, refuse_blocking, refuse_online
from migrator.ddl.online_change import EXECUTOR_TOOL, OnlineExecutor
from migrator.errors import ConfigError, MigrationFailed, PlanUnavailable
from migrator.process.logs import get_logger
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

log = get_logger()


def downgrade(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    revision: str,
    report: RunReport | None = None,
) -> None:
    """Wait for the database, take the lock and downgrade to ``revision``."""
    script = load_scripts(project)
    with LockedSession.login(connection_settings, options) as session:
        migrate(
            project, script, session, options, revision, report=report or RunReport(), upgrade=False
        )


def migrate(
    project: Project,
    script: ScriptDirectory,
    session: LockedSession,
    options: RunOptions,
    destination: str,
    *,
    report: RunReport,
    upgrade: bool,
) -> None:
    """Take the database on ``session`` up (or down) to ``destination``.

    What the session already read is not read again: a session the fast path locked
    goes straight to the work under the lock. Otherwise the state is judged before the
    lock first, so pods starting on a migrated database never queue behind each other.
    The caller closes the session, which releases the lock.
    """
    started = time.monotonic()
    settings = session.settings
    target = settings.target
    verb = "upgrade" if upgrade else "downgrade"
    with session.sqlalchemy() as connection:
        state = session.locked or session.observe()
        report.source = report.destination = revisions(state.current)
        log.info(
            f"starting {verb}",
            extra={
                "target": target.redacted_url(),
                "current": revisions(state.current),
                "destination": destination,
            },
        )
        if session.locked is None:
            running = refuse_left(
                session.connection,
                settings,
                state.running,
                use_lock=options.use_lock,
                migrating=True,
            )
            current = state.current
            if not known_or_skipped(script, current, project, options, connection, upgrade=upgrade):
                return
            # A revision another runner is applying is not "done".
            if running is None and not pending_steps(script, destination, current, upgrade=upgrade):
                log.info(
                    f"nothing to do: already at {destination}",
                    extra={"revision": revisions(current)},
                )
                return
            state = session.take_lock()
            report.source = report.destination = revisions(state.current)
        current = state.current
        # What an online change killed midway left: removed, or found done.
        left = session.online_change()
        resume = online_change.recover(
            session.connection, target.database, options.ddl_lock_timeout, left
        )
        if left is not None:  # the recovery may have deleted the run marker
            state = session.reread()
        # Under the lock, a marker can only be one that a gone runner left.
        if state.running is not None:
            raise MigrationFailed(f"{state.running.describe()}: {state.running.remedy()}")
        if not known_or_skipped(script, current, project, options, connection, upgrade=upgrade):
            return
        if not pending_steps(script, destination, current, upgrade=upgrade):
            log.info(
                f"nothing to do: already at {destination} after waiting for the lock",
                extra={"revision": revisions(current), "waited_s": round(session.waited, 1)},
            )
            return
        online = _online_executor(settings, options, resume)
        if upgrade and options.blocking_ddl in {"refuse", "online"}:
            _refuse_blocking_plan(
                project,
                script,
                connection,
                settings,
                current,
                destination=destination,
                options=options,
                online=online,
            )
        guard = None
        if options.blocking_ddl != "allow":
            guard = BlockingGuard(
                options.blocking_ddl, options.blocking_ddl_min_rows, online=online
            )
        timing = StatementProgress(options.progress_interval)
        try:
            report.applied = run_steps(
                project,
                script,
                connection,
                destination,
                upgrade=upgrade,
                runner=options.runner,
                ddl_lock_timeout=options.ddl_lock_timeout,
                statement_hook=guard,
                timing=timing,
            )
        finally:
            # Best effort: after a lost connection this fails, and must not
            # replace the error that explains the failure.
            report.slowest = timing.slowest
            if online is not None:
                report.online = [(c.revision, c.table, c.duration_s) for c in online.changed]
            with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):
                report.destination = revisions(current_heads(connection))
    log.info(
        f"{verb} complete",
        extra={
            "from": report.source,
            "to": report.destination,
            "applied": len(report.applied),
            "duration_s": round(time.monotonic() - started, 3),
        },
    )


def _online_executor(
    connection_settings: ConnectionSettings, options: RunOptions, resume: OnlineChange | None
) -> OnlineExecutor | None:
    if options.blocking_ddl != "online":
        return None
    if options.online_tool is None:
        raise ConfigError("MIGRATE_BLOCKING_DDL=online needs pt-online-schema-change")
    return OnlineExecutor(
        options.online_tool,
        connection_settings.target,
        options.runner,
        options.progress_interval,
        options.ddl_lock_timeout,
        resume=resume,
    )


def _refuse_blocking_plan(
    project: Project,
    script: ScriptDirectory,
    connection: sqlalchemy.Connection,
    connection_settings: ConnectionSettings,
    current: tuple[str, ...],
    *,
    destination: str,
    options: RunOptions,
    online: OnlineExecutor | None = None,
) -> None:
    """Exit 11 before anything runs when a pending statement would block writes on a big
    table (under online: when the tool cannot run it), measured on a shadow copy, and
    exit 4 when the tool would lack a privilege; the guard still checks each statement
    as it runs. ``current`` is alembic_version as read under the lock."""
    # Imported here: only the refuse and online policies measure beforehand, and an
    # upgrade under the others should not pay for loading plan's and the shadow's code.
    from migrator.autogenerate.shadow import shadow_database
    from migrator.core.plan import LiveTables, measure

    driver = driver_connection(connection)
    live = LiveTables.read(driver, versions=current)
    if not any(size.rows >= options.blocking_ddl_min_rows for size in live.sizes.values()):
        return  # no table is big enough to matter: nothing to measure
    policy = f"MIGRATE_BLOCKING_DDL={options.blocking_ddl}"
    with shadow_database(connection_settings) as shadow:
        statements = None
        if shadow is None:
            log.warning(
                f"{policy} cannot measure the revisions beforehand without the shadow database"
                " privilege: each statement is still held to it before it blocks writes, but a"
                " revision may then stop partway"
            )
        else:
            try:
                statements = measure(
                    project, script, live, destination, shadow=shadow, options=options
                )
            except PlanUnavailable as unavailable:
                log.warning(
                    f"{policy} cannot measure the revisions beforehand: {unavailable.message};"
                    " each statement is still held to it before it blocks writes, but a"
                    " revision may then stop partway"
                )
    if online is None:
        if statements is not None:
            refuse_blocking(statements, options.blocking_ddl_min_rows)
        return
    with driver.cursor() as cursor:
        if statements is not None:
            refuse_online(cursor, online, statements, options.blocking_ddl_min_rows)
        if statements is None or any(s.executor == EXECUTOR_TOOL for s in statements):
            online.probe(cursor)  # before any work: exit 4 naming what is missing
