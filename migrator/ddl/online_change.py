"""MIGRATE_BLOCKING_DDL=online: a statement the server would run blocking writes on a big
table runs through pt-online-schema-change, under the runner's lock, marker and signals.

Before the tool starts, the run marker and a record of the change (table, statement,
the table's definition) are committed (:mod:`migrator.db.online_marker`). The record
is deleted as soon as the tool has ended and its leftovers are gone. A SIGTERM stops
the tool; the runner then removes its triggers and copy, and ends with 143. A SIGKILL
takes the tool down with the runner; the next run finds the record under the lock,
removes the leftovers and starts the revision over, or, when the swap had happened,
does not run the change again (:func:`recover`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from migrator.db import online_marker
from migrator.db.marker import MARKER_TABLE
from migrator.db.online_marker import OnlineChange
from migrator.ddl import online_table
from migrator.ddl.online_tool import (
    CHUNK_TIME,
    CHUNK_TIME_AUTOINC_LOCKED,
    TOOL,
    ToolRun,
    run_tool,
)
from migrator.ddl.statements import Statement
from migrator.errors import BlockingDdlRefused, MigrationFailed
from migrator.process import interrupts
from migrator.process.logs import get_logger
from migrator.process.preview import REFUSAL_PREVIEW, preview
from migrator.settings.target import DatabaseTarget

log = get_logger()

EXECUTOR_SERVER = "server"
EXECUTOR_TOOL = TOOL
WAY_OUT = (
    "run it in a maintenance window with MIGRATE_BLOCKING_DDL=allow, or rewrite it (see the"
    " README's Big tables)"
)
# Where perl and the tool are looked for; nothing else of the runner's environment goes
# to the tool (no MYSQL_PWD or MYSQL_HOST that its client library would read).
TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def executor_for(policy: str, min_rows: int, rows: int | None, blocks_writes: bool | None) -> str:
    """How `plan` says a statement will run under ``policy``."""
    big = (rows or 0) >= min_rows
    return EXECUTOR_TOOL if policy == "online" and big and blocks_writes else EXECUTOR_SERVER


def digest(statement: str) -> str:
    return hashlib.sha256(" ".join(statement.split()).encode()).hexdigest()


@dataclass(frozen=True)
class Changed:
    """One table changed online, for the run's summary."""

    revision: str
    table: str
    duration_s: float


@dataclass
class OnlineExecutor:
    """Runs the statements the guard would otherwise run blocking writes, through the tool."""

    tool: str
    target: DatabaseTarget
    runner: str
    progress_interval: float
    ddl_lock_timeout: int
    resume: OnlineChange | None = None  # a change found swapped in by :func:`recover`
    changed: list[Changed] = field(default_factory=list)
    _probed: bool = False

    def refusal(self, cursor: Any, parsed: Statement) -> str | None:
        """Why this statement cannot run through the tool; None when it can."""
        _, why = online_table.translate(parsed, self.target.database)
        if why is None and parsed.table is not None:
            why = online_table.table_refusal(cursor, self.target.database, parsed.table)
        if why is None and parsed.table is not None:
            left = online_table.existing(
                cursor,
                self.target.database,
                [online_table.copy_name(parsed.table), online_table.old_name(parsed.table)],
            )
            if left:
                why = f"tables named as the tool's own exist ({', '.join(left)}); rename them"
        return why

    def probe(self, cursor: Any) -> None:
        """Exit 4 now, naming what is missing, when the user cannot create triggers."""
        if not self._probed:
            online_table.probe_privileges(cursor)
            self._probed = True

    def skips(self, cursor: Any, statement: str, revision: str) -> bool:
        """Whether ``statement`` is the change a killed run had already swapped in: it is
        then not run again. Any other first statement of that revision is an error."""
        resume = self.resume
        if resume is None or revision != resume.revision:
            return False
        self.resume = None
        if digest(statement) != resume.statement_digest:
            shown = preview(statement, REFUSAL_PREVIEW)
            raise MigrationFailed(
                f"revision {revision}: an interrupted run had changed {resume.table} online"
                f" with `{resume.statement}`, but the revision now runs `{shown}`"
                " first: it was edited since; repair the schema by hand, then use `resolve`"
            )
        online_marker.clear(cursor)
        log.warning(
            f"not running the change of {resume.table} again: the interrupted run had already"
            " swapped it in",
            extra={"revision": revision, "table": resume.table},
        )
        return True

    def run(
        self, cursor: Any, statement: str, parsed: Statement, revision: str, executed: int
    ) -> bool:
        """Run the statement through the tool; True once it is done."""
        assert parsed.table is not None
        table, database = parsed.table, self.target.database
        alter, why = online_table.translate(parsed, database)
        why = why or self.refusal(cursor, parsed)
        if why is not None:
            shown = preview(statement, REFUSAL_PREVIEW)
            raise BlockingDdlRefused(
                f"revision {revision}: `{shown}` would block writes on {table}"
                f" and cannot run through {TOOL}: {why}; MIGRATE_BLOCKING_DDL=online: {WAY_OUT}"
            )
        self.probe(cursor)
        change = OnlineChange(
            revision=revision,
            table=table,
            statement_digest=digest(statement),
            statement=preview(statement, REFUSAL_PREVIEW),
            statements_before=executed,
            definition_digest=online_table.definition_digest(cursor, table),
            swapped=False,
            started_at=datetime.now(UTC),
            runner=self.runner,
        )
        online_marker.record(cursor, change)
        run = ToolRun(
            self.tool,
            self.target,
            table,
            alter,
            revision,
            self.progress_interval,
            set_vars=_tool_settings(cursor),
            chunk_time=_chunk_time(cursor),
        )
        outcome = run_tool(run, {"PATH": TOOL_PATH, "LC_ALL": "C"})
        done = outcome.swapped or online_table.swapped(
            cursor, database, table, change.definition_digest
        )
        removed = self._tidy(cursor, table)
        if done:
            self.changed.append(Changed(revision, table, outcome.duration_s))
            log.info(
                f"changed {table} online in {outcome.duration_s:.1f} s",
                extra={"revision": revision, "table": table, "duration_s": outcome.duration_s},
            )
            return True  # a signal meanwhile is honoured after the revision, as always
        nothing_before = executed == 0
        if nothing_before:
            cursor.execute(f"DELETE FROM {MARKER_TABLE}")  # noqa: S608 - a constant
            cursor.execute("COMMIT")
        left = "" if not removed else f"; removed what it left: {', '.join(removed)}"
        if outcome.exit_code is None:
            log.warning(
                f"stopped the online change of {table} before its swap{left};"
                + (
                    f" nothing of revision {revision} was applied"
                    if nothing_before
                    else f" revision {revision} is partly applied (`status` shows it)"
                ),
                extra={"revision": revision, "table": table},
            )
            interrupts.checkpoint()  # raises Interrupted: exit 130 or 143
        raise MigrationFailed(
            f"revision {revision}: {TOOL} did not change {table} (exit {outcome.exit_code}):"
            f" {outcome.reason()}{left}"
            + ("; nothing of the revision was applied" if nothing_before else "")
        )

    def _tidy(self, cursor: Any, table: str) -> list[str]:
        cursor.execute(f"SET SESSION lock_wait_timeout = {int(self.ddl_lock_timeout)}")
        removed = online_table.remove_leftovers(cursor, self.target.database, table)
        online_marker.clear(cursor)
        return removed


def recover(
    connection: Any, database: str, lock_wait_timeout: int, change: OnlineChange | None
) -> OnlineChange | None:
    """Under the lock: finish with what an interrupted online change left (``change``, the
    record found under the lock). Returns the change when its swap had happened and the
    revision must not run it again."""
    if change is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SET SESSION lock_wait_timeout = {int(lock_wait_timeout)}")
        done = change.swapped or online_table.swapped(
            cursor, database, change.table, change.definition_digest
        )
        removed = online_table.remove_leftovers(cursor, database, change.table)
        what = f"; removed {', '.join(removed)}" if removed else ""
        if change.statements_before > 0:
            online_marker.clear(cursor)
            state = "had swapped it in" if done else "had not finished"
            log.warning(
                f"found the {change.describe()}: it {state}{what}; other statements of the"
                " revision ran before it, so the revision is left to a person (see below)",
                extra={"revision": change.revision, "table": change.table},
            )
            return None
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")  # noqa: S608 - a constant
        if not done:
            online_marker.clear(cursor)  # commits the marker's deletion too
            log.warning(
                f"found the {change.describe()}: it had not finished{what};"
                f" starting revision {change.revision} over",
                extra={"revision": change.revision, "table": change.table},
            )
            return None
        online_marker.mark_swapped(cursor)
        log.warning(
            f"found the {change.describe()}: it had swapped the tables{what}; the change is"
            f" done and revision {change.revision} goes on after it",
            extra={"revision": change.revision, "table": change.table},
        )
        return change


def _tool_settings(cursor: Any) -> tuple[str, ...]:
    """MySQL 9 explains in its TREE format by default, where pt-online-schema-change 3.2
    finds no row estimate: it would then copy the whole table in one chunk, holding its
    rows' locks throughout. The classic format restores the estimate."""
    cursor.execute("SHOW VARIABLES LIKE 'explain\\_format'")
    row = cursor.fetchone()
    if row is not None and str(row[1]).upper() != "TRADITIONAL":
        return ("explain_format=TRADITIONAL",)
    return ()


def _chunk_time(cursor: Any) -> float:
    """Shorter chunks where the copy's INSERT … SELECT takes a table AUTO-INC lock."""
    cursor.execute("SELECT @@innodb_autoinc_lock_mode")
    row = cursor.fetchone()
    return CHUNK_TIME if row is not None and int(row[0]) == 2 else CHUNK_TIME_AUTOINC_LOCKED
