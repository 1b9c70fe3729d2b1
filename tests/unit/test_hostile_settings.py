"""Settings a hostile or careless user gets wrong end with exit 2 and one line, never 1
(issue 24 items 10 and 11), and a named target's variables in the environment win over
`.env`, as the default database's do.

Every case runs the real entrypoint against a port that refuses connections: input the
runner failed to validate would end in exit 3 after the (zero) wait instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.settings.declarations import declarations
from migrator.settings.kinds import FILE, Integer, Number
from tests.support.refused import NO_WAIT, PARTS, REFUSED, URL, assert_one_clear_line
from tests.support.runner import RunEntrypoint

DIGITS = "9" * 100_000  # beyond Python's int() limit of 4300 digits
TEMPLATE = f"mysql://app@{REFUSED}/shard_{{shard}}"
NAMED = {**NO_WAIT, "MIGRATE_TARGETS": "game"}
SHARDED = {**NAMED, "DATABASE_URL_GAME_TEMPLATE": TEMPLATE}
NUMERIC = [d.variable for d in declarations() if isinstance(d.kind, Integer | Number)]
PATHS = [d.variable for d in declarations() if d.kind is FILE]


@pytest.mark.parametrize("variable", NUMERIC)
@pytest.mark.parametrize("value", [DIGITS, "", "-1", "1e999"])
def test_a_numeric_setting_of_any_shape_is_exit_2(
    run_cli: RunEntrypoint, variable: str, value: str
) -> None:
    settings = {"DATABASE_URL": URL, **NO_WAIT, variable: value}
    if variable in {"MIGRATE_SHARD_INDEX", "JOB_COMPLETION_INDEX"}:
        settings["MIGRATE_SHARD_COUNT"] = "2"

    result = run_cli("upgrade", **settings)

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, variable)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({**PARTS, "MYSQL_PORT": DIGITS}, "MYSQL_PORT has an invalid port"),
        ({"DATABASE_URL": f"mysql://u@h:{DIGITS}/db"}, "DATABASE_URL has an invalid port"),
        (
            {**SHARDED, "DATABASE_URL_GAME_SHARDS": f"0-{DIGITS}"},
            "a shard number has more than 18 digits",
        ),
        (
            {**SHARDED, "DATABASE_URL_GAME_SHARDS": "0-999999999"},
            "1000000000 shards; a target may have 100000 at most",
        ),
        ({**NAMED, "DATABASE_URL_GAME_FILE": ""}, "DATABASE_URL_GAME_FILE is set but empty"),
        (
            {**NAMED, "DATABASE_URL_GAME": URL, "MIGRATE_MIGRATIONS_DIR_GAME": ""},
            "MIGRATE_MIGRATIONS_DIR_GAME is set but empty",
        ),
    ],
    ids=[
        "MYSQL_PORT of 100,000 digits",
        "a URL's port of 100,000 digits",
        "a shard range of 100,000 digits",
        "a shard range of a billion",
        "an empty shard-list file setting",
        "an empty target migrations directory",
    ],
)  # fmt: skip
def test_huge_and_empty_values_are_exit_2(
    run_cli: RunEntrypoint, settings: dict[str, str], expected: str
) -> None:
    result = run_cli("status", **settings)

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, expected)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not UTF-8 text"),
        (f"{URL}\n".encode("latin-1") + b"mysql://u@h/caf\xe9\n", "is not UTF-8 text"),
        (b"\x00\x00\x00\x00", "is not a text file"),
        (None, "is a directory, not a file"),
    ],
    ids=["binary", "latin-1", "NUL bytes", "a directory"],
)
def test_a_shard_list_file_that_is_not_text_is_exit_2(
    run_cli: RunEntrypoint, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    shard_list = tmp_path / "shards"
    if content is None:
        shard_list.mkdir()
    else:
        shard_list.write_bytes(content)

    result = run_cli("upgrade", **NAMED, DATABASE_URL_GAME_FILE=str(shard_list))

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, f"DATABASE_URL_GAME_FILE={shard_list}: {expected}")


@pytest.mark.parametrize("variable", PATHS)
def test_an_empty_path_is_exit_2_never_the_working_directory(
    run_cli: RunEntrypoint, variable: str
) -> None:
    result = run_cli("upgrade", DATABASE_URL=URL, **NO_WAIT, **{variable: ""})

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, f"{variable} is set but empty")


def test_an_empty_termination_log_is_exit_2_naming_the_default(run_cli: RunEntrypoint) -> None:
    result = run_cli("upgrade", DATABASE_URL=URL, **NO_WAIT, MIGRATE_TERMINATION_LOG="")

    assert result.code == 2
    assert_one_clear_line(result.stderr, "unset it for /dev/termination-log")


@pytest.mark.parametrize(
    ("path", "expected"),
    [(None, "is a directory"), ("9" * 5000, "File name too long")],
    ids=["a directory", "a name of 5000 characters"],
)
def test_a_termination_log_no_run_could_write_is_exit_2(
    run_cli: RunEntrypoint, tmp_path: Path, path: str | None, expected: str
) -> None:
    termination_log = path or str(tmp_path)

    result = run_cli(
        "upgrade", DATABASE_URL=URL, **NO_WAIT, MIGRATE_TERMINATION_LOG=termination_log
    )

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, expected)


@pytest.mark.parametrize(
    "line",
    [
        b"MIGRATE_TERMINATION_LOG=/tmp/a\x00b",
        b"MIGRATE_MIGRATIONS_DIR=/tmp/a\x00b",
        b"DATABASE_URL_FILE=/tmp/a\x00b",
        b"MYSQL_PORT=33\x0006",
    ],
    ids=lambda line: line.split(b"=")[0].decode(),
)
def test_a_nul_in_a_dotenv_value_is_exit_2(
    run_cli: RunEntrypoint, tmp_path: Path, line: bytes
) -> None:
    (tmp_path / "cwd" / ".env").write_bytes(line + b"\n")

    result = run_cli(
        "upgrade", **NO_WAIT, **({} if b"DATABASE_URL" in line else {"DATABASE_URL": URL})
    )

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, "has a NUL character in its value")


def test_a_named_targets_url_in_the_environment_wins_over_a_template_in_dotenv(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    (tmp_path / "cwd" / ".env").write_text(
        f"DATABASE_URL_GAME_TEMPLATE={TEMPLATE}\nDATABASE_URL_GAME_SHARDS=0-3\n"
    )
    from_environment = f"mysql://app@{REFUSED}/from_environment"

    result = run_cli("status", "--target", "game", **NAMED, DATABASE_URL_GAME=from_environment)

    assert result.code == 3, result.stderr[:2000]  # one database, not a conflict (exit 2)
    assert_one_clear_line(result.stderr, f"mysql://app@{REFUSED}/from_environment")


def test_a_named_targets_template_in_the_environment_wins_over_a_url_in_dotenv(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    (tmp_path / "cwd" / ".env").write_text(f"DATABASE_URL_GAME=mysql://app@{REFUSED}/from_file\n")

    result = run_cli(
        "status",
        "--target",
        "game",
        **NAMED,
        DATABASE_URL_GAME_TEMPLATE=TEMPLATE,
        DATABASE_URL_GAME_SHARDS="0-1",
    )

    assert result.code == 3, result.stderr[:2000]
    assert "from_file" not in result.stderr
    assert "2 shard(s) could not be read" in result.error["message"]


@pytest.mark.parametrize(
    ("dotenv", "environment", "expected"),
    [
        (
            "DATABASE_URL_GAME_FILE=/nonexistent/shards\n",
            {},
            "DATABASE_URL_GAME_FILE=/nonexistent/shards (from .env): no such file",
        ),
        (
            f"DATABASE_URL_GAME_TEMPLATE={TEMPLATE}\nDATABASE_URL_GAME_SHARDS=5-1\n",
            {},
            "DATABASE_URL_GAME_SHARDS=5-1 (from .env): the range is empty",
        ),
        (
            f"DATABASE_URL_GAME_TEMPLATE={TEMPLATE}\n",
            {"DATABASE_URL_GAME_SHARDS": "5-1"},
            "DATABASE_URL_GAME_SHARDS=5-1: the range is empty",
        ),
        (
            "DATABASE_URL_GAME=postgresql://u@h/db\n",
            {},
            "DATABASE_URL_GAME (from .env) has the scheme 'postgresql'",
        ),
        (
            f"DATABASE_URL_GAME={URL}\nDATABASE_URL_GAME_FILE=/run/shards\n",
            {},
            "DATABASE_URL_GAME and DATABASE_URL_GAME_FILE are all set (DATABASE_URL_GAME from"
            " .env, DATABASE_URL_GAME_FILE from .env)",
        ),
    ],
    ids=["file", "shards", "shards from the environment", "URL", "two forms"],
)
def test_messages_about_a_named_target_say_where_each_value_came_from(
    run_cli: RunEntrypoint,
    tmp_path: Path,
    dotenv: str,
    environment: dict[str, str],
    expected: str,
) -> None:
    (tmp_path / "cwd" / ".env").write_text(dotenv)

    result = run_cli("status", "--target", "game", **NAMED, **environment)

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, expected)
