"""Holds an upgrade's DDL on big tables to what MIGRATE_BLOCKING_DDL allows.

Each ALTER TABLE, CREATE INDEX or DROP INDEX on a table with at least
MIGRATE_BLOCKING_DDL_MIN_ROWS rows is first offered to the server with the
clauses that forbid blocking writes (``ALGORITHM=INSTANT``, then
``ALGORITHM=INPLACE, LOCK=NONE`` …). The server either runs it that way, or
refuses before doing any work: so even a wrong plan, or a table that grew
since, cannot make a refused statement block writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrator import online_ddl
from migrator.config import BlockingDdlPolicy
from migrator.errors import BlockingDdlRefused
from migrator.logs import get_logger
from migrator.online_ddl import NOT_BLOCKING
from migrator.plan import BOOKKEEPING, PlannedStatement, fresh_statistics

log = get_logger()

WAY_OUT = (
    "run it in a maintenance window with MIGRATE_BLOCKING_DDL=allow, or rewrite it so the"
    " server can run it in place (for example add the column instead of changing a type,"
    " or use an online schema change tool such as gh-ost)"
)


@dataclass(frozen=True)
class BlockingGuard:
    """The statement hook of an upgrade under MIGRATE_BLOCKING_DDL=warn or refuse."""

    policy: BlockingDdlPolicy
    min_rows: int

    def __call__(self, cursor: Any, statement: str, parameters: Any, revision: str) -> bool:
        if BOOKKEEPING.search(statement):
            return False
        parsed = online_ddl.parse(statement)
        if parsed.kind == "unparsed":
            what = f"revision {revision}: cannot tell which table `{_preview(statement)}` alters"
            if self.policy == "refuse":
                raise BlockingDdlRefused(f"{what}, so it may block writes; {WAY_OUT}")
            log.warning(f"{what}: running it unguarded (MIGRATE_BLOCKING_DDL=warn)")
            return False
        if parsed.alterable is None or parsed.table is None:
            return False
        rows = _table_rows(cursor, parsed.table)
        if rows < self.min_rows:
            return False  # a small table copies in moments: let the server choose
        outcome = online_ddl.run_cheapest(cursor, parsed, NOT_BLOCKING, parameters)
        if outcome.level is not None:
            log.info(
                "ran without blocking writes",
                extra={
                    "revision": revision,
                    "table": parsed.table,
                    "table_rows": rows,
                    "algorithm": outcome.level.algorithm,
                    "lock": outcome.level.lock_level,
                },
            )
            return True
        reason = outcome.refusals[-1] if outcome.refusals else "the server refused"
        what = (
            f"revision {revision}: `{_preview(statement)}` would block writes on"
            f" {parsed.table} (~{rows} rows): {reason}"
        )
        if self.policy == "refuse":
            raise BlockingDdlRefused(f"{what}; MIGRATE_BLOCKING_DDL=refuse: {WAY_OUT}")
        log.warning(f"{what}; running it anyway (MIGRATE_BLOCKING_DDL=warn)")
        return False


def refuse_blocking(statements: list[PlannedStatement], min_rows: int) -> None:
    """Exit 11 naming the first planned statement that would block writes on a big table."""
    for statement in statements:
        big = (statement.table_rows or 0) >= min_rows
        alters = online_ddl.parse(statement.sql).alterable is not None
        # Unknown verdicts pass here: the statement itself is still held to the clauses
        # that forbid blocking writes when it runs.
        if big and alters and statement.blocks_writes is True:
            verdict = f"{statement.algorithm} with LOCK={statement.lock}"
            raise BlockingDdlRefused(
                f"revision {statement.revision}: `{_preview(statement.sql)}` would block writes"
                f" on {statement.table} (~{statement.table_rows} rows, {verdict}); nothing was"
                f" run; MIGRATE_BLOCKING_DDL=refuse: {WAY_OUT}"
            )


def _table_rows(cursor: Any, table: str) -> int:
    fresh_statistics(cursor)
    cursor.execute(
        "SELECT COALESCE(table_rows, 0) FROM information_schema.tables"
        " WHERE table_schema = DATABASE() AND table_name = %s",
        (table,),
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _preview(statement: str) -> str:
    return " ".join(statement.split())[:200]
