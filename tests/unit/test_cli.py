"""The CLI edge: argument parsing, the one place errors become exit codes, lazy imports."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from migrator import __version__
from migrator.cli import arguments, main
from migrator.errors import ExitStatus
from tests.support.project import ENTRYPOINT, PROJECT_ROOT
from tests.support.runner import RunEntrypoint, runner_env


def test_no_command_means_upgrade_head() -> None:
    args = arguments.parse_args([])

    assert (args.command, args.revision) == ("upgrade", "head")
    assert arguments.parse_args(["--debug"]).command == "upgrade"


@pytest.mark.parametrize("argv", sorted(arguments.DEFAULT_COMMAND_LINES))
def test_the_default_command_lines_parse_as_argparse_would(argv: tuple[str, ...]) -> None:
    assert arguments.parse_args(list(argv)) == arguments.parse_command_line(list(argv))


@pytest.mark.parametrize(
    "argv",
    [["--debug", "status"], ["status", "--debug"], ["status", "--target", "x", "--debug"]],
)
def test_debug_is_accepted_before_or_after_the_command(argv: list[str]) -> None:
    args = arguments.parse_args(argv)

    assert args.command == "status"
    assert args.debug is True


def test_debug_is_off_unless_given() -> None:
    assert arguments.parse_args(["status"]).debug is False


def test_help_names_the_settings_a_newcomer_needs_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        arguments.parse_args(["--help"])
    shown = capsys.readouterr().out

    for variable in ("DATABASE_URL", "DATABASE_URL_FILE", "MYSQL_HOST", "MYSQL_PASSWORD_FILE"):
        assert variable in shown
    assert "docs/configuration.md" in shown
    assert (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").is_file()


def test_every_exit_status_is_documented_in_help() -> None:
    for status in ExitStatus:
        assert (
            f"  {int(status)} " in arguments.EXIT_CODES_HELP
            or f" {int(status)} interrupted" in (arguments.EXIT_CODES_HELP)
        ), status


def test_an_unexpected_exception_is_exit_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIGRATE_LOG_FORMAT", "json")
    monkeypatch.delenv("MIGRATE_DEBUG", raising=False)

    def explode(*_: object) -> None:
        raise KeyError("no such thing\nsecond line")

    monkeypatch.setitem(main.COMMANDS, "heads", explode)

    code = main.run(["heads"], stdout=io.StringIO())

    assert code == ExitStatus.INTERNAL_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"].startswith("internal error: KeyError: 'no such thing")
    assert "MIGRATE_DEBUG=1" in entry["message"]
    assert "traceback" not in entry


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIGRATE_LOG_FORMAT", "json")

    def explode(*_: object) -> None:
        raise KeyError("boom")

    monkeypatch.setitem(main.COMMANDS, "heads", explode)

    code = main.run(["--debug", "heads"], stdout=io.StringIO())

    assert code == 1
    entry = json.loads(capsys.readouterr().err)
    assert "Traceback" in entry["traceback"]
    assert "explode" in entry["traceback"]


@pytest.mark.parametrize(
    "args", [["frobnicate"], ["downgrade"], ["revision"], ["status", "--nope"], ["--bogus"]]
)
def test_usage_errors_are_exit_2_without_a_database(
    run_cli: RunEntrypoint, args: list[str]
) -> None:
    result = run_cli(*args)

    assert result.code == 2
    assert result.error["exit_code"] == 2
    assert result.stdout == ""


def test_version(run_cli: RunEntrypoint) -> None:
    result = run_cli("--version")

    assert result.code == 0
    assert result.stdout == f"migrator {__version__}\n"


def test_text_format_error_is_one_line_on_stderr(run_cli: RunEntrypoint) -> None:
    result = run_cli("upgrade", MIGRATE_LOG_FORMAT="text")

    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "ERROR" in lines[0]
    assert "no database configured" in lines[0]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], {}),
        (["upgrade"], {"DATABASE_URL": "nonsense"}),
        (["wait"], {"DATABASE_URL": "mysql://root@127.0.0.1:1/x", "MIGRATE_WAIT_TIMEOUT": "0"}),
    ],
)
def test_help_config_errors_and_wait_do_not_import_sqlalchemy_or_alembic(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    probe = (
        "import sys, runpy\n"
        f"sys.argv = [{str(ENTRYPOINT)!r}, *{args!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(ENTRYPOINT)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ENTRYPOINT.parent), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert "HEAVY []" in result.stderr, result.stderr


# The entrypoint, with an object whose finalizer runs while the interpreter shuts down,
# after Python has given SIGINT back its default action: it says so on stderr, then
# waits for one byte on stdin, so the test signals the process at exactly that moment.
_EXITING = """
import os
import sys

sys.path.insert(0, {root!r})
from migrator.cli.main import main


class Exiting:
    def __del__(self) -> None:
        os.write(2, b"interpreter exiting\\n")
        os.read(0, 1)


exiting = Exiting()
sys.exit(main())
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_process_exits_after_a_success_keeps_exit_0(
    tmp_path: Path, signum: int
) -> None:
    script = tmp_path / "exiting.py"
    script.write_text(textwrap.dedent(_EXITING.format(root=str(PROJECT_ROOT))))
    termination_log = tmp_path / "termination-log"
    process = subprocess.Popen(
        [sys.executable, str(script), "heads"],
        env=runner_env(MIGRATE_TERMINATION_LOG=str(termination_log)),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    while (line := process.stderr.readline()) and line != b"interpreter exiting\n":
        pass
    assert line, f"the runner exited (status {process.wait()}) before its interpreter did"

    os.kill(process.pid, signum)
    process.communicate(b"x", timeout=30)

    assert json.loads(termination_log.read_text())["exit_code"] == 0
    assert process.returncode == 0
