"""A statement shortened for a message: its white space folded to one line, cut at a limit.

Each kind of message has its limit, named here: what fits where the statement is shown.
"""

# A failed revision's error: the statement it failed in.
ERROR_PREVIEW = 300
# A refusal (MIGRATE_BLOCKING_DDL, or a statement `plan` cannot run safely).
REFUSAL_PREVIEW = 200
# The slowest statement, in the termination message.
SUMMARY_PREVIEW = 120
# The last column of `plan`'s table.
PLAN_TABLE_PREVIEW = 90
# A progress line of a statement that runs long.
PROGRESS_PREVIEW = 80


def preview(statement: str, limit: int) -> str:
    """``statement`` on one line, cut after ``limit`` characters."""
    return " ".join(statement.split())[:limit]
