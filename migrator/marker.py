"""The run marker: which revision is being applied, so a killed run is never re-run blindly.

MySQL DDL is not transactional. A runner killed halfway through a revision
leaves it partly applied while ``alembic_version`` still names the previous
revision; re-running would fail (or worse, half-succeed) on what is already
there. The marker row is written as a revision starts (the revision's first DDL
commits it) and deleted in the same transaction that stamps the revision, so
a row left behind means exactly "this revision was interrupted after it
changed the schema".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pymysql

if TYPE_CHECKING:
    import sqlalchemy

    from migrator.database import DriverConnection

MARKER_TABLE = "migrator_run_marker"
NO_SUCH_TABLE = 1146

# The runner's own table, outside the application's MetaData (and hidden from
# autogenerate and check by migrator.alembic_env). One row at most.
_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (
    id TINYINT NOT NULL,
    revision VARCHAR(64) NOT NULL,
    stamped_before VARCHAR(255) NOT NULL,
    stamped_after VARCHAR(255) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    runner VARCHAR(255) NOT NULL,
    PRIMARY KEY (id)
)"""


_SELECT = (
    "SELECT revision, stamped_before, stamped_after, started_at, runner"  # noqa: S608
    f" FROM {MARKER_TABLE}"
)


@dataclass(frozen=True)
class RunMarker:
    revision: str  # the revision being applied (upgrade) or reverted (downgrade)
    stamped_before: str  # alembic_version before it, "" for none
    stamped_after: str  # alembic_version once it completes, "" for none
    started_at: datetime
    runner: str  # pod or host, and process id

    def describe(self) -> str:
        return (
            f"revision {self.revision} was interrupted: started {self.started_at:%Y-%m-%d %H:%M:%S}"
            f" UTC by {self.runner} and never finished, so it may be partly applied"
        )


def ensure_table(connection: sqlalchemy.Connection) -> None:
    connection.exec_driver_sql(_CREATE_TABLE)
    connection.commit()


def read(connection: DriverConnection) -> RunMarker | None:
    """The marker left by an interrupted run, if any (None also when there is no table).

    Driver-level, so lock waiters can say what the holder is applying without
    SQLAlchemy. Ends its transaction, like every read on the migration session.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute(_SELECT)
            row = cursor.fetchone()
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != NO_SUCH_TABLE:
            raise
        row = None
    connection.commit()
    return RunMarker(*row) if row is not None else None


def record(
    connection: sqlalchemy.Connection, revision: str, before: str, after: str, runner: str
) -> None:
    """Write the marker in the transaction that the revision then runs in.

    No commit of its own: MySQL commits implicitly before any DDL, so the
    revision's first DDL statement makes the marker durable. A revision killed
    before its first DDL leaves no marker, rightly: nothing of it was applied
    (its DML rolls back with the marker).
    """
    # Driver-level SQL: this runs twice per revision, and building and
    # compiling a Core statement each time costs more than the round trip.
    connection.exec_driver_sql(
        f"INSERT INTO {MARKER_TABLE}"  # noqa: S608 - a constant name; values are bound
        " (id, revision, stamped_before, stamped_after, started_at, runner)"
        " VALUES (1, %s, %s, %s, UTC_TIMESTAMP(6), %s)",
        (revision, before, after, runner[:255]),
    )


def clear(connection: sqlalchemy.Connection) -> None:
    """Delete the marker; inside Alembic's transaction this commits with the version row."""
    connection.exec_driver_sql(f"DELETE FROM {MARKER_TABLE}")  # noqa: S608 - a constant name
