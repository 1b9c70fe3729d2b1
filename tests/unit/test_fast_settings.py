"""The pydantic-free settings reader agrees with Settings on all it accepts, or steps aside."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from migrator.settings.declarations import Settings, declarations
from migrator.settings.fast import read_fast_settings
from migrator.settings.validated import environment_model, load_settings

ALIASES = {str(field.alias): name for name, field in environment_model().model_fields.items()}

# Per variable: values the fast reader vouches for, and values it leaves to Settings
# (some of which Settings accepts, e.g. "1e3", and some it rejects, e.g. "-1").
Samples = tuple[list[str], list[str]]
NUMBERS: Samples = (
    ["0", "1", "5", "0.5", "60", "2.25"],
    ["007", "1e3", " 5", "5 ", "-1", "inf", "", "5."],
)
POSITIVE: Samples = (["1", "0.5", "5"], ["0", "0.0", "-1", "1e3", ""])
INTEGERS_FROM_0: Samples = (["0", "1", "4", "30"], ["01", "1.0", "-1", " 2", "", "1_000", "\uff11"])
INTEGERS_FROM_1: Samples = (["1", "4", "30"], ["0", "01", "1.0", "-1", "", "1_000"])
TEXTS: Samples = (["", "db", "db.internal", "3307", "x" * 200, "unicod\u00e9", " spaced "], [])
PATHS: Samples = (["/run/secrets/db", "relative/file", "/dev/termination-log", "."], [""])
SAMPLES: dict[str, Samples] = {
    "DATABASE_URL": (["", "mysql://app:pw@db/shop", "not a url"], []),
    "DATABASE_URL_FILE": PATHS,
    "MYSQL_HOST": TEXTS,
    "MYSQL_PORT": TEXTS,
    "MYSQL_USER": TEXTS,
    "MYSQL_PASSWORD": (["", "p@ss:w/rd%#", " spaced "], []),
    "MYSQL_PASSWORD_FILE": PATHS,
    "MYSQL_DATABASE": TEXTS,
    "MIGRATE_TARGETS": TEXTS,
    "MIGRATE_SHADOW_DATABASE_URL": (["mysql://root@shadow/x", ""], []),
    "MIGRATE_WAIT_TIMEOUT": NUMBERS,
    "MIGRATE_CONNECT_TIMEOUT": POSITIVE,
    "MIGRATE_LOCK_TIMEOUT": NUMBERS,
    "MIGRATE_DDL_LOCK_TIMEOUT": INTEGERS_FROM_1,
    "MIGRATE_HEAD_TIMEOUT": NUMBERS,
    "MIGRATE_BLOCKING_DDL": (["allow", "warn", "refuse"], ["Refuse", "", "block"]),
    "MIGRATE_DRIFT": (["off", "warn", "fail"], ["Fail", "", "on"]),
    "MIGRATE_BLOCKING_DDL_MIN_ROWS": INTEGERS_FROM_0,
    "MIGRATE_PROGRESS_INTERVAL": (["1", "10", "2.5"], ["0", "0.5", "-1", "", "1e3"]),
    "MIGRATE_ON_UNKNOWN_REVISION": (["fail", "skip"], ["Skip", "", "ignore"]),
    "MIGRATE_LOCK": (["get_lock", "none"], ["None", "advisory"]),
    "MIGRATE_TERMINATION_LOG": PATHS,
    "MIGRATE_PARALLEL": INTEGERS_FROM_1,
    "MIGRATE_SHARD_ISOLATION": (["thread", "process"], ["Thread", "", "fork"]),
    "MIGRATE_ON_SHARD_FAILURE": (["stop", "continue"], ["STOP", ""]),
    "MIGRATE_SHARD_INDEX": INTEGERS_FROM_0,
    "JOB_COMPLETION_INDEX": INTEGERS_FROM_0,
    "MIGRATE_SHARD_COUNT": INTEGERS_FROM_1,
    "POD_NAME": TEXTS,
    "POD_NAMESPACE": TEXTS,
    "MIGRATE_LOG_FORMAT": (["auto", "text", "json"], ["JSON", "", "yaml"]),
    "MIGRATE_MIGRATIONS_DIR": PATHS,
    "MIGRATE_SCHEMA": (
        ["schema:metadata", "app.models:Base", "app.models:Base.metadata"],
        ["schema", "a:b:c", "1x:m", "", "app:Base.", "app:Base..metadata"],
    ),
    "MIGRATE_DEBUG": (["0", "1", "true", "false"], ["TRUE", "yes", "", "2"]),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALIASES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _plain(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def _assert_same(fast: Settings, environ: dict[str, str]) -> None:
    """pydantic-settings, reading the same environment, accepts it and finds the same values."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        settings = load_settings(None)
    for name in environment_model().model_fields:
        expected, actual = getattr(settings, name), getattr(fast, name)
        assert _plain(actual) == _plain(expected), name
        assert type(actual) is type(expected), name


def test_it_reads_every_variable_settings_reads_into_the_same_fields() -> None:
    assert {declared.variable: declared.name for declared in declarations()} == ALIASES
    fields = {field.name for field in dataclasses.fields(Settings) if "setting" in field.metadata}
    assert fields == set(ALIASES.values())


def test_defaults_are_the_same() -> None:
    fast = read_fast_settings({}, None)

    assert fast is not None
    _assert_same(fast, {})


@pytest.mark.parametrize(
    ("variable", "value", "vouched"),
    [
        (variable, value, vouched)
        for variable, (accepted, aside) in SAMPLES.items()
        for vouched, values in ((True, accepted), (False, aside))
        for value in values
    ],
)
def test_a_value_it_accepts_means_the_same_to_settings(
    variable: str, value: str, vouched: bool
) -> None:
    fast = read_fast_settings({variable: value}, None)

    assert (fast is not None) == vouched
    if fast is not None:
        _assert_same(fast, {variable: value})


def test_every_variable_has_samples() -> None:
    assert set(SAMPLES) == set(ALIASES)


def test_it_accepts_the_environments_the_image_and_manifests_set() -> None:
    environ = {
        "DATABASE_URL_FILE": "/run/secrets/database-url",
        "MIGRATE_LOG_FORMAT": "json",
        "MIGRATE_WAIT_TIMEOUT": "120",
        "MIGRATE_LOCK_TIMEOUT": "600",
        "POD_NAME": "api-7d9c-x2x",
        "POD_NAMESPACE": "shop",
        "MIGRATE_PARALLEL": "8",
        "MIGRATE_SHARD_COUNT": "4",
        "JOB_COMPLETION_INDEX": "2",
    }

    fast = read_fast_settings(environ, None)

    assert fast is not None
    _assert_same(fast, environ)
    assert fast.pod_slice() == (2, 4)
    assert fast.runner_name("host-1") == "shop/api-7d9c-x2x"


@pytest.mark.parametrize(
    ("environ", "runner"),
    [
        ({}, "host-1"),
        ({"POD_NAME": "api-7d9c-x2x"}, "api-7d9c-x2x"),
        ({"POD_NAMESPACE": "shop"}, "host-1"),  # a namespace alone names no one
        ({"POD_NAME": "", "POD_NAMESPACE": "shop"}, "host-1"),
        ({"POD_NAME": "api-7d9c-x2x", "POD_NAMESPACE": ""}, "api-7d9c-x2x"),
        ({"POD_NAME": "api-7d9c-x2x", "POD_NAMESPACE": "shop"}, "shop/api-7d9c-x2x"),
    ],
)
def test_the_runner_is_named_as_kubectl_names_a_pod(environ: dict[str, str], runner: str) -> None:
    settings = read_fast_settings(environ, None)

    assert settings is not None
    assert settings.runner_name("host-1") == runner


@pytest.mark.parametrize(
    "environ",
    [
        {"MIGRATE_WAIT_TIMEOUT": "1e3"},
        {"MIGRATE_DEBUG": "yes"},
        {"MIGRATE_LOG_FORMAT": "JSON"},
        {"MIGRATE_PARALLEL": "0"},
        {"DATABASE_URL": "mysql://db/x", "MIGRATE_CONNECT_TIMEOUT": "0"},
    ],
)
def test_it_steps_aside_for_anything_unusual(environ: dict[str, str]) -> None:
    assert read_fast_settings(environ, None) is None


def test_a_dotenv_file_is_left_to_pydantic_settings(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=mysql://root@db/x\n")

    assert read_fast_settings({}, env_file) is None
    assert read_fast_settings({}, tmp_path / "missing.env") is not None


def test_derived_values_come_from_the_same_code(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    environ = {
        "MYSQL_HOST": "db",
        "MYSQL_DATABASE": "shop",
        "MYSQL_USER": "app",
        "MYSQL_PASSWORD_FILE": str(secret),
    }
    fast = read_fast_settings(environ, None)
    assert fast is not None
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        settings = load_settings(None)

    assert fast.database_target() == settings.database_target()
    assert fast.database_target().password.get_secret_value() == "s3cret"
