"""The command line's grammar: the commands, their arguments, `--help`.

Errors in it are configuration errors (exit 2) with a pointer to `--help`; the
default command line of an init container is recognised without argparse.
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, NoReturn

from migrator import __version__
from migrator.errors import EXIT_STATUS_MEANINGS, ConfigError, ExitStatus

if TYPE_CHECKING:
    import argparse

SETTINGS_HELP = """settings (environment variables, then .env in the working directory):
  DATABASE_URL           mysql://USER:PASSWORD@HOST:PORT/DATABASE
  DATABASE_URL_FILE      a file that holds DATABASE_URL (a Docker or Kubernetes secret)
  MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE
                         the same in parts, as the official mysql image names them
  MYSQL_PASSWORD_FILE    a file that holds the password
  the other settings (timeouts, lock, shards, logs): docs/configuration.md
"""

# What `plan` and `drift` print: text for a person, JSON for a program.
OUTPUT_FORMATS = ("text", "json")

# Made from ExitStatus: a status added there is listed here.
EXIT_CODES_HELP = "exit codes:\n" + "".join(
    f"  {int(status):<3} {EXIT_STATUS_MEANINGS[status]}\n" for status in ExitStatus
)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ConfigError(f"{message} (see {self.prog} --help)")

    parser = _Parser(
        prog="entrypoint.py",
        description="Wait for MySQL, take the migration lock and run Alembic migrations."
        " With no command, runs `upgrade head`.",
        epilog=SETTINGS_HELP + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The program's name, not the script's (`entrypoint.py`, `__main__.py`).
    parser.add_argument("--version", action="version", version=f"migrator {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (same as MIGRATE_DEBUG=1)"
    )
    targeting = _Parser(add_help=False)
    # Also after the command (`status --debug`); SUPPRESS keeps a subcommand's absent
    # flag from resetting one given before the command.
    targeting.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
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
    # Given by a fleet's parent process to each child (MIGRATE_SHARD_ISOLATION=process).
    upgrade.add_argument("--shard-of-fleet", action="store_true", help=argparse.SUPPRESS)
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
    baseline = add_command(
        "baseline",
        help="adopt an existing database: record REVISION as the one its schema already has",
    )
    baseline.add_argument("revision", help="the revision the existing schema matches")
    baseline.add_argument(
        "--replace-foreign",
        action="store_true",
        help="replace an alembic_version written by other migrations",
    )
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
    plan.add_argument("--format", choices=OUTPUT_FORMATS, default="text", help="default text")
    drift = add_command(
        "drift",
        help="exit 12 if a live schema is not what its migrations produce at its recorded"
        " revision (reads the databases; replays the migrations on a shadow database)",
    )
    drift.add_argument("--format", choices=OUTPUT_FORMATS, default="text", help="default text")
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
            debug=False,
            command="upgrade",
            target=None,
            shard=None,
            revision="head",
            shard_of_fleet=False,
        )
    return parse_command_line(argv)


def parse_command_line(argv: list[str]) -> SimpleNamespace:
    """Any command line, through argparse."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "upgrade"])
    return SimpleNamespace(**vars(args))
