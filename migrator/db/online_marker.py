"""The run marker's record of an online change: which table pt-online-schema-change is changing.

pt-online-schema-change works on its own sessions, beside the runner's. A runner
killed while it runs leaves the tool's triggers and its copy of the table behind,
or a table already swapped for the changed copy. This row, written and committed
(with the run marker) before the tool starts and deleted as soon as it ends, is
how the next run knows which of these it is looking at. One row at most, in a
table of the runner's own, created the first time a change runs online.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymysql
from pymysql.constants import ER

ONLINE_TABLE = "migrator_online_change"

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {ONLINE_TABLE} (
    id TINYINT NOT NULL,
    revision VARCHAR(64) NOT NULL,
    table_name VARCHAR(64) NOT NULL,
    statement_digest CHAR(64) NOT NULL,
    statement VARCHAR(1000) NOT NULL,
    statements_before INT NOT NULL,
    definition_digest CHAR(64) NOT NULL,
    swapped TINYINT NOT NULL DEFAULT 0,
    started_at DATETIME(6) NOT NULL,
    runner VARCHAR(255) NOT NULL,
    PRIMARY KEY (id)
)"""

_COLUMNS = (
    "revision, table_name, statement_digest, statement, statements_before,"
    " definition_digest, swapped, started_at, runner"
)


@dataclass(frozen=True)
class OnlineChange:
    revision: str  # the revision whose statement runs through the tool
    table: str
    statement_digest: str  # sha256 of the statement as the revision ran it
    statement: str  # a preview, for messages
    statements_before: int  # statements the revision had run before this one
    definition_digest: str  # sha256 of the table's SHOW CREATE TABLE before the change
    swapped: bool  # a later run found the swap done and will not run it again
    started_at: datetime
    runner: str

    def describe(self) -> str:
        state = "swapped in, not yet confirmed" if self.swapped else "in progress"
        return (
            f"online change of table {self.table} by pt-online-schema-change ({state}):"
            f" revision {self.revision}, started {self.started_at:%Y-%m-%d %H:%M:%S} UTC"
            f" by {self.runner}"
        )


def read(connection: Any) -> OnlineChange | None:
    """The online change recorded in the session's database; None when there is none.
    Ends its transaction."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_COLUMNS} FROM {ONLINE_TABLE}")  # noqa: S608 - constants
            row = cursor.fetchone()
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        row = None
    connection.commit()
    if row is None:
        return None
    revision, table, digest, statement, before, definition, swapped, started, runner = row
    return OnlineChange(
        str(revision),
        str(table),
        str(digest),
        str(statement),
        int(before),
        str(definition),
        bool(swapped),
        started,
        str(runner),
    )


def record(cursor: Any, change: OnlineChange) -> None:
    """Write the row on the migration session and commit it, with the run marker and
    whatever the revision ran before: the tool's work is durable from its first trigger,
    so the record must be too. Creating the table commits as well, as DDL does."""
    cursor.execute(_CREATE_TABLE)
    cursor.execute(
        f"REPLACE INTO {ONLINE_TABLE} (id, {_COLUMNS})"  # noqa: S608 - constants
        " VALUES (1, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6), %s)",
        (
            change.revision,
            change.table,
            change.statement_digest,
            change.statement[:1000],
            change.statements_before,
            change.definition_digest,
            int(change.swapped),
            change.runner[:255],
        ),
    )
    cursor.execute("COMMIT")


def mark_swapped(cursor: Any) -> None:
    """The swap is done: the next run must not run the change again. Committed."""
    cursor.execute(f"UPDATE {ONLINE_TABLE} SET swapped = 1")  # noqa: S608 - a constant
    cursor.execute("COMMIT")


def clear(cursor: Any) -> None:
    """Delete the row and commit: the tool has ended and left nothing behind."""
    try:
        cursor.execute(f"DELETE FROM {ONLINE_TABLE}")  # noqa: S608 - a constant
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
    cursor.execute("COMMIT")
