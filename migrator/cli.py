"""The command line: arguments, settings, logging, and the one place errors become exit codes.

Heavy modules (pydantic, argparse, SQLAlchemy, Alembic) are imported only when
needed, so `--help`, configuration errors, `wait` and a no-op `upgrade` stay fast.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import cached_property, partial
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, NoReturn, TextIO

from migrator import __version__, interrupts
from migrator.config import RunOptions
from migrator.errors import (
    ConfigError,
    ExitStatus,
    Interrupted,
    MigrationFailed,
    MigratorError,
    PendingRevisions,
)
from migrator.fast_settings import FastSettings, read_fast_settings
from migrator.logs import Redactor, configure_logging, get_logger
from migrator.report import RunReport, write_termination_message
from migrator.target import DatabaseTarget, Project, parse_database_url
from migrator.targets import Target, discover, select, slice_for_pod

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from migrator.database import ConnectionSettings
    from migrator.settings import Settings

    AnySettings = Settings | FastSettings

# Read by pydantic-settings and for named targets, relative to the working directory.
ENV_FILE = Path(".env")
TERMINATION_LOG = Path("/dev/termination-log")

log = get_logger()

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
  11  MIGRATE_BLOCKING_DDL=refuse: a statement would block writes on a big table
  130 interrupted by SIGINT, 143 interrupted by SIGTERM
  141 standard output was closed early (e.g. piped into head)
"""


def build_parser() -> argparse.ArgumentParser:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ConfigError(f"{message} (see {self.prog} --help)")

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
    targeting = _Parser(add_help=False)
    targeting.add_argument(
        "--target", metavar="NAME", help="a named target (DATABASE_URL_NAME); default: DATABASE_URL"
    )
    targeting.add_argument(
        "--shard", metavar="N", type=int, help="one shard of the target (0-based)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_command = partial(commands.add_parser, parents=[targeting])

    upgrade = add_command("upgrade", help="upgrade the database (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default head)")
    downgrade = add_command("downgrade", help="downgrade the database to REVISION")
    downgrade.add_argument("revision", help="target revision, e.g. -1 or base")
    for name, help_text in (
        ("autogenerate", "write a revision from the differences with the schema module"),
        ("revision", "write an empty revision to fill in by hand"),
    ):
        sub = add_command(name, help=help_text)
        sub.add_argument("-m", "--message", required=True, help="what the revision does")
    add_command("check", help="exit 7 if the database differs from the schema module")
    status = add_command("status", help="show current revision, heads and pending")
    status.add_argument(
        "--exit-code", action="store_true", help="exit 10 when revisions are pending"
    )
    add_command("history", help="list the revisions, newest first")
    add_command("heads", help="show the head revision(s) of the migrations")
    stamp = add_command("stamp", help="record REVISION as applied without running it")
    stamp.add_argument("revision", help="revision to record, e.g. head or base")
    wait = add_command("wait", help="only wait until the database accepts a login")
    wait.add_argument(
        "--head",
        action="store_true",
        help="also wait (MIGRATE_HEAD_TIMEOUT) until the database is at head; never runs DDL",
    )
    resolve = add_command(
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
    plan = add_command(
        "plan",
        help="list each statement the pending revisions will run, with the algorithm and lock"
        " the server will take for it (reads the database; runs them on an empty copy)",
    )
    plan.add_argument("revision", nargs="?", default="head", help="destination (default head)")
    plan.add_argument("--format", choices=("text", "json"), default="text", help="default text")
    sql = add_command("sql", help="print the DDL of a revision range (no database)")
    sql.add_argument(
        "range", nargs="?", default="head", help="START:END or END (default: all, to head)"
    )
    return parser


# What every init container runs. Importing argparse and building the parser
# would cost a tenth of such a run, so these command lines skip it.
DEFAULT_COMMAND_LINES = {(), ("upgrade",), ("upgrade", "head")}


def parse_args(argv: list[str]) -> SimpleNamespace:
    if tuple(argv) in DEFAULT_COMMAND_LINES:
        return SimpleNamespace(
            debug=False, command="upgrade", target=None, shard=None, revision="head"
        )
    return parse_command_line(argv)


def parse_command_line(argv: list[str]) -> SimpleNamespace:
    """Any command line, through argparse."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "upgrade"])
    return SimpleNamespace(**vars(args))


def main(argv: list[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    status = run(sys.argv[1:] if argv is None else argv, stdout=sys.stdout)
    if status == ExitStatus.OUTPUT_CLOSED:
        # Python flushes stdout again at exit; into a closed pipe that would print
        # a traceback-like complaint, so whatever is left goes nowhere instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


def run(argv: list[str], *, stdout: TextIO) -> int:
    started = time.monotonic()
    interrupts.install()
    redact = Redactor()
    report = RunReport()
    debug = "--debug" in argv or os.environ.get("MIGRATE_DEBUG", "").lower() in {"1", "true"}
    configure_logging(_fallback_log_format(), redact, debug=debug)
    termination_log = _fallback_termination_log()
    failure: BaseException | None = None
    try:
        try:
            args = parse_args(argv)
        except SystemExit as exit_request:  # --help and --version, the only exits by request
            interrupts.settle()
            return int(exit_request.code or 0)
        report.command = args.command
        if ENV_FILE.exists() and not ENV_FILE.is_file():
            raise ConfigError(f"{ENV_FILE} in the working directory is not a file")
        settings = read_fast_settings(os.environ, ENV_FILE) or _load_settings()
        termination_log = settings.termination_log
        debug = debug or settings.debug
        # A child process of a sharded run says which shard each of its lines is about.
        context = (
            {"target_name": args.target or "default", "shard": args.shard}
            if args.shard is not None
            else None
        )
        configure_logging(settings.log_format, redact, debug=debug, context=context)
        for secret in _secrets(settings):
            redact.add(secret)
        invocation = _Invocation(args, settings, redact, stdout, report, _environment())
        COMMANDS[args.command](invocation)
        stdout.flush()
        interrupts.settle()
        status = ExitStatus.SUCCESS
    except BrokenPipeError as closed:  # `history | head -1`: the reader has what it wanted
        interrupts.settle()
        failure, status = closed, ExitStatus.OUTPUT_CLOSED
    except (MigratorError, Interrupted) as error:
        interrupts.settle()
        failure, status = error, error.exit_status
        log.error(error.message, extra={"exit_code": int(status), "error": type(error).__name__})
    except BaseException as error:
        interrupts.settle()
        failure, status = error, ExitStatus.INTERNAL_ERROR
        first_line = (str(error).strip().splitlines() or [""])[0]
        log.error(
            f"internal error: {type(error).__name__}: {first_line}"
            + ("" if debug else " (set MIGRATE_DEBUG=1 for the traceback)"),
            exc_info=debug,
            extra={"exit_code": int(status), "error": type(error).__name__},
        )
    summary = report.summary(int(status), failure, time.monotonic() - started)
    write_termination_message(termination_log, summary, redact.values)
    return int(status)


def _load_settings() -> Settings:
    # Imported only here: pydantic-settings costs more than a no-op run (see fast_settings).
    from migrator.settings import load_settings

    return load_settings(ENV_FILE)


def _environment() -> Mapping[str, str]:
    """The process environment over the `.env` file's, for named targets."""
    if not ENV_FILE.exists():
        return os.environ
    from dotenv import dotenv_values

    try:
        from_file = dotenv_values(ENV_FILE, encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{ENV_FILE} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{ENV_FILE} cannot be read: {error.strerror}") from None
    merged = {**from_file, **os.environ}
    return {name: value for name, value in merged.items() if value is not None}


def _fallback_termination_log() -> Path:
    # Used until the settings are read, so that a settings or usage error is
    # reported to Kubernetes like any other failure.
    requested = os.environ.get("MIGRATE_TERMINATION_LOG", "")
    return Path(requested) if requested and "\x00" not in requested else TERMINATION_LOG


def _fallback_log_format() -> str:
    # Used until the settings are read, so that even a settings error comes out
    # in the format the operator asked for.
    requested = os.environ.get("MIGRATE_LOG_FORMAT", "auto")
    return requested if requested in {"auto", "text", "json"} else "auto"


def _secrets(settings: AnySettings) -> list[str]:
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
    return values


@dataclass(frozen=True)
class _Invocation:
    """One parsed command line with its settings, handed to a command handler."""

    args: SimpleNamespace
    settings: AnySettings
    redact: Redactor
    stdout: TextIO
    report: RunReport
    environ: Mapping[str, str]

    @cached_property
    def targets(self) -> list[Target]:
        """Every configured target, read once; their passwords join the secrets to mask."""
        default = self.settings.database_target() if self.settings.has_database() else None
        targets = discover(self.environ, default, self.default_project)
        for target in targets:
            for shard in target.shards:
                self.redact.add(shard.password.get_secret_value())
        return targets

    @property
    def default_project(self) -> Project:
        return Project(self.settings.migrations_dir, self.settings.schema_ref)

    def target(self) -> Target:
        return select(self.targets, self.args.target)

    def project(self) -> Project:
        if self.args.target is None:  # no database needed to know the default project
            return self.default_project
        return self.target().project

    def database(self) -> ConnectionSettings:
        """The connection settings; only commands that talk to the server ask for them."""
        target = self.target()
        if self.args.shard is None and len(target.shards) > 1:
            raise ConfigError(
                f"target {target.name} has {len(target.shards)} shards: name one with --shard"
            )
        return self.connection(target.shard(self.args.shard or 0))

    def connection(self, shard: DatabaseTarget) -> ConnectionSettings:
        from migrator.database import ConnectionSettings

        self.redact.add(shard.password.get_secret_value())
        return ConnectionSettings(
            target=shard,
            wait_timeout=self.settings.wait_timeout,
            connect_timeout=self.settings.connect_timeout,
        )

    def shard_plan(self) -> list[tuple[Target, list[int]]] | None:
        """Which shards of which targets to run as child processes; None to run in-process."""
        if self.args.shard is not None:
            return None
        targets = [self.target()] if self.args.target else self.targets
        if not targets:
            select(targets, None)  # raises: nothing is configured
        pods = self.settings.pod_slice()
        if pods is None and len(targets) == 1 and len(targets[0].shards) == 1:
            return None
        return [
            (
                target,
                list(range(len(target.shards)))
                if pods is None
                else slice_for_pod(len(target.shards), *pods),
            )
            for target in targets
        ]

    def options(self) -> RunOptions:

        return RunOptions(
            runner=f"{self.settings.pod_name or socket.gethostname()} pid {os.getpid()}",
            lock_timeout=self.settings.lock_timeout,
            ddl_lock_timeout=self.settings.ddl_lock_timeout,
            on_unknown_revision=self.settings.on_unknown_revision,
            use_lock=self.settings.lock_mode == "get_lock",
            blocking_ddl=self.settings.blocking_ddl,
            blocking_ddl_min_rows=self.settings.blocking_ddl_min_rows,
            progress_interval=self.settings.progress_interval,
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
    plan = run.shard_plan()
    if plan is not None:
        _upgrade_fleet(run, plan)
        return
    database = run.database()  # configuration errors first, before the heavy imports
    from migrator.upgrade import ProjectScripts, upgrade_database

    revision = run.args.revision
    upgrade_database(
        ProjectScripts(run.project(), revision), database, run.options(), revision, run.report
    )


def _upgrade_fleet(run: _Invocation, plan: list[tuple[Target, list[int]]]) -> None:
    from migrator.fleet import Shard, TargetShards, upgrade_fleet

    targets = [
        TargetShards(
            target.name,
            target.project,
            [
                Shard(target.name, position, run.connection(target.shards[position]))
                for position in positions
            ],
        )
        for target, positions in plan
    ]
    stop = run.settings.on_shard_failure == "stop"
    if run.settings.shard_isolation == "process":
        from migrator.fleet_processes import upgrade_fleet_in_processes

        # Children report through their exit status and logs; the pod's termination
        # message is the parent's, and each child runs exactly the shard it is given.
        children = {**os.environ, "MIGRATE_TERMINATION_LOG": os.devnull}
        for name in ("MIGRATE_SHARD_INDEX", "MIGRATE_SHARD_COUNT", "JOB_COMPLETION_INDEX"):
            children.pop(name, None)
        upgrade_fleet_in_processes(
            targets,
            run.args.revision,
            children,
            parallel=run.settings.parallel,
            stop_on_failure=stop,
        )
        return
    upgrade_fleet(
        targets,
        run.options(),
        run.args.revision,
        run.report,
        parallel=run.settings.parallel,
        stop_on_failure=stop,
    )


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

    runner.check(run.project(), database, use_lock=run.settings.lock_mode == "get_lock")


def _autogenerate(run: _Invocation) -> None:
    database = run.database()
    shadow = run.settings.shadow_target()
    from migrator import runner

    shadow_server = replace(database, target=shadow) if shadow is not None else None
    path = runner.autogenerate(
        run.project(), database, run.options(), run.args.message, shadow_server
    )
    if path is not None:
        run.print(path)


def _plan(run: _Invocation) -> None:
    database = run.database()
    shadow = run.settings.shadow_target()
    from migrator import runner

    shadow_server = replace(database, target=shadow) if shadow is not None else None
    result = runner.plan(run.project(), database, run.options(), run.args.revision, shadow_server)
    if run.args.format == "json":
        run.print(result.as_json())
    else:
        result.write_text(run.stdout)


def _revision(run: _Invocation) -> None:
    from migrator import runner

    run.print(runner.revision(run.project(), run.args.message))


def _status(run: _Invocation) -> None:
    target = run.target()
    if run.args.shard is None and len(target.shards) > 1:
        _status_of_shards(run, target)
        return
    database = run.database()
    from migrator import runner

    use_lock = run.settings.lock_mode == "get_lock"
    current, running, interrupted = runner.status(run.project(), database, use_lock=use_lock)
    run.print(
        f"database: {database.target.redacted_url()}",
        f"current:  {', '.join(current.current) or 'base (empty)'}",
        f"head:     {', '.join(current.heads) or 'none (no revisions)'}",
        f"pending:  {' '.join(current.pending) or 'none'}",
    )
    if running is not None and interrupted:
        run.print(f"interrupted: {running.describe()}")
        if run.args.exit_code:
            raise MigrationFailed(f"{running.describe()}: {running.remedy()}")
    elif running is not None:
        run.print(f"in progress: revision {running.revision}, by {running.runner}")
    if run.args.exit_code and (current.pending or running is not None):
        raise PendingRevisions(
            f"{len(current.pending)} revision(s) pending"
            + (f", revision {running.revision} in progress" if running is not None else "")
        )


def _status_of_shards(run: _Invocation, target: Target) -> None:
    from migrator.fleet_status import read_fleet_status

    fleet = read_fleet_status(
        target.name,
        target.project,
        [run.connection(shard) for shard in target.shards],
        use_lock=run.settings.lock_mode == "get_lock",
        parallel=run.settings.parallel,
    )
    run.print(*fleet.lines())
    fleet.verdict(exit_code=run.args.exit_code)


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
    "plan": _plan,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
