"""The Makefile's targets: what `make help` lists, `make migrate` installs, `make lint` accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project import PROJECT_ROOT, run_in_project
from tests.support.runner import runner_env

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()
DOCUMENTED = re.findall(r"^([a-z0-9][a-z0-9-]*):[^\n]*## ", MAKEFILE, re.MULTILINE)


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return run_in_project(["make", "--no-print-directory", *args])


def test_help_lists_every_documented_target_with_its_variables_expanded() -> None:
    shown = make("help").stdout
    listed = [line.split()[0] for line in shown.splitlines()]

    assert listed == DOCUMENTED
    assert "test-e2e" in listed  # a name with a digit in it
    assert "$(" not in shown


@pytest.mark.parametrize(
    "target", ["migrate", "status", "check", "history", "heads", "sql", "plan", "revision"]
)
def test_the_commands_a_user_runs_install_only_the_runtime_dependencies(
    target: str, tmp_path: Path
) -> None:
    planned = make("-n", target, f"VENV={tmp_path / 'venv'}", "m=x").stdout

    assert "-r requirements.lock" in planned
    assert "requirements-dev.lock" not in planned


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("downgrade", 'downgrade "-1"'),
        ("stamp", 'stamp "-1"'),
        ("baseline", 'baseline "-1"'),
        ("history", "history"),
        ("heads", "heads"),
        ("plan", "plan"),
        ("status", "status"),
    ],
)
def test_every_command_has_a_target(target: str, command: str) -> None:
    planned = make("-n", target, "rev=-1").stdout

    assert f"entrypoint.py {command}" in planned


@pytest.mark.parametrize(
    ("target", "args", "command"),
    [
        ("baseline", "--replace-foreign", 'baseline "-1" --replace-foreign'),
        ("plan", "--format json", "plan --format json"),
        ("migrate", "--target log", "upgrade --target log"),
        ("status", "--exit-code", "status --exit-code"),
        ("check", "--target log", "check --target log"),
        ("revision", "--target log", 'autogenerate -m "x" --target log'),
        ("downgrade", "--shard 2", 'downgrade "-1" --shard 2'),
        ("stamp", "--target log", 'stamp "-1" --target log'),
        ("history", "--target log", "history --target log"),
        ("heads", "--target log", "heads --target log"),
        ("sql", "--target log", "sql 1:2 --target log"),
    ],
)
def test_every_command_target_passes_args_on(target: str, args: str, command: str) -> None:
    planned = make("-n", target, "rev=-1", "m=x", "range=1:2", f"args={args}").stdout

    assert f"entrypoint.py {command}\n" in planned


def test_make_exits_2_whatever_the_runner_exits_with_as_the_readme_says(tmp_path: Path) -> None:
    """A broken revision file: exit 9 from the runner, 2 from make (README: Commands)."""
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "migrations" / "env.py", versions.parent / "env.py")
    (versions / "broken.py").write_text('revision = "broken"\ndown_revision = None\ndef (:\n')
    env = runner_env(MIGRATE_MIGRATIONS_DIR=str(versions.parent))
    python = Path(sys.executable).parent

    direct = run_in_project([sys.executable, "entrypoint.py", "heads"], env)
    through_make = run_in_project(
        ["make", "--no-print-directory", "heads", "RUNTIME=", f"BIN={python}"], env
    )

    assert direct.returncode == 9, direct.stderr
    assert through_make.returncode == 2, through_make.stderr
    assert '"exit_code": 9' in through_make.stderr


@pytest.mark.parametrize("target", ["downgrade", "stamp", "baseline"])
def test_a_target_that_needs_a_revision_says_how_to_give_it(target: str) -> None:
    result = make(target, "RUNTIME=")  # no prerequisite: only the usage check runs

    assert result.returncode != 0
    assert f"usage: make {target} rev=" in result.stderr


def test_a_second_migrations_directory_copied_as_the_readme_says_passes_mypy(
    tmp_path: Path,
) -> None:
    # The named targets of docs/many-databases.md: migrations/<name>/ with its own copy of env.py.
    for directory in ("migrations", "migrations/log"):
        (tmp_path / directory).mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "migrations" / "env.py", tmp_path / directory / "env.py")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "migrator").symlink_to(PROJECT_ROOT / "migrator")
    mypy = Path(sys.executable).parent / "mypy"

    result = subprocess.run(
        [str(mypy), "--cache-dir", str(tmp_path / ".mypy_cache"), "migrations"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout
    assert "Duplicate module" not in result.stdout
