"""Passwords with URL-special characters work in every form, and never appear in any output."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.network import free_port
from tests.support.servers import ScratchDatabase, Users

# Every character that breaks naive URL handling, plus a distinctive marker to search for.
PASSWORD = "Zq7@:/%#?&+ =leak-canary"


@pytest.fixture
def account(database: ScratchDatabase, users: Users) -> str:
    return users.create(PASSWORD, f"ALL ON `{database.name}`.*")


def parts(database: ScratchDatabase, user: str) -> dict[str, str | None]:
    return {
        "DATABASE_URL": None,
        "MYSQL_HOST": database.target.host,
        "MYSQL_PORT": str(database.target.port),
        "MYSQL_USER": user,
        "MYSQL_DATABASE": database.name,
    }


def assert_no_password(text: str) -> None:
    for form in (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD), "leak-canary"):
        assert form not in text


@pytest.mark.parametrize(
    "form", ["MYSQL_PASSWORD", "MYSQL_PASSWORD_FILE", "DATABASE_URL", "DATABASE_URL_FILE"]
)
def test_password_with_special_characters_in_every_form(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    account: str,
    tmp_path: Path,
    form: str,
) -> None:
    migrations.chain(1)
    url = database.url_as(account, PASSWORD)
    secret = tmp_path / "secret"
    # Secret files usually end with a newline (`echo`, most secret tools).
    secret.write_text((PASSWORD if form.startswith("MYSQL") else url) + "\n")
    forms: dict[str, dict[str, str | None]] = {
        "MYSQL_PASSWORD": {"MYSQL_PASSWORD": PASSWORD, **parts(database, account)},
        "MYSQL_PASSWORD_FILE": {"MYSQL_PASSWORD_FILE": str(secret), **parts(database, account)},
        "DATABASE_URL": {"DATABASE_URL": url},
        "DATABASE_URL_FILE": {"DATABASE_URL": None, "DATABASE_URL_FILE": str(secret)},
    }

    result = migrate(**forms[form])

    assert result.code == 0, result.stderr
    assert database.version() == {"r0001"}
    assert_no_password(result.output)


def test_url_and_parts_that_agree_are_accepted(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, account: str
) -> None:
    migrations.chain(1)
    settings = parts(database, account)
    settings["DATABASE_URL"] = database.url_as(account, PASSWORD)

    result = migrate(MYSQL_PASSWORD=PASSWORD, **settings)

    assert result.code == 0, result.stderr


def test_the_password_never_appears_in_the_output_of_failing_runs(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    account: str,
    tmp_path: Path,
) -> None:
    migrations.chain(1)
    migrations.add("broken", "r0001", upgrade=[sql("ALTER TABLE nope ADD x INT")])
    good_url = database.url_as(account, PASSWORD)
    raw_url = f"mysql://{account}:{PASSWORD}@{database.target.host}:{database.target.port}/{database.name}"
    url_file = tmp_path / "url"
    url_file.write_text(good_url)
    wrong = PASSWORD.replace("Zq7", "Xx9")
    cases: dict[str, tuple[int, dict[str, str | None]]] = {
        "migration fails": (6, {"DATABASE_URL": good_url}),
        "migration fails, parts": (6, {"MYSQL_PASSWORD": PASSWORD, **parts(database, account)}),
        "migration fails, url file": (
            6,
            {"DATABASE_URL": None, "DATABASE_URL_FILE": str(url_file)},
        ),
        "wrong password": (4, {"DATABASE_URL": database.url_as(account, wrong)}),
        "wrong password, parts": (4, {"MYSQL_PASSWORD": wrong, **parts(database, account)}),
        "unknown database": (4, {"DATABASE_URL": good_url.replace(database.name, "nosuchdb")}),
        "unreachable": (
            3,
            {
                "DATABASE_URL": good_url.replace(f":{database.target.port}/", f":{free_port()}/"),
                "MIGRATE_WAIT_TIMEOUT": "1",
            },
        ),
        "raw password in url": (6, {"DATABASE_URL": raw_url}),
        "conflicting forms": (2, {"MYSQL_PASSWORD": "something-else", "DATABASE_URL": good_url}),
        "malformed url": (2, {"DATABASE_URL": good_url.replace("mysql://", "mysql+nope://")}),
        "url without database": (2, {"DATABASE_URL": good_url.rsplit("/", 1)[0]}),
        "bad port": (2, {"DATABASE_URL": good_url.replace(f":{database.target.port}/", ":port/")}),
    }
    termination_log = tmp_path / "termination-log"
    for name, (code, settings) in cases.items():
        termination_log.unlink(missing_ok=True)
        result = migrate(
            MIGRATE_DEBUG="1", MIGRATE_TERMINATION_LOG=str(termination_log), **settings
        )
        assert result.code == code, (name, result.stderr)
        assert_no_password(result.output)
        assert_no_password(termination_log.read_text())
