"""The typed errors the core raises, each carrying its exit status (a public contract).

The core raises these; only :mod:`migrator.cli.main` turns them into a printed line
and a process exit status.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitStatus(IntEnum):
    """What the process exit status tells the caller. Documented in the README."""

    SUCCESS = 0
    INTERNAL_ERROR = 1
    CONFIG_ERROR = 2
    DATABASE_UNREACHABLE = 3
    ACCESS_DENIED = 4
    LOCK_TIMEOUT = 5
    MIGRATION_FAILED = 6
    DRIFT_DETECTED = 7
    UNKNOWN_REVISION = 8
    SCRIPT_ERROR = 9
    PENDING_REVISIONS = 10
    BLOCKING_DDL_REFUSED = 11
    SCHEMA_DRIFT = 12
    INTERRUPTED_SIGINT = 130
    OUTPUT_CLOSED = 141  # like a process killed by SIGPIPE: `history | head -1`
    INTERRUPTED_SIGTERM = 143


# What each status means, as `--help` lists them (migrator.cli.arguments).
EXIT_STATUS_MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.SUCCESS: "success, including nothing to do",
    ExitStatus.INTERNAL_ERROR: "unexpected internal error",
    ExitStatus.CONFIG_ERROR: "configuration or usage error",
    ExitStatus.DATABASE_UNREACHABLE: "database not reachable before MIGRATE_WAIT_TIMEOUT",
    ExitStatus.ACCESS_DENIED: "login refused, missing privilege or unknown database",
    ExitStatus.LOCK_TIMEOUT: "migration lock not acquired within MIGRATE_LOCK_TIMEOUT",
    ExitStatus.MIGRATION_FAILED: "a migration failed (MySQL DDL may be partly applied)",
    ExitStatus.DRIFT_DETECTED: "check found differences between the database and the schema module",
    ExitStatus.UNKNOWN_REVISION: "the database is at a revision these migrations do not contain",
    ExitStatus.SCRIPT_ERROR: "the migration scripts or the schema module are invalid",
    ExitStatus.PENDING_REVISIONS: "status --exit-code: revisions are pending",
    ExitStatus.BLOCKING_DDL_REFUSED: (
        "MIGRATE_BLOCKING_DDL=refuse: a statement would block writes on a big table"
    ),
    ExitStatus.SCHEMA_DRIFT: (
        "drift: a live schema is not what its migrations produce (also MIGRATE_DRIFT=fail)"
    ),
    ExitStatus.INTERRUPTED_SIGINT: "interrupted by SIGINT",
    ExitStatus.OUTPUT_CLOSED: "standard output was closed early (e.g. piped into head)",
    ExitStatus.INTERRUPTED_SIGTERM: "interrupted by SIGTERM",
}


class MigratorError(Exception):
    """An expected failure: one line of text for a person, and an exit status."""

    exit_status: ExitStatus = ExitStatus.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MigratorError):
    """A setting or command-line argument is missing, malformed or contradictory."""

    exit_status = ExitStatus.CONFIG_ERROR


class DatabaseUnreachable(MigratorError):
    """The server did not accept a login before the wait deadline."""

    exit_status = ExitStatus.DATABASE_UNREACHABLE


class AccessDenied(MigratorError):
    """The server refused the login, a privilege is missing, or the database does not exist."""

    exit_status = ExitStatus.ACCESS_DENIED


class LockTimeout(MigratorError):
    """Another runner held the migration lock for longer than the lock timeout."""

    exit_status = ExitStatus.LOCK_TIMEOUT


class MigrationFailed(MigratorError):
    """A revision raised or the server rejected one of its statements."""

    exit_status = ExitStatus.MIGRATION_FAILED


class DriftDetected(MigratorError):
    """`check` found differences between the database and the schema module."""

    exit_status = ExitStatus.DRIFT_DETECTED


class UnknownRevision(MigratorError):
    """The database is at a revision that the bundled migrations do not contain."""

    exit_status = ExitStatus.UNKNOWN_REVISION


class ScriptError(MigratorError):
    """The migration scripts or the schema module cannot be loaded or are inconsistent."""

    exit_status = ExitStatus.SCRIPT_ERROR


class PendingRevisions(MigratorError):
    """The database is behind the head revision (reported by `status --exit-code`)."""

    exit_status = ExitStatus.PENDING_REVISIONS


class PlanUnavailable(MigratorError):
    """The pending revisions could not run on the empty copy that `plan` measures them on."""

    exit_status = ExitStatus.MIGRATION_FAILED


class BlockingDdlRefused(MigratorError):
    """A statement would block writes on a big table under MIGRATE_BLOCKING_DDL=refuse."""

    exit_status = ExitStatus.BLOCKING_DDL_REFUSED


class SchemaDrift(MigratorError):
    """The live schema is not what the migrations produce at its recorded revision."""

    exit_status = ExitStatus.SCHEMA_DRIFT


class ShardsFailed(MigratorError):
    """Some shards of a multi-database run did not succeed; the worst one's status."""

    def __init__(self, message: str, exit_status: ExitStatus) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the run at a safe point.

    A BaseException, like KeyboardInterrupt: raised from a signal handler, it
    can surface inside any library code, and must not be swallowed by the many
    ``except Exception`` blocks there (the logging module's among them).
    """

    def __init__(self, signum: int) -> None:
        self.message = f"interrupted by {signal.Signals(signum).name}"
        super().__init__(self.message)
        self.signum = signum

    @property
    def exit_status(self) -> ExitStatus:
        if self.signum == signal.SIGINT:
            return ExitStatus.INTERRUPTED_SIGINT
        return ExitStatus.INTERRUPTED_SIGTERM
