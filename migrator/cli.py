"""The command line: arguments, settings, logging, and the one place errors become exit codes.

Heavy modules (SQLAlchemy, Alembic) are imported only by the commands that
need them, so `--help`, configuration errors and `wait` stay fast.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn, TextIO

from migrator import __version__, interrupts
from migrator.errors import (
    ConfigError,
    ExitStatus,
    Interrupted,
    MigratorError,
    PendingRevisions,
)
from migrator.logs import Redactor, configure_logging, get_logger
from migrator.report import RunReport, write_termination_message
from migrator.settings import Settings, load_settings, shadow_target
from migrator.target import parse_database_url

if TYPE_CHECKING:
    from migrator.database import ConnectionSettings
    from migrator.runner import RunOptions
    from migrator.scripts import Project

log = get_logger()

# Secrets shorter than this are not searched for in output: masking every "ab"
# would garble the logs, and the runner never prints a password in the first place.
MIN_REDACTED_LENGTH = 4

EXIT_CODES_HELP = """exit codes:
  0   success, including nothing to do
  1   unexpected internal error
  2   configuration or usage error
  3   database not reachable before MIGRATE_WAIT_TIMEOUT
  4   login refused, missing privilege or unknown database
  5   migration lock not acquired within MIGRATE_LOCK_TIMEOUT
  6   a migration failed (MySQL DDL may be partly applied)
  7   check found differences between the database and the schema module
  8   the database is at a revision these migrations do not contain
  9   the migration scripts or the schema module are invalid
  10  status --exit-code: revisions are pending
  130 interrupted by SIGINT, 143 interrupted by SIGTERM
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="entrypoint.py",
        description="Wait for MySQL, take the migration lock and run Alembic migrations."
        " With no command, runs `upgrade head`.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (same as MIGRATE_DEBUG=1)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    upgrade = commands.add_parser("upgrade", help="upgrade the database (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default head)")
    downgrade = commands.add_parser("downgrade", help="downgrade the database to REVISION")
    downgrade.add_argument("revision", help="target revision, e.g. -1 or base")
    for name, help_text in (
        ("autogenerate", "write a revision from the differences with the schema module"),
        ("revision", "write an empty revision to fill in by hand"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("-m", "--message", required=True, help="what the revision does")
    commands.add_parser("check", help="exit 7 if the database differs from the schema module")
    status = commands.add_parser("status", help="show current revision, heads and pending")
    status.add_argument(
        "--exit-code", action="store_true", help="exit 10 when revisions are pending"
    )
    commands.add_parser("history", help="list the revisions, newest first")
    commands.add_parser("heads", help="show the head revision(s) of the migrations")
    stamp = commands.add_parser("stamp", help="record REVISION as applied without running it")
    stamp.add_argument("revision", help="revision to record, e.g. head or base")
    wait = commands.add_parser("wait", help="only wait until the database accepts a login")
    wait.add_argument(
        "--head",
        action="store_true",
        help="also wait (MIGRATE_HEAD_TIMEOUT) until the database is at head; never runs DDL",
    )
    resolve = commands.add_parser(
        "resolve", help="clear an interrupted revision after checking the schema by hand"
    )
    resolve.add_argument("revision", help="the interrupted revision, as the error named it")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--applied", action="store_true", help="its changes are all there: stamp it as done"
    )
    outcome.add_argument(
        "--not-applied", action="store_true", help="none of its changes are there: run it again"
    )
    sql = commands.add_parser("sql", help="print the DDL of a revision range (no database)")
    sql.add_argument(
        "range", nargs="?", default="head", help="START:END or END (default: all, to head)"
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "upgrade"])
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    return run(sys.argv[1:] if argv is None else argv, stdout=sys.stdout)


def run(argv: list[str], *, stdout: TextIO) -> int:
    started = time.monotonic()
    interrupts.install()
    redact = Redactor()
    report = RunReport()
    debug = "--debug" in argv or os.environ.get("MIGRATE_DEBUG", "").lower() in {"1", "true"}
    configure_logging(_fallback_log_format(), redact, debug=debug)
    settings: Settings | None = None
    failure: BaseException | None = None
    try:
        args = parse_args(argv)
        report.command = args.command
        settings = load_settings()
        debug = debug or settings.debug
        configure_logging(settings.log_format, redact, debug=debug)
        for secret in _secrets(settings):
            redact.add(secret)
        COMMANDS[args.command](_Invocation(args, settings, redact, stdout, report))
        status = ExitStatus.SUCCESS
    except SystemExit as exit_request:  # --help and --version
        return int(exit_request.code or 0)
    except (MigratorError, Interrupted) as error:
        failure, status = error, error.exit_status
        log.error(error.message, extra={"exit_code": int(status), "error": type(error).__name__})
    except Exception as error:
        failure, status = error, ExitStatus.INTERNAL_ERROR
        first_line = (str(error).strip().splitlines() or [""])[0]
        log.error(
            f"internal error: {type(error).__name__}: {first_line}"
            + ("" if debug else " (set MIGRATE_DEBUG=1 for the traceback)"),
            exc_info=debug,
            extra={"exit_code": int(status), "error": type(error).__name__},
        )
    if settings is not None:
        summary = report.summary(int(status), failure, time.monotonic() - started)
        write_termination_message(settings.termination_log, summary, redact)
    return int(status)


def _fallback_log_format() -> str:
    # Used until the settings are read, so that even a settings error comes out
    # in the format the operator asked for.
    requested = os.environ.get("MIGRATE_LOG_FORMAT", "auto")
    return requested if requested in {"auto", "text", "json"} else "auto"


def _secrets(settings: Settings) -> list[str]:
    """Passwords known before any command runs; a _FILE's is added once it is read."""
    values = []
    if settings.mysql_password is not None:
        values.append(settings.mysql_password.get_secret_value())
    for url in (settings.database_url, settings.shadow_database_url):
        if url is None:
            continue
        with suppress(ConfigError):  # reported, without the URL, when it is used
            target = parse_database_url(url.get_secret_value())
            values.append(target.password.get_secret_value())
    return [value for value in values if len(value) >= MIN_REDACTED_LENGTH]


@dataclass(frozen=True)
class _Invocation:
    """One parsed command line with its settings, handed to a command handler."""

    args: argparse.Namespace
    settings: Settings
    redact: Redactor
    stdout: TextIO
    report: RunReport

    def project(self) -> Project:
        from migrator.scripts import Project

        return Project(self.settings.migrations_dir, self.settings.schema_ref)

    def database(self) -> ConnectionSettings:
        """The connection settings; only commands that talk to the server ask for them."""
        from migrator.database import ConnectionSettings

        target = self.settings.database_target()
        password = target.password.get_secret_value()
        if len(password) >= MIN_REDACTED_LENGTH:
            self.redact.add(password)
        return ConnectionSettings(
            target=target,
            wait_timeout=self.settings.wait_timeout,
            connect_timeout=self.settings.connect_timeout,
        )

    def options(self) -> RunOptions:
        from migrator.runner import RunOptions

        return RunOptions(
            runner=f"{self.settings.pod_name or socket.gethostname()} pid {os.getpid()}",
            lock_timeout=self.settings.lock_timeout,
            ddl_lock_timeout=self.settings.ddl_lock_timeout,
            on_unknown_revision=self.settings.on_unknown_revision,
            use_lock=self.settings.lock_mode == "get_lock",
        )

    def print(self, *lines: object) -> None:
        for line in lines:
            print(line, file=self.stdout)


def _wait(run: _Invocation) -> None:
    database = run.database()
    if run.args.head:
        from migrator import runner

        runner.wait_for_head(run.project(), database, run.options(), run.settings.head_timeout)
        return
    from migrator.database import wait_for_database

    wait_for_database(database).close()
    log.info("the database accepts logins")


def _upgrade(run: _Invocation) -> None:
    database = run.database()  # configuration errors first, before the heavy imports
    from migrator import runner

    runner.upgrade(run.project(), database, run.options(), run.args.revision, run.report)


def _downgrade(run: _Invocation) -> None:
    database = run.database()  # configuration errors first, before the heavy imports
    from migrator import runner

    runner.downgrade(run.project(), database, run.options(), run.args.revision, run.report)


def _stamp(run: _Invocation) -> None:
    database = run.database()  # configuration errors first, before the heavy imports
    from migrator import runner

    runner.stamp(run.project(), database, run.options(), run.args.revision)


def _resolve(run: _Invocation) -> None:
    database = run.database()
    from migrator import runner

    runner.resolve(
        run.project(), database, run.options(), run.args.revision, applied=run.args.applied
    )


def _check(run: _Invocation) -> None:
    database = run.database()
    from migrator import runner

    runner.check(run.project(), database)


def _autogenerate(run: _Invocation) -> None:
    database = run.database()
    shadow = shadow_target(run.settings)
    from migrator import runner

    shadow_server = replace(database, target=shadow) if shadow is not None else None
    path = runner.autogenerate(
        run.project(), database, run.options(), run.args.message, shadow_server
    )
    if path is not None:
        run.print(path)


def _revision(run: _Invocation) -> None:
    from migrator import runner

    run.print(runner.revision(run.project(), run.args.message))


def _status(run: _Invocation) -> None:
    database = run.database()
    from migrator import runner

    current, interrupted = runner.status(run.project(), database)
    run.print(
        f"database: {database.target.redacted_url()}",
        f"current:  {', '.join(current.current) or 'base (empty)'}",
        f"head:     {', '.join(current.heads) or 'none (no revisions)'}",
        f"pending:  {' '.join(current.pending) or 'none'}",
    )
    if interrupted is not None:
        run.print(f"interrupted: {interrupted.describe()}")
    if run.args.exit_code and current.pending:
        raise PendingRevisions(f"{len(current.pending)} revision(s) pending")


def _history(run: _Invocation) -> None:
    from migrator import runner

    runner.history(run.project(), run.stdout)


def _heads(run: _Invocation) -> None:
    from migrator import runner

    runner.heads(run.project(), run.stdout)


def _sql(run: _Invocation) -> None:
    from migrator import runner

    runner.sql(run.project(), run.args.range, run.stdout)


COMMANDS: dict[str, Callable[[_Invocation], None]] = {
    "upgrade": _upgrade,
    "downgrade": _downgrade,
    "autogenerate": _autogenerate,
    "revision": _revision,
    "check": _check,
    "status": _status,
    "history": _history,
    "heads": _heads,
    "stamp": _stamp,
    "wait": _wait,
    "resolve": _resolve,
    "sql": _sql,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
