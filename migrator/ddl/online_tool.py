"""Runs pt-online-schema-change as the runner's child: no password on its command line,
its progress as the runner's, stopped with the runner.

The login goes to the tool in a MySQL option file (``F=`` in its DSN) in a private
temporary directory, readable by this user alone and removed when the tool ends;
the command line holds only the database, the table and the change. The tool's
own configuration files are replaced by an empty one, so nothing on the machine
adds options to the run. Its child is tied to the runner's life by the kernel
(``PR_SET_PDEATHSIG``): a runner killed outright takes the tool with it at once,
and the next run, under the lock, finds what the tool left and removes it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from migrator.db.progress import log as progress_log
from migrator.errors import ConfigError, MigrationFailed
from migrator.process import interrupts
from migrator.process.logs import get_logger
from migrator.settings.target import DatabaseTarget

log = get_logger()

TOOL = "pt-online-schema-change"
PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Load protection. Each chunk of the copy is sized to take about this long; a write waits
# at most about that long for the chunk that holds its rows. Where InnoDB takes a table
# AUTO-INC lock for INSERT … SELECT (innodb_autoinc_lock_mode 0 or 1, MariaDB's default),
# every write to the table waits for the chunk in progress, so chunks are shorter there.
CHUNK_TIME = 0.25
CHUNK_TIME_AUTOINC_LOCKED = 0.1
# Threads_running above which the copy pauses (and resumes below), and above which
# the tool gives up and removes its work: a server already struggling is left alone.
MAX_LOAD = "Threads_running=50"
CRITICAL_LOAD = "Threads_running=200"
# Replicas are not looked for: the runner migrates the server it is given.
RECURSION_METHOD = "none"
# What the tool prints after it swapped the tables; any later kill leaves the change done.
SWAPPED = re.compile(r"Swapped original and new tables OK")
_PROGRESS = re.compile(r"^Copying .*?:\s+(\d+)% (?:(\d+)\+)?(\d+):(\d+)(?::(\d+))? remain")
# How long the tool may take to stop after SIGTERM before it is killed.
STOP_GRACE = 30.0
KEPT_LINES = 40
_STEP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ")


@dataclass(frozen=True)
class ToolRun:
    """What one run of the tool is asked to do."""

    tool: str  # the tool's path, found at the CLI's edge
    target: DatabaseTarget
    table: str
    alter: str  # the clauses of the ALTER TABLE, as the tool's --alter takes them
    revision: str
    progress_interval: float
    # The tool's --set-vars beyond its own defaults, e.g. explain_format=TRADITIONAL.
    set_vars: tuple[str, ...] = ()
    chunk_time: float = CHUNK_TIME


@dataclass
class ToolOutcome:
    exit_code: int | None  # None: stopped by the runner on a signal
    swapped: bool  # the tool said it swapped the tables
    lines: list[str] = field(default_factory=list)  # its last lines, for messages
    duration_s: float = 0.0

    def reason(self) -> str:
        """The tool's own words about why it failed: its last lines that say something."""
        telling = [line for line in self.lines if not line.startswith("#")]
        errors = [line for line in telling if re.search(r"error|fail|cannot|denied", line, re.I)]
        return " / ".join((errors or telling)[-3:]) or "no output"


INSTALL_HINT = (
    "install it: `apt-get install percona-toolkit libdbd-mysql-perl` (Debian, Ubuntu);"
    " the image bundles it"
)


def find_tool() -> str:
    """The tool's path, and a check that Perl's MySQL driver loads: ConfigError (exit 2)
    naming what is missing. Called at the CLI's edge, which reads PATH."""
    tool = shutil.which(TOOL)
    if tool is None:
        raise ConfigError(
            f"MIGRATE_BLOCKING_DDL=online needs {TOOL}, not found on PATH: {INSTALL_HINT}"
        )
    perl = shutil.which("perl")
    try:
        loads = (
            perl is not None
            and subprocess.run(
                [perl, "-MDBD::mysql", "-e", "1"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        loads = False
    if not loads:
        raise ConfigError(
            f"MIGRATE_BLOCKING_DDL=online needs Perl's MySQL driver DBD::mysql for {TOOL}:"
            f" {INSTALL_HINT}"
        )
    return tool


def option_file_text(target: DatabaseTarget) -> str:
    """The login and TLS settings of ``target`` as a MySQL option file's [client] group."""
    lines = ["[client]", f"user={_quoted(target.user)}"]
    socket = target.options.get("unix_socket")
    if isinstance(socket, str):
        lines.append(f"socket={_quoted(socket)}")
    else:
        lines += [f"host={_quoted(target.host)}", f"port={target.port}"]
    lines.append(f"password={_quoted(target.password.get_secret_value())}")
    if not target.options.get("ssl_disabled"):
        for option, name in (
            ("ssl_ca", "ssl-ca"),
            ("ssl_cert", "ssl-cert"),
            ("ssl_key", "ssl-key"),
        ):
            value = target.options.get(option)
            if isinstance(value, str):
                lines.append(f"{name}={_quoted(value)}")
        if target.options.get("ssl_verify_cert") or target.options.get("ssl_verify_identity"):
            lines.append("ssl-verify-server-cert")
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    """An option file value in double quotes: `#`, `;` and spaces stay part of it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@contextmanager
def private_files(target: DatabaseTarget) -> Iterator[tuple[Path, Path]]:
    """(option file, empty tool configuration) in a directory only this user can enter,
    both removed when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="migrator-osc-"))  # mode 0700
    options, config = directory / "login.cnf", directory / "tool.conf"
    try:
        descriptor = os.open(options, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(option_file_text(target))
        config.write_text("")
        yield options, config
    finally:
        for path in (options, config):
            path.unlink(missing_ok=True)
        directory.rmdir()


def command(run: ToolRun, options: Path, config: Path) -> list[str]:
    """The tool's argument list: no password, no host; those are in ``options``."""
    dsn = f"F={options},D={run.target.database},t={run.table}"
    return [
        run.tool,
        "--config",
        str(config),  # must come first: replaces the machine's and the user's files
        "--execute",
        "--no-version-check",  # it would ask percona.com over the network
        "--alter",
        run.alter,
        "--recursion-method",
        RECURSION_METHOD,
        "--chunk-time",
        str(run.chunk_time),
        "--max-load",
        MAX_LOAD,
        "--critical-load",
        CRITICAL_LOAD,
        "--progress",
        f"time,{max(1, round(run.progress_interval))}",
        *(["--set-vars", ",".join(run.set_vars)] if run.set_vars else []),
        dsn,
    ]


def _die_with_runner(parent: int) -> None:
    """In the child, before exec: SIGKILL when the runner dies, however it dies.

    SIGKILL, not SIGTERM: a tool told to stop leaves its triggers and copy on
    purpose, and would still be tidying up while the next runner, whose lock the
    dead runner no longer holds, cleans the same table.
    """
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the runner died before the line above took effect
        os._exit(1)


def run_tool(run: ToolRun, environment: Mapping[str, str]) -> ToolOutcome:
    """Run the tool to its end, logging its progress; on SIGTERM or SIGINT to the runner,
    stop it and return with ``exit_code`` None."""
    started = time.monotonic()
    outcome = ToolOutcome(exit_code=None, swapped=False)
    parent = os.getpid()
    with private_files(run.target) as (options, config):
        argv = command(run, options, config)
        log.info(
            "running the change online with pt-online-schema-change",
            extra={"revision": run.revision, "table": run.table, "alter": run.alter},
        )
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # No ~/.my.cnf or ~/.percona-toolkit.conf of the runner's user is read.
                env={**environment, "HOME": str(options.parent)},
                preexec_fn=lambda: _die_with_runner(parent),  # noqa: PLW1509 - prctl needs it
            )
        except OSError as error:
            raise MigrationFailed(f"cannot start {run.tool}: {error.strerror}") from None
        outcome.exit_code = _follow(process, run, outcome, started)
    outcome.duration_s = round(time.monotonic() - started, 3)
    return outcome


def _follow(
    process: subprocess.Popen[bytes], run: ToolRun, outcome: ToolOutcome, started: float
) -> int | None:
    """Read the tool's output until it exits; None when a signal stopped it."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    pending = b""
    stopping_since: float | None = None
    while True:
        if stopping_since is None and interrupts.stop_requested():
            log.warning(
                "signal received: stopping pt-online-schema-change", extra={"table": run.table}
            )
            process.send_signal(signal.SIGTERM)
            stopping_since = time.monotonic()
        if stopping_since is not None and time.monotonic() - stopping_since > STOP_GRACE:
            process.kill()
        ready, _, _ = select.select([descriptor], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(descriptor, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            _line(line.decode("utf-8", "replace").rstrip(), run, outcome, started)
    if pending:
        _line(pending.decode("utf-8", "replace").rstrip(), run, outcome, started)
    code = process.wait()
    return None if stopping_since is not None else code


def _line(text: str, run: ToolRun, outcome: ToolOutcome, started: float) -> None:
    if not text:
        return
    outcome.lines = [*outcome.lines[-(KEPT_LINES - 1) :], text]
    if SWAPPED.search(text):
        outcome.swapped = True
    progress = _PROGRESS.match(text)
    if progress is None:
        # Its steps (creating triggers, copying, swapping) carry a timestamp; the rest is detail.
        level = logging.INFO if _STEP.match(text) else logging.DEBUG
        log.log(
            level, f"pt-online-schema-change: {_STEP.sub('', text)}", extra={"table": run.table}
        )
        return
    percent = int(progress.group(1))
    days, hours_or_minutes, minutes_or_seconds, seconds = progress.group(2, 3, 4, 5)
    if seconds is None:  # MM:SS
        eta = int(hours_or_minutes) * 60 + int(minutes_or_seconds)
    else:  # [D+]HH:MM:SS
        eta = int(hours_or_minutes) * 3600 + int(minutes_or_seconds) * 60 + int(seconds)
        eta += int(days or 0) * 86400
    progress_log.info(
        f"{percent}% done, ETA {eta} s: online change of {run.table}",
        extra={
            "revision": run.revision,
            "table": run.table,
            "percent": percent,
            "eta_s": eta,
            "elapsed_s": round(time.monotonic() - started),
        },
    )
