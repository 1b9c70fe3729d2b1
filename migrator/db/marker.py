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
from pymysql.constants import ER

from migrator.db.online_marker import ONLINE_TABLE

if TYPE_CHECKING:
    import sqlalchemy

    from migrator.db.connection import DriverConnection

MARKER_TABLE = "migrator_run_marker"
# The schema's fingerprint for MIGRATE_DRIFT (migrator.drift.fingerprint writes it).
FINGERPRINT_TABLE = "migrator_schema_fingerprint"
# The runner's own tables (Alembic's, the marker, the online change's, the fingerprint):
# never big, never a user's schema.
BOOKKEEPING_TABLES = frozenset({"alembic_version", MARKER_TABLE, ONLINE_TABLE, FINGERPRINT_TABLE})

# The runner's own table, outside the application's MetaData (and hidden from
# autogenerate and check by migrator.alembic_support.environment). One row at most.
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


_DELETE = f"DELETE FROM {MARKER_TABLE}"  # noqa: S608 - a constant name
_COLUMNS = "revision, stamped_before, stamped_after, started_at, runner"
_SELECT = f"SELECT {_COLUMNS} FROM {MARKER_TABLE}"  # noqa: S608 - constant names

# The fast path's one round trip: the version rows and the marker row together.
# CONVERT gives both halves one character set, whatever alembic_version was created with.
_SELECT_WITH_VERSION = (
    "SELECT 'v', CONVERT(version_num USING utf8mb4), NULL, NULL, NULL, NULL"  # noqa: S608
    " FROM alembic_version UNION ALL SELECT 'm', CONVERT(revision USING utf8mb4),"
    " stamped_before, stamped_after, started_at, runner"
    f" FROM {MARKER_TABLE}"
)


@dataclass(frozen=True)
class RunMarker:
    revision: str  # the revision being applied (upgrade) or reverted (downgrade)
    stamped_before: str  # alembic_version before it, "" for none
    stamped_after: str  # alembic_version once it completes, "" for none
    started_at: datetime
    runner: str  # pod or host, and process id

    @property
    def downgrade(self) -> bool:
        """Whether the interrupted step was reverting the revision rather than applying it."""
        return self.revision not in self.stamped_after.split(",")

    def describe(self) -> str:
        step = "downgrade" if self.downgrade else "upgrade"
        return (
            f"the {step} of revision {self.revision} was interrupted: started"
            f" {self.started_at:%Y-%m-%d %H:%M:%S} UTC by {self.runner} and never finished,"
            " so the revision may be partly " + ("reverted" if self.downgrade else "applied")
        )

    def remedy(self) -> str:
        """What a person does about it, in the direction the step was going."""
        if self.downgrade:
            return (
                f"repair the schema by hand, then run `resolve {self.revision} --applied` if all"
                f" of the revision's changes are still there (the database stays at"
                f" {self.stamped_before or 'base'} and a later downgrade runs it again), or"
                f" `resolve {self.revision} --not-applied` if none of them are left (stamps"
                f" {self.stamped_after or 'base'})"
            )
        return (
            f"repair the schema by hand, then run `resolve {self.revision} --applied` if all"
            f" of the revision's changes are there (stamps {self.stamped_after or 'base'}), or"
            f" `resolve {self.revision} --not-applied` if none are (the database stays at"
            f" {self.stamped_before or 'base'} and the next upgrade runs it again)"
        )

    def resolution(self, *, applied: bool) -> str | None:
        """The revisions to stamp once a person says whether the revision is applied;
        None to leave alembic_version as it is (it still names the state before the step).
        """
        if applied == self.downgrade:
            return None
        return self.stamped_after


def table_exists(connection: sqlalchemy.Connection) -> bool:
    """Whether this runner has migrated (or adopted) the database: both create the table."""
    # A plain query, not SQLAlchemy's inspector: this module stays on the no-op path,
    # which never loads SQLAlchemy.
    exists = (
        connection.exec_driver_sql(
            "SELECT 1 FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = %s",
            (MARKER_TABLE,),
        ).first()
        is not None
    )
    connection.commit()
    return exists


def ensure_table(connection: sqlalchemy.Connection) -> None:
    connection.exec_driver_sql(_CREATE_TABLE)
    connection.commit()


def read_with_version(
    connection: DriverConnection,
) -> tuple[tuple[str, ...] | None, RunMarker | None]:
    """alembic_version's rows and the marker, in one round trip; the rows are None when
    alembic_version cannot be read. Ends its transaction, like every read here."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(_SELECT_WITH_VERSION)
            rows = cursor.fetchall()
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        connection.rollback()
        return _read_version(connection), None
    connection.rollback()
    versions = tuple(sorted(row[1] for row in rows if row[0] == "v"))
    markers = [RunMarker(*row[1:]) for row in rows if row[0] == "m"]
    return versions, markers[0] if markers else None


def _read_version(connection: DriverConnection) -> tuple[str, ...] | None:
    # Either table may be the missing one: a database migrated by plain Alembic has
    # no marker table, and without alembic_version there can be no marker.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version_num FROM alembic_version")
            return tuple(sorted(row[0] for row in cursor.fetchall()))
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        return None
    finally:
        connection.rollback()


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
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        row = None
    connection.commit()
    return RunMarker(*row) if row is not None else None


def record(
    connection: DriverConnection, revision: str, before: str, after: str, runner: str
) -> None:
    """Write the marker in the transaction that the revision then runs in.

    No commit of its own: MySQL commits implicitly before any DDL, so the
    revision's first DDL statement makes the marker durable. A revision killed
    before its first DDL leaves no marker, rightly: nothing of it was applied
    (its DML rolls back with the marker).
    """
    # On the PyMySQL session itself, which SQLAlchemy's connection and transaction
    # wrap: this runs twice per revision, and going through SQLAlchemy adds its
    # execution machinery and the statement hooks (guard, timing) for the runner's
    # own bookkeeping row.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE}"  # noqa: S608 - a constant name; values are bound
            " (id, revision, stamped_before, stamped_after, started_at, runner)"
            " VALUES (1, %s, %s, %s, UTC_TIMESTAMP(6), %s)",
            (revision, before, after, runner[:255]),
        )


def clear(connection: sqlalchemy.Connection) -> None:
    """Delete the marker; inside Alembic's transaction this commits with the version row."""
    connection.exec_driver_sql(_DELETE)


def clear_in_transaction(connection: DriverConnection) -> None:
    """Delete the marker on the PyMySQL session, in the transaction it has open (Alembic's,
    as a revision is stamped): it commits with the version row, or not at all."""
    with connection.cursor() as cursor:
        cursor.execute(_DELETE)
