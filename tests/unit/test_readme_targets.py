"""The promises of docs/configuration.md and docs/many-databases.md about configuration and
named targets that no other test held (issue 24's acceptance): each test quotes the sentence
it holds the runner to.

Every case runs the real entrypoint; where a database would be needed, its port
refuses connections, so exit 3 means the settings were accepted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from migrator.settings.config import PROJECT_ROOT
from tests.support.refused import NO_WAIT, PARTS, REFUSED, URL, assert_one_clear_line
from tests.support.runner import RunEntrypoint

LOG_URL = f"mysql://app@{REFUSED}/log"
TWO_SHARDS = f"mysql://app@{REFUSED}/game_0 mysql://app@{REFUSED}/game_1"


def _migrations(path: Path, *revisions: str) -> Path:
    """A migrations directory with the project's env.py and empty revisions in a line."""
    (path / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(PROJECT_ROOT / "migrations" / name, path / name)
    down = None
    for revision in revisions:
        (path / "versions" / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
            "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
        )
        down = revision
    return path


def test_an_empty_mysql_password_is_a_password_not_an_error(run_cli: RunEntrypoint) -> None:
    """ "A `MYSQL_*` variable that is set but empty is an error (exit 2), not a default
    (`MYSQL_PASSWORD` aside: empty is a password)"."""
    result = run_cli("wait", **NO_WAIT, **PARTS, MYSQL_PASSWORD="")

    assert result.code == 3, result.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["history"], "l0002 (head)"),
        (["heads"], "l0002 (head)"),
    ],
)
def test_every_command_takes_target(
    run_cli: RunEntrypoint, tmp_path: Path, command: list[str], expected: str
) -> None:
    """ "Every command takes `--target <name>`" and finds `migrations/<name>/` or
    `MIGRATE_MIGRATIONS_DIR_<NAME>`."""
    default = _migrations(tmp_path / "migrations", "m0001")
    log = _migrations(tmp_path / "log", "l0001", "l0002")
    settings = {
        "DATABASE_URL": URL,
        "MIGRATE_MIGRATIONS_DIR": str(default),
        "MIGRATE_TARGETS": "log",
        "DATABASE_URL_LOG": LOG_URL,
        "MIGRATE_MIGRATIONS_DIR_LOG": str(log),
    }

    result = run_cli(*command, "--target", "log", **settings)
    default_result = run_cli(*command, **settings)

    assert result.code == 0, result.stderr
    assert expected in result.stdout
    assert "m0001" not in result.stdout
    assert "m0001" in default_result.stdout


def test_revision_with_a_target_writes_into_its_own_versions(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    """ "`autogenerate --target log -m ...` writes into `migrations/log/versions/` only"; so
    does `revision`, which needs no database."""
    default = _migrations(tmp_path / "migrations")
    log = _migrations(tmp_path / "migrations" / "log")

    result = run_cli(
        "revision",
        "--target",
        "log",
        "-m",
        "add events",
        MIGRATE_MIGRATIONS_DIR=str(default),
        MIGRATE_TARGETS="log",
        DATABASE_URL_LOG=LOG_URL,
    )

    assert result.code == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.parent == log / "versions"
    assert [path.name for path in (default / "versions").iterdir()] == []


@pytest.mark.parametrize("command", [["downgrade", "-1"], ["stamp", "head"], ["plan"]])
def test_commands_for_one_database_take_the_default_or_the_named_target(
    run_cli: RunEntrypoint, command: list[str]
) -> None:
    """ "The other commands that need a database (...) take one: the default target's, or
    the one `--target` names"; with only named targets they do not guess."""
    result = run_cli(*command, **NO_WAIT, MIGRATE_TARGETS="log", DATABASE_URL_LOG=LOG_URL)

    assert result.code == 2, result.stderr
    assert_one_clear_line(result.stderr, "name a target with --target (configured: log)")


@pytest.mark.parametrize(
    "command", [["downgrade", "-1"], ["stamp", "head"], ["resolve", "x", "--applied"]]
)
def test_other_commands_on_a_sharded_target_take_shard(
    run_cli: RunEntrypoint, command: list[str]
) -> None:
    """ "Other commands on a sharded target take `--shard N`"."""
    settings = {**NO_WAIT, "MIGRATE_TARGETS": "game", "DATABASE_URL_GAME": TWO_SHARDS}

    without = run_cli(*command, "--target", "game", **settings)
    beyond = run_cli(*command, "--target", "game", "--shard", "2", **settings)
    with_shard = run_cli(*command, "--target", "game", "--shard", "1", **settings)

    assert without.code == 2
    assert_one_clear_line(without.stderr, "target game has 2 shards: name one with --shard")
    assert beyond.code == 2
    assert_one_clear_line(beyond.stderr, "there is no shard 2")
    assert with_shard.code == 3, with_shard.stderr
    assert "game_1" in with_shard.error["message"]


def test_messages_about_a_target_name_its_own_schema_variable(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    """ "messages about a target name its own variables": `MIGRATE_SCHEMA_<NAME>`."""
    log = _migrations(tmp_path / "log", "l0001")

    result = run_cli(
        "check",
        "--target",
        "log",
        **NO_WAIT,
        MIGRATE_TARGETS="log",
        DATABASE_URL_LOG=LOG_URL,
        MIGRATE_MIGRATIONS_DIR_LOG=str(log),
        MIGRATE_SCHEMA_LOG="no_such_module_here:metadata",
    )

    assert result.code == 9, result.stderr
    assert "MIGRATE_SCHEMA_LOG" in result.error["message"]


def test_a_url_file_in_the_environment_replaces_the_dotenv_parts(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    """ "`DATABASE_URL` (or `DATABASE_URL_FILE`) in the environment replaces the `.env`
    file's `MYSQL_*` parts"."""
    (tmp_path / "cwd" / ".env").write_text(
        "MYSQL_HOST=db.from.dotenv\nMYSQL_USER=dotenv\nMYSQL_DATABASE=from_dotenv\n"
    )
    url_file = tmp_path / "url"
    url_file.write_text(f"mysql://app@{REFUSED}/from_environment\n")

    result = run_cli("wait", **NO_WAIT, DATABASE_URL_FILE=str(url_file))

    assert result.code == 3, result.stderr
    assert f"mysql://app@{REFUSED}/from_environment" in result.error["message"]
