"""Malformed input, as a hostile user gives it: each is exit 2 with one error line that
names the problem, no traceback, and never 3 (which pods retry) or 1.

Every case runs the real entrypoint against a port that refuses connections: input
the runner failed to validate would end in exit 3 after the (zero) wait instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.refused import NO_WAIT, PARTS, URL, assert_one_clear_line
from tests.support.runner import RunEntrypoint

HUGE = "x" * 100_000
TIMEOUTS = [
    "MIGRATE_WAIT_TIMEOUT",
    "MIGRATE_CONNECT_TIMEOUT",
    "MIGRATE_LOCK_TIMEOUT",
    "MIGRATE_DDL_LOCK_TIMEOUT",
    "MIGRATE_HEAD_TIMEOUT",
]

CASES: dict[str, tuple[dict[str, str], str]] = {
    "port in superscript digits": ({"DATABASE_URL": "mysql://u@h:³/db"}, "invalid port"),
    "port in Arabic-Indic digits": ({"DATABASE_URL": "mysql://u@h:٣٣٠٦/db"}, "invalid port"),
    "port in fullwidth digits": (
        {"DATABASE_URL": "mysql://u@h:\uff13\uff13\uff10\uff16/db"},
        "invalid port",
    ),
    "MYSQL_PORT in superscript digits": ({**PARTS, "MYSQL_PORT": "³"}, "MYSQL_PORT"),
    "MYSQL_PORT negative": ({**PARTS, "MYSQL_PORT": "-1"}, "MYSQL_PORT"),
    "host with an empty label": ({"DATABASE_URL": "mysql://u@a..b/db"}, "empty part"),
    "host with a 64-character label": (
        {"DATABASE_URL": f"mysql://u@{'a' * 64}.example/db"},
        "longer than 63",
    ),
    "host of 100 KB": ({"DATABASE_URL": f"mysql://u@{HUGE}/db"}, "DNS allows 253"),
    "host of 300 characters in short labels": (
        {"DATABASE_URL": "mysql://u@" + ".".join(["abc"] * 75) + "/db"},
        "DNS allows 253",
    ),
    "host that is only a dot": ({"DATABASE_URL": "mysql://u@./db"}, "empty part"),
    "host with a space": ({"DATABASE_URL": "mysql://u@a%20b/db"}, "spaces or control"),
    "host with a NUL": ({"DATABASE_URL": "mysql://u@a%00b/db"}, "spaces or control"),
    "MYSQL_HOST with an empty label": ({**PARTS, "MYSQL_HOST": "db..internal"}, "MYSQL_HOST"),
    "MYSQL_HOST empty": ({**PARTS, "MYSQL_HOST": ""}, "MYSQL_HOST is set but empty"),
    "MYSQL_USER empty": ({**PARTS, "MYSQL_USER": ""}, "MYSQL_USER is set but empty"),
    "MYSQL_PORT empty": ({**PARTS, "MYSQL_PORT": ""}, "MYSQL_PORT is set but empty"),
    "MYSQL_DATABASE empty": ({**PARTS, "MYSQL_DATABASE": ""}, "MYSQL_DATABASE is set but empty"),
    "database of 65 characters": (
        {"DATABASE_URL": f"mysql://u@h/{'d' * 65}"},
        "65 characters; MySQL allows 64",
    ),
    "MYSQL_DATABASE of 65 characters": ({**PARTS, "MYSQL_DATABASE": "d" * 65}, "MYSQL_DATABASE"),
    "database with a NUL": ({"DATABASE_URL": "mysql://u@h/a%00b"}, "cannot have"),
    "database with a trailing space": ({"DATABASE_URL": "mysql://u@h/db%20"}, "cannot have"),
    "database with an emoji": ({"DATABASE_URL": "mysql://u@h/db%F0%9F%98%80"}, "cannot have"),
    "ssl_ca path of 100 KB": (
        {"DATABASE_URL": f"{URL}?ssl_ca=/{HUGE}&ssl_verify_cert=true"},
        "TLS file in DATABASE_URL cannot be read",
    ),
    "ssl_ca empty": ({"DATABASE_URL": f"{URL}?ssl_ca="}, "must be a non-empty path"),
    "migrations directory of 100 KB": (
        {"DATABASE_URL": URL, "MIGRATE_MIGRATIONS_DIR": f"/{HUGE}"},
        "MIGRATE_MIGRATIONS_DIR",
    ),
    "URL file path of 100 KB": ({"DATABASE_URL_FILE": f"/{HUGE}"}, "DATABASE_URL_FILE"),
    "connect timeout of infinity": (
        {"DATABASE_URL": URL, "MIGRATE_CONNECT_TIMEOUT": "inf"},
        "MIGRATE_CONNECT_TIMEOUT",
    ),
    "wait timeout NaN": ({"DATABASE_URL": URL, "MIGRATE_WAIT_TIMEOUT": "nan"}, "WAIT_TIMEOUT"),
    "lock timeout 1e400": (
        {"DATABASE_URL": URL, "MIGRATE_LOCK_TIMEOUT": "1e400"},
        "MIGRATE_LOCK_TIMEOUT",
    ),
    **{
        f"{name} beyond a year": (
            {"DATABASE_URL": URL, name: "31536001"},
            f"{name}: Input should be less than or equal to 31536000",
        )
        for name in TIMEOUTS
    },
}


@pytest.mark.parametrize(("settings", "expected"), CASES.values(), ids=list(CASES))
def test_malformed_input_is_exit_2_in_one_line(
    run_cli: RunEntrypoint, settings: dict[str, str], expected: str
) -> None:
    result = run_cli("upgrade", **{**NO_WAIT, **settings})

    assert result.code == 2, result.stderr[:2000]
    assert_one_clear_line(result.stderr, expected)


def test_a_dotenv_that_is_not_utf8_is_exit_2(run_cli: RunEntrypoint, tmp_path: Path) -> None:
    (tmp_path / "cwd" / ".env").write_bytes(b"DATABASE_URL=mysql://u@h/db\nX=\xff\xfe\n")

    result = run_cli("status", **NO_WAIT)

    assert result.code == 2
    assert_one_clear_line(result.stderr, ".env is not UTF-8 text")


def test_a_dotenv_that_is_a_directory_is_exit_2(run_cli: RunEntrypoint, tmp_path: Path) -> None:
    (tmp_path / "cwd" / ".env").mkdir()

    result = run_cli("status", **NO_WAIT)

    assert result.code == 2
    assert_one_clear_line(result.stderr, ".env")


def test_a_password_file_that_is_not_utf8_is_exit_2(run_cli: RunEntrypoint, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(b"\xff\xfepw\n")

    result = run_cli("wait", **NO_WAIT, **PARTS, MYSQL_PASSWORD_FILE=str(secret))

    assert result.code == 2
    assert_one_clear_line(result.stderr, "is not UTF-8 text")


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        (["frobnicate"], {"DATABASE_URL": URL}),
        (["upgrade"], {"DATABASE_URL": "not a url"}),
        (["upgrade"], {"DATABASE_URL": URL, "MIGRATE_WAIT_TIMEOUT": "soon"}),
    ],
    ids=["usage error", "bad URL", "bad setting"],
)
def test_the_termination_message_is_written_for_usage_and_setting_errors(
    run_cli: RunEntrypoint, tmp_path: Path, args: list[str], settings: dict[str, str]
) -> None:
    termination_log = tmp_path / "termination-log"

    result = run_cli(*args, MIGRATE_TERMINATION_LOG=str(termination_log), **settings)

    assert result.code == 2
    summary = json.loads(termination_log.read_text())
    assert summary["exit_code"] == 2
    assert summary["error"] == "ConfigError"
    assert summary["message"] == result.error["message"]


@pytest.mark.parametrize(
    "password",
    ["error", "level", "message", '", "logger', "time", "exit_code", "mysql", '\\"}{'],
)
def test_a_password_that_looks_like_log_syntax_breaks_no_line(
    run_cli: RunEntrypoint, tmp_path: Path, password: str
) -> None:
    termination_log = tmp_path / "termination-log"

    result = run_cli(
        "wait",
        **NO_WAIT,
        **PARTS,
        MYSQL_PASSWORD=password,
        MIGRATE_TERMINATION_LOG=str(termination_log),
    )

    assert result.code == 3
    lines = [*result.stderr.strip().splitlines(), termination_log.read_text().strip()]
    for line in lines:
        entry = json.loads(line)  # every line is still valid JSON
        own = {key: entry.pop(key, None) for key in ("level", "logger", "time")}
        assert own["level"] in {None, "info", "error"}
        assert not _values_containing(entry, password), line
    log_lines = [json.loads(line) for line in lines[:-1]]
    assert all(entry["logger"] == "migrator" for entry in log_lines)
    assert [entry["level"] for entry in log_lines][-1] == "error"
    assert all(isinstance(entry["message"], str) and entry["message"] for entry in log_lines)
    assert log_lines[-1]["exit_code"] == 3


def _values_containing(value: object, secret: str) -> list[object]:
    if isinstance(value, dict):
        return [found for item in value.values() for found in _values_containing(item, secret)]
    if isinstance(value, list):
        return [found for item in value for found in _values_containing(item, secret)]
    return [value] if secret in str(value) else []
