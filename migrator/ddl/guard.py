"""Holds an upgrade's DDL on big tables to what MIGRATE_BLOCKING_DDL allows.

Each ALTER TABLE, CREATE INDEX or DROP INDEX on a table with at least
MIGRATE_BLOCKING_DDL_MIN_ROWS rows is first offered to the server with the
clauses that forbid blocking writes (``ALGORITHM=INSTANT``, then
``ALGORITHM=INPLACE, LOCK=NONE`` …). The server either runs it that way, or
refuses before doing any work: so even a wrong plan, or a table that grew
since, cannot make a refused statement block writes. ALGORITHM and LOCK
clauses the revision wrote are the author's: the server takes the last of
each, so the guard offers only levels they allow, and a statement they alone
hold to not blocking writes runs as written. What the guard cannot take
apart (see :func:`migrator.ddl.statements.parse`) is refused under ``refuse``.
Under ``online``, what the server would run blocking writes goes to
pt-online-schema-change instead (:mod:`migrator.ddl.online_change`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import ER

from migrator.db.marker import BOOKKEEPING_TABLES
from migrator.ddl import cheapest, statements
from migrator.ddl.levels import NOT_BLOCKING
from migrator.ddl.online_change import EXECUTOR_TOOL, OnlineExecutor
from migrator.ddl.online_change import WAY_OUT as ONLINE_WAY_OUT
from migrator.ddl.planned import PlannedStatement, fresh_statistics
from migrator.ddl.statements import Statement
from migrator.errors import BlockingDdlRefused
from migrator.process.logs import get_logger
from migrator.process.preview import REFUSAL_PREVIEW, preview
from migrator.settings.config import BlockingDdlPolicy

log = get_logger()

WAY_OUT = (
    "run it in a maintenance window with MIGRATE_BLOCKING_DDL=allow, or rewrite it so the"
    " server can run it in place (for example add the column instead of changing a type,"
    " or use an online schema change tool such as gh-ost)"
)


@dataclass(frozen=True)
class BlockingGuard:
    """The statement hook of an upgrade under MIGRATE_BLOCKING_DDL=warn, refuse or online."""

    policy: BlockingDdlPolicy
    min_rows: int
    online: OnlineExecutor | None = None  # under online: what runs the statements it takes

    def __call__(  # noqa: PLR0911 - one return for each way a statement goes
        self, cursor: Any, statement: str, parameters: Any, revision: str, executed: int = 0
    ) -> bool:
        if self.online is not None and self.online.skips(cursor, statement, revision):
            return True
        parsed = statements.parse(statement)
        if parsed.kind == "unparsed":
            return self._cannot_take_apart(revision, statement, str(parsed.reason))
        if parsed.alterable is None or parsed.table is None or parsed.table in BOOKKEEPING_TABLES:
            return False
        rows = _table_rows(cursor, parsed.schema, parsed.table)
        if rows < self.min_rows:
            return False  # a small table copies in moments: let the server choose
        if parsed.forbids_blocking:
            # The author's own clauses hold it: the server runs it without blocking
            # writes, or refuses it before any work (the revision's own error).
            cursor.execute(statement, parameters)
            algorithm, lock = parsed.algorithm, parsed.lock or "NONE"
        else:
            try:
                outcome = cheapest.run_cheapest(cursor, parsed, NOT_BLOCKING, parameters)
            except pymysql.err.ProgrammingError as error:
                if error.args[0] != ER.PARSE_ERROR:
                    raise
                # Partitioning, for one, takes no ALGORITHM/LOCK clause before it; nothing ran.
                reason = "the server cannot read it with an ALGORITHM/LOCK clause"
                return self._cannot_take_apart(revision, statement, reason)
            if outcome.level is None:
                if self.online is not None:
                    return self.online.run(cursor, statement, parsed, revision, executed)
                return self._would_block(revision, statement, parsed, rows, outcome.refusals)
            algorithm, lock = outcome.level.algorithm, outcome.level.lock_level
        log.info(
            "ran without blocking writes",
            extra={
                "revision": revision,
                "table": parsed.table,
                "table_rows": rows,
                "algorithm": algorithm,
                "lock": lock,
            },
        )
        return True

    def _would_block(
        self,
        revision: str,
        statement: str,
        parsed: Statement,
        rows: int,
        refusals: tuple[str, ...],
    ) -> bool:
        reason = refusals[-1] if refusals else f"the revision itself asks for {parsed.clauses}"
        table = f"{parsed.schema}.{parsed.table}" if parsed.schema else parsed.table
        what = (
            f"revision {revision}: `{preview(statement, REFUSAL_PREVIEW)}` would block writes on"
            f" {table} (~{rows} rows): {reason}"
        )
        if self.policy == "refuse":
            raise BlockingDdlRefused(f"{what}; MIGRATE_BLOCKING_DDL=refuse: {WAY_OUT}")
        log.warning(f"{what}; running it anyway (MIGRATE_BLOCKING_DDL=warn)")
        return False

    def _cannot_take_apart(self, revision: str, statement: str, reason: str) -> bool:
        shown = preview(statement, REFUSAL_PREVIEW)
        what = f"revision {revision}: cannot take `{shown}` apart ({reason})"
        if self.policy == "refuse":
            raise BlockingDdlRefused(f"{what}, so it may block writes; {WAY_OUT}")
        log.warning(f"{what}: running it unguarded (MIGRATE_BLOCKING_DDL={self.policy})")
        return False


def refuse_blocking(planned: list[PlannedStatement], min_rows: int) -> None:
    """Exit 11 naming the first planned statement that would block writes on a big table,
    or that cannot be taken apart (the guard would refuse it as it runs)."""
    for statement in planned:
        parsed = statements.parse(statement.sql)
        shown = preview(statement.sql, REFUSAL_PREVIEW)
        if parsed.kind == "unparsed":
            raise BlockingDdlRefused(
                f"revision {statement.revision}: cannot take `{shown}` apart"
                f" ({parsed.reason}), so it may block writes; nothing was run;"
                f" MIGRATE_BLOCKING_DDL=refuse: {WAY_OUT}"
            )
        big = (statement.table_rows or 0) >= min_rows
        # Unknown verdicts pass here: the statement itself is still held to the clauses
        # that forbid blocking writes when it runs.
        if big and parsed.alterable is not None and statement.blocks_writes is True:
            verdict = f"{statement.algorithm} with LOCK={statement.lock}"
            raise BlockingDdlRefused(
                f"revision {statement.revision}: `{shown}` would block writes"
                f" on {statement.table} (~{statement.table_rows} rows, {verdict}); nothing was"
                f" run; MIGRATE_BLOCKING_DDL=refuse: {WAY_OUT}"
            )


def _table_rows(cursor: Any, schema: str | None, table: str) -> int:
    """The table's estimated rows, in the database its statement names or the session's."""
    fresh_statistics(cursor)
    cursor.execute(
        "SELECT COALESCE(table_rows, 0) FROM information_schema.tables"
        " WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s",
        (schema, table),
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def refuse_online(
    cursor: Any, online: OnlineExecutor, planned: list[PlannedStatement], min_rows: int
) -> None:
    """Exit 11 naming the first planned statement that must go through the tool and that
    the tool cannot run safely, before anything runs."""
    for statement in planned:
        if statement.executor != EXECUTOR_TOOL or (statement.table_rows or 0) < min_rows:
            continue
        why = online.refusal(cursor, statements.parse(statement.sql))
        if why is not None:
            shown = preview(statement.sql, REFUSAL_PREVIEW)
            raise BlockingDdlRefused(
                f"revision {statement.revision}: `{shown}` would block writes"
                f" on {statement.table} (~{statement.table_rows} rows) and cannot run through"
                f" {EXECUTOR_TOOL}: {why}; nothing was run; MIGRATE_BLOCKING_DDL=online:"
                f" {ONLINE_WAY_OUT}"
            )
