"""The process's edge: settings read, logging set up, one command run, its error made an exit code.

Heavy modules (pydantic, argparse, SQLAlchemy, Alembic) are imported only when
needed, so `--help`, configuration errors, `wait` and a no-op `upgrade` stay fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, TextIO, get_args

from migrator.cli import commands
from migrator.cli.arguments import parse_args
from migrator.cli.context import Context
from migrator.errors import ConfigError, ExitStatus
from migrator.process import interrupts
from migrator.process.logs import Redactor, configure_logging, get_logger, log_failure
from migrator.process.report import RunReport, write_termination_message
from migrator.settings.config import LogFormat
from migrator.settings.fast import read_fast_settings
from migrator.settings.target import parse_database_url, shown
from migrator.settings.targets import declared_names, with_env_file
from migrator.settings.variable_names import review

if TYPE_CHECKING:
    from collections.abc import Mapping

    from migrator.settings.declarations import Settings

# Read by pydantic-settings and for named targets, relative to the working directory.
ENV_FILE = Path(".env")
TERMINATION_LOG = Path("/dev/termination-log")

log = get_logger()


def main(argv: list[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    status = run(sys.argv[1:] if argv is None else argv, stdout=sys.stdout)
    interrupts.ignore_until_exit()  # the termination message says `status`: so does the exit
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
        _check_termination_log(settings.termination_log)
        termination_log = settings.termination_log
        debug = debug or settings.debug
        # A child process of a sharded run says which shard each of its lines is about.
        shard_fields = (
            {"target_name": args.target or "default", "shard": args.shard}
            if args.shard is not None
            else None
        )
        configure_logging(
            settings.log_format,
            redact,
            debug=debug,
            context=shard_fields,
            shard_of_fleet=getattr(args, "shard_of_fleet", False),
        )
        for secret in _secrets(settings):
            redact.add(secret)
        declared = declared_names(settings.targets)
        file_values = _env_file_values()
        _review_variable_names(os.environ, file_values, declared)
        environ, origins = with_env_file(os.environ, file_values, declared)
        context = Context(
            settings, environ, args.target, args.shard, stdout, report, redact.add, origins
        )
        COMMANDS[args.command](context, args)
        stdout.flush()
        interrupts.settle()
        status = ExitStatus.SUCCESS
    except BrokenPipeError as closed:  # `history | head -1`: the reader has what it wanted
        interrupts.settle()
        failure, status = closed, ExitStatus.OUTPUT_CLOSED
    except BaseException as error:
        interrupts.settle()
        failure = error
        hint = "" if debug else " (set MIGRATE_DEBUG=1 for the traceback)"
        status = log_failure(error, traceback=debug, hint=hint)
    summary = report.summary(int(status), failure, time.monotonic() - started)
    write_termination_message(termination_log, summary, redact.values)
    return int(status)


def _load_settings() -> Settings:
    # Imported only here: pydantic-settings costs more than a no-op run (see fast_settings).
    from migrator.settings.validated import load_settings

    return load_settings(ENV_FILE)


def _env_file_values() -> Mapping[str, str]:
    """Every variable the `.env` file sets, for named targets and the review of names."""
    if not ENV_FILE.exists():
        return {}
    # Only with a .env file, which the pydantic-settings reader has already read.
    from migrator.settings.validated import read_env_file

    return read_env_file(ENV_FILE)


def _review_variable_names(
    environ: Mapping[str, str], file_values: Mapping[str, str], declared: list[str]
) -> None:
    """Exit 2 for a MIGRATE_* variable the runner does not read; warn about near misses."""
    reviews = [review(environ, declared), review(file_values, declared, str(ENV_FILE))]
    errors = [error for found in reviews if (error := found.error()) is not None]
    if errors:
        raise ConfigError("; ".join(errors))
    for found in reviews:
        for warning in found.warnings:
            log.warning(warning)
    ignored = sorted({name for found in reviews for name in found.ignored})
    if ignored:
        log.info(
            f"{', '.join(ignored)}: not a migration target (MIGRATE_TARGETS does not list"
            " it), ignored"
        )


def _check_termination_log(path: Path) -> None:
    """Exit 2 for a path no run could write; a missing /dev/termination-log outside
    Kubernetes is fine (docs/configuration.md: "when it is writable")."""
    try:
        is_directory = path.is_dir()
    except OSError as error:  # a name too long, say
        raise ConfigError(f"MIGRATE_TERMINATION_LOG={shown(path)}: {error.strerror}") from None
    if is_directory:
        raise ConfigError(f"MIGRATE_TERMINATION_LOG={shown(path)} is a directory: name a file")


def _fallback_termination_log() -> Path:
    # Used until the settings are read, so that a settings or usage error is
    # reported to Kubernetes like any other failure.
    requested = os.environ.get("MIGRATE_TERMINATION_LOG", "")
    return Path(requested) if requested and "\x00" not in requested else TERMINATION_LOG


def _fallback_log_format() -> str:
    # Used until the settings are read, so that even a settings error comes out
    # in the format the operator asked for.
    requested = os.environ.get("MIGRATE_LOG_FORMAT", "auto")
    return requested if requested in get_args(LogFormat) else "auto"


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
    return values


# Each command with its arguments, as argparse parsed them.
COMMANDS: dict[str, Callable[[Context, SimpleNamespace], None]] = {
    "upgrade": lambda context, args: commands.upgrade(context, args.revision),
    "downgrade": lambda context, args: commands.downgrade(context, args.revision),
    "autogenerate": lambda context, args: commands.autogenerate(context, args.message),
    "revision": lambda context, args: commands.revision(context, args.message),
    "check": lambda context, _: commands.check(context),
    "status": lambda context, args: commands.status(context, exit_code=args.exit_code),
    "history": lambda context, _: commands.history(context),
    "heads": lambda context, _: commands.heads(context),
    "stamp": lambda context, args: commands.stamp(context, args.revision),
    "baseline": lambda context, args: commands.baseline(
        context, args.revision, replace_foreign=args.replace_foreign
    ),
    "wait": lambda context, args: commands.wait(context, head=args.head),
    "resolve": lambda context, args: commands.resolve(context, args.revision, applied=args.applied),
    "sql": lambda context, args: commands.sql(context, args.range),
    "plan": lambda context, args: commands.plan(context, args.revision, output_format=args.format),
    "drift": lambda context, args: commands.drift(context, output_format=args.format),
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
