"""Reading settings from the environment, `.env` and secret files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from migrator.errors import ConfigError
from migrator.settings.config import PROJECT_ROOT
from migrator.settings.declarations import declarations
from migrator.settings.validated import environment_model, load_settings

ALL_VARIABLES = [declared.variable for declared in declarations()]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name in ALL_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()

    assert settings.wait_timeout == 60
    assert settings.lock_timeout == 300
    assert settings.connect_timeout == 5
    assert settings.log_format == "auto"
    assert settings.migrations_dir == PROJECT_ROOT / "migrations"
    assert settings.schema_ref == "schema:metadata"
    with pytest.raises(ConfigError, match="no database configured"):
        settings.database_target()


def test_every_setting_has_a_description() -> None:
    for name, field in environment_model().model_fields.items():
        assert field.alias, name
        assert field.description, name
        assert field.description.endswith("."), name


def test_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:pw@db/shop")

    target = load_settings().database_target()

    assert (target.host, target.user, target.database) == ("db", "app", "shop")


def test_mysql_parts_with_the_official_image_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MYSQL_HOST": "db",
        "MYSQL_PORT": "3307",
        "MYSQL_USER": "app",
        "MYSQL_PASSWORD": "p@ss:w/rd%#",
        "MYSQL_DATABASE": "shop",
    }.items():
        monkeypatch.setenv(name, value)

    target = load_settings().database_target()

    assert (target.host, target.port, target.user, target.database) == ("db", 3307, "app", "shop")
    assert target.password.get_secret_value() == "p@ss:w/rd%#"


def test_dotenv_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DATABASE_URL=mysql://app@db/from_dotenv\nMIGRATE_LOCK_TIMEOUT=7\n"
    )

    settings = load_settings()

    assert settings.database_target().database == "from_dotenv"
    assert settings.lock_timeout == 7


def test_environment_overrides_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MIGRATE_LOCK_TIMEOUT=7\n")
    monkeypatch.setenv("MIGRATE_LOCK_TIMEOUT", "9")

    assert load_settings().lock_timeout == 9


def test_secret_files_lose_their_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text(" spaced pw \n")
    monkeypatch.setenv("MYSQL_HOST", "db")
    monkeypatch.setenv("MYSQL_DATABASE", "shop")
    monkeypatch.setenv("MYSQL_PASSWORD_FILE", str(tmp_path / "pw"))

    assert load_settings().database_target().password.get_secret_value() == " spaced pw "


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DATABASE_URL": "mysql://a@db/x", "MYSQL_DATABASE": "y"}, "MYSQL_DATABASE disagree"),
        ({"DATABASE_URL": "mysql://a@db/x", "MYSQL_HOST": "other"}, "MYSQL_HOST disagree"),
        ({"DATABASE_URL": "mysql://a:pw@db/x", "MYSQL_PASSWORD": "other"}, "MYSQL_PASSWORD"),
        ({"DATABASE_URL": "mysql://a@db/x", "DATABASE_URL_FILE": "f"}, "both set"),
        ({"MYSQL_HOST": "db", "MYSQL_DATABASE": "x", "MYSQL_PORT": "70000"}, "invalid port"),
        ({"MYSQL_HOST": "db"}, "MYSQL_DATABASE is not set"),
        ({"MYSQL_DATABASE": "x"}, "no database configured"),
        ({"DATABASE_URL_FILE": "/nonexistent/secret"}, "no such file"),
        ({"DATABASE_URL_FILE": "/"}, "is a directory"),
    ],
)
def test_database_target_errors(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=message):
        load_settings().database_target()


def test_agreeing_url_and_parts_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:pw@db:3306/shop")
    monkeypatch.setenv("MYSQL_HOST", "db")
    monkeypatch.setenv("MYSQL_PORT", "3306")
    monkeypatch.setenv("MYSQL_USER", "app")
    monkeypatch.setenv("MYSQL_PASSWORD", "pw")
    monkeypatch.setenv("MYSQL_DATABASE", "shop")

    assert load_settings().database_target().database == "shop"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIGRATE_WAIT_TIMEOUT", "-1"),
        ("MIGRATE_WAIT_TIMEOUT", "soon"),
        ("MIGRATE_CONNECT_TIMEOUT", "0"),
        ("MIGRATE_LOCK_TIMEOUT", "-5"),
        ("MIGRATE_LOG_FORMAT", "yaml"),
        ("MIGRATE_SCHEMA", "no_colon"),
        ("MIGRATE_DEBUG", "perhaps"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_validation_errors_do_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATE_WAIT_TIMEOUT", "hunter2-secret")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("dotenv", "environment", "expected"),
    [
        # .env copied from .env.example, then `DATABASE_URL=... make status`.
        (
            (PROJECT_ROOT / ".env.example").read_text(),
            {"DATABASE_URL": "mysql://other@db.internal:3306/elsewhere"},
            ("db.internal", "other", "elsewhere"),
        ),
        (
            "DATABASE_URL=mysql://app@db/from_dotenv\nMYSQL_USER=app\n",
            {"MYSQL_HOST": "127.0.0.1", "MYSQL_DATABASE": "from_environment"},
            ("127.0.0.1", "app", "from_environment"),
        ),
    ],
    ids=["url over dotenv parts", "parts over a dotenv url"],
)
def test_the_environment_replaces_the_dotenv_database_as_a_whole(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dotenv: str,
    environment: dict[str, str],
    expected: tuple[str, str, str],
) -> None:
    (tmp_path / ".env").write_text(dotenv)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    target = load_settings().database_target()

    assert (target.host, target.user, target.database) == expected


def test_a_conflict_says_where_each_value_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("MYSQL_DATABASE=shop\n")
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "url"))
    monkeypatch.setenv("DATABASE_URL", "mysql://app@db/other")

    with pytest.raises(ConfigError, match="DATABASE_URL from the environment"):
        load_settings().database_target()

    monkeypatch.delenv("DATABASE_URL_FILE")
    monkeypatch.delenv("DATABASE_URL")
    (tmp_path / ".env").write_text("DATABASE_URL=mysql://app@db/other\nMYSQL_DATABASE=shop\n")

    with pytest.raises(ConfigError) as caught:
        load_settings().database_target()
    assert "DATABASE_URL from .env, MYSQL_DATABASE from .env" in str(caught.value)
