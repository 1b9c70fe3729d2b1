"""Applying revisions one at a time, each marked before it starts, stamped when it ends.

Alembic drives the loop (``command.upgrade`` semantics, env.py, one
transaction per revision); this module supplies the steps from a generator,
which is where a run can stop cleanly between revisions, and records a run
marker around each one (see :mod:`migrator.db.marker`). Nothing is written before
env.py has run: the generator's first step is where the session is prepared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pymysql
import sqlalchemy
from alembic.migration import MigrationContext, MigrationInfo
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import RevisionStep
from alembic.script import ScriptDirectory
from pymysql.constants import ER
from sqlalchemy import event

from migrator.alembic_support import environment
from migrator.alembic_support.scripts import (
    USER_CODE_ERRORS,
    alembic_config,
    current_heads,
    describe,
    pending_steps,
    revision_metadata,
)
from migrator.db import marker
from migrator.db.connection import ACCESS_ERRORS, connection_lost, error_code, error_text
from migrator.db.engine import driver_connection
from migrator.db.progress import StatementProgress, tracking
from migrator.db.sessions import describe_ddl_blockers
from migrator.ddl import statements
from migrator.errors import (
    AccessDenied,
    BlockingDdlRefused,
    DatabaseUnreachable,
    MigrationFailed,
    MigratorError,
    ScriptError,
)
from migrator.process import interrupts
from migrator.process.logs import get_logger
from migrator.process.preview import ERROR_PREVIEW, preview
from migrator.settings.target import Project

if TYPE_CHECKING:
    from migrator.db.connection import DriverConnection

log = get_logger()


@dataclass
class _Progress:
    """Which revision is running and what it has executed, for timings, markers and errors."""

    script: ScriptDirectory
    connection: sqlalchemy.Connection
    runner: str
    ddl_lock_timeout: int
    stamped: tuple[str, ...]
    shadow: str | None = None  # the shadow database the revisions run on; None: the live one
    running: RevisionStep | None = None
    started: float = 0.0
    executed: int = 0  # statements the running revision completed
    applied: list[str] = field(default_factory=list)
    refusal: BlockingDdlRefused | None = None  # the guard's, raised by a statement hook

    @property
    def driver(self) -> DriverConnection:
        """The PyMySQL session under ``connection``: the marker is written on it directly."""
        return driver_connection(self.connection)

    def steps(self, steps: Sequence[RevisionStep]) -> Iterator[RevisionStep]:
        # Alembic pulls steps from this generator one at a time, each after the
        # previous revision and its version row were committed: the boundary at
        # which a SIGTERM may stop the run. The first pull comes once env.py has
        # run, so a broken env.py leaves the server as it found it.
        self._prepare()
        for step in steps:
            with interrupts.deferred():
                marker.record(
                    self.driver,
                    revision=step.revision.revision,
                    before=",".join(self.stamped),
                    after=",".join(self._heads_after(step)),
                    runner=self.runner,
                )
                self.running, self.started, self.executed = step, time.monotonic(), 0
                revision = step.revision.revision
                self._log(
                    "applying revision" if step.is_upgrade else "reverting revision",
                    "running revision on the shadow database",
                    revision=revision,
                    description=step.revision.doc,
                    runner=self.runner,
                )
                yield step
                self.running = None

    def _heads_after(self, step: RevisionStep) -> list[str]:
        """alembic_version once ``step`` completes: what `resolve` stamps. On a branched
        history the step's own revisions are not all of it: another branch's head stays."""
        heads = (set(self.stamped) - set(step.from_revisions)) | set(step.to_revisions)
        if len(heads) < 2:
            # Nothing to drop, and the walk below costs a pass over the whole history
            # per revision: quadratic in an upgrade from empty.
            return sorted(heads)
        ancestors = {
            ancestor.revision
            for head in heads
            for ancestor in self.script.revision_map.iterate_revisions(head, "base")
            if ancestor.revision != head
        }
        return sorted(heads - ancestors)

    def _prepare(self) -> None:
        # Without a bound, an ALTER queued behind one idle transaction waits for a
        # year (the server default) while every later query on the table queues
        # behind the ALTER.
        self.connection.exec_driver_sql(
            f"SET SESSION lock_wait_timeout = {int(self.ddl_lock_timeout)}"
        )
        marker.ensure_table(self.connection)

    def count_statement(self, *_: Any) -> None:
        if self.running is not None:
            self.executed += 1

    def on_version_apply(
        self, *, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: Any
    ) -> None:
        if self.refusal is not None:
            raise self.refusal  # before the version row commits: the revision is not done
        # Same transaction as Alembic's version row: both commit, or neither.
        marker.clear_in_transaction(self.driver)
        revision = step.up_revision_id or ""
        self.applied.append(revision)
        self.stamped = tuple(sorted(heads))
        self._log(
            "applied revision" if step.is_upgrade else "reverted revision",
            "ran revision on the shadow database",
            revision=revision,
            description=self.script.get_revision(revision).doc if revision else "",
            duration_s=round(time.monotonic() - self.started, 3),
        )

    def _log(self, live_message: str, shadow_message: str, **fields: Any) -> None:
        if self.shadow is None:
            log.info(live_message, extra=fields)
        else:  # a copy: never to be read as the live database's progress
            log.debug(shadow_message, extra={**fields, "shadow": True, "database": self.shadow})

    def failure(self, error: BaseException) -> MigratorError:
        executed, running = self.executed, self.running
        self.running = None  # what runs from here on is not the revision's
        code = error_code(error)
        if running is None:
            if connection_lost(error):  # between revisions: nothing is half-done
                return DatabaseUnreachable(f"lost the connection: {error_text(error)}")
            if code is not None and code in ACCESS_ERRORS:
                return AccessDenied(f"the migration user lacks a privilege: {error_text(error)}")
            # The marker is written on the driver: its errors are PyMySQL's own.
            if isinstance(error, (sqlalchemy.exc.DBAPIError, pymysql.err.MySQLError)):
                return MigrationFailed(
                    f"preparing the session or updating alembic_version failed: {error_text(error)}"
                )
            return ScriptError(f"migrations/env.py failed: {describe(error)}")
        revision = running.revision.revision
        what = f"revision {revision} ({self.script.get_revision(revision).doc})"
        reason = error_text(error) if code is not None else describe(error)
        statement = getattr(error, "statement", None)
        if statement:
            reason += f" in `{preview(statement, ERROR_PREVIEW)}`"
        if code == ER.LOCK_WAIT_TIMEOUT:  # a metadata (or row) lock, within lock_wait_timeout
            reason += (
                f"; it waited more than MIGRATE_DDL_LOCK_TIMEOUT={self.ddl_lock_timeout}s for a"
                f" metadata lock; sessions that may hold it:"
                f" {describe_ddl_blockers(driver_connection(self.connection))}"
            )
        stamped = ", ".join(self.stamped) or "no revision"
        left = self._marker_left(executed)
        if left is None:
            hint = f"; none of its statements had run: the database is unchanged at {stamped}"
        elif not left.marker_kept:
            hint = (
                f"; its {executed} statement(s) changed only data, which was rolled back:"
                f" nothing was applied and the database is unchanged at {stamped}"
            )
        else:
            verb = "partly applied" if running.is_upgrade else "partly reverted"
            hint = (
                f"; {executed} of its statements had run and MySQL DDL is not transactional,"
                f" so it is {verb} while the database is still stamped at {stamped}:"
                f" {left.remedy}"
            )
        if code is not None and code in ACCESS_ERRORS:
            return AccessDenied(f"{what} needs a privilege the user lacks: {reason}{hint}")
        return MigrationFailed(f"{what} failed: {reason}{hint}")

    def refused(self, refusal: BlockingDdlRefused) -> BlockingDdlRefused:
        """The guard's refusal, with what the refused revision had done by then."""
        executed, self.running = self.executed, None
        stamped = ", ".join(self.stamped) or "no revision"
        left = self._marker_left(executed)
        if left is None or not left.marker_kept:
            return BlockingDdlRefused(
                f"{refusal.message}; none of the revision's statements had run:"
                f" the database is unchanged at {stamped}"
            )
        return BlockingDdlRefused(
            f"{refusal.message}; {executed} of the revision's statements had run, so it is"
            f" partly applied while the database is still stamped at {stamped}: {left.remedy}"
        )

    def _marker_left(self, executed: int) -> _MarkerLeft | None:
        """What the failed revision left behind; None when it certainly changed nothing.

        Its marker is written in the revision's transaction and made durable only by
        the server's implicit commit before a DDL statement. So after a rollback the
        marker is there exactly when something of the revision was committed.
        """
        try:
            self.connection.rollback()
            if executed == 0:
                # A DDL statement that failed (say, on a lock wait) still committed the
                # marker before it started; nothing of the revision ran.
                marker.clear(self.connection)
                self.connection.commit()
                return None
            left = marker.read(driver_connection(self.connection))
        except (sqlalchemy.exc.SQLAlchemyError, pymysql.err.MySQLError):
            # The session is gone: whatever was committed stays, marker included.
            return _MarkerLeft(marker_kept=True, remedy=_UNKNOWN_REMEDY)
        if left is None:
            return _MarkerLeft(marker_kept=False, remedy="")
        return _MarkerLeft(marker_kept=True, remedy=left.remedy())


@dataclass(frozen=True)
class _MarkerLeft:
    marker_kept: bool
    remedy: str


_UNKNOWN_REMEDY = "the next run names the interrupted revision and what to do (`status` shows it)"


class StatementHook(Protocol):
    """Runs one statement of a revision itself (returns True), or leaves it to SQLAlchemy."""

    def __call__(
        self, cursor: Any, statement: str, parameters: Any, revision: str, executed: int = 0
    ) -> bool: ...


def run_steps(
    project: Project,
    script: ScriptDirectory,
    connection: sqlalchemy.Connection,
    destination: str,
    *,
    upgrade: bool,
    runner: str,
    ddl_lock_timeout: int,
    statement_hook: StatementHook | None = None,
    timing: StatementProgress | None = None,
    shadow: str | None = None,
) -> list[str]:
    """Apply revisions up or down to ``destination``; returns the revisions applied.

    ``shadow`` names the shadow database ``connection`` is on, for the logs to say so.

    ``statement_hook`` sees each statement a revision runs, before it runs (with
    parameters, only the DDL ones);
    ``timing`` times each and reports on the long ones.
    """
    progress = _Progress(
        script, connection, runner, ddl_lock_timeout, current_heads(connection), shadow
    )
    config = alembic_config(project, connection=connection)
    config.attributes[environment.ON_VERSION_APPLY] = [progress.on_version_apply]
    config.attributes[environment.TARGET_METADATA] = revision_metadata(project)

    def steps(current: tuple[str, ...], _context: MigrationContext) -> Iterator[RevisionStep]:
        return progress.steps(pending_steps(script, destination, current, upgrade=upgrade))

    def execute(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        if statement_hook is None or progress.running is None:
            return False
        if parameters and statements.parse(statement).kind not in statements.GUARDED:
            # Queries with values are reflection or DML; DDL with values (op.execute of a
            # text() with bound parameters) is still DDL the guard must see.
            return False
        try:
            return statement_hook(
                cursor,
                statement,
                parameters,
                progress.running.revision.revision,
                executed=progress.executed,  # the revision's statements that ran before
            )
        except BlockingDdlRefused as refusal:
            # Kept, so a revision that catches exceptions around its operations cannot
            # swallow the refusal and be stamped as applied (see on_version_apply).
            progress.refusal = refusal
            raise

    def execute_no_params(cursor: Any, statement: str, context: Any) -> bool:
        return execute(cursor, statement, None, context)

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if timing is not None and progress.running is not None:
            timing.started(progress.running.revision.revision, statement)

    def after(*_: Any) -> None:
        progress.count_statement()
        if timing is not None:
            timing.ended()

    # command.upgrade() with one difference: the steps come from a generator.
    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (connection, "before_cursor_execute", before),
        (connection, "after_cursor_execute", after),
        (connection.engine, "do_execute", execute),
        (connection.engine, "do_execute_no_params", execute_no_params),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        with (
            tracking(timing, driver_connection(connection).thread_id()),  # type: ignore[no-untyped-call]
            EnvironmentContext(config, script, fn=steps, destination_rev=destination),
        ):
            script.run_env()
    except BlockingDdlRefused as refused:
        raise progress.refused(refused) from None
    except MigratorError:
        raise
    except USER_CODE_ERRORS as error:  # a revision's sys.exit() is a failed revision too
        raise progress.failure(error) from None
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    return progress.applied
