"""A misspelt variable never silently turns a setting off (issue 24 item 4).

Every case runs the real entrypoint against a port that refuses connections: a run
that gets past the settings ends with exit 3, so exit 2 means the name stopped it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.settings.variable_names import review
from tests.support.refused import NO_WAIT, URL, assert_one_clear_line
from tests.support.runner import RunEntrypoint

DATABASE = {**NO_WAIT, "DATABASE_URL": URL}


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("MIGRATE_BLOCKING_DLL", "MIGRATE_BLOCKING_DDL"),
        ("MIGRATE_BLOCKING_DDL_MINROWS", "MIGRATE_BLOCKING_DDL_MIN_ROWS"),
        ("migrate_blocking_ddl", "MIGRATE_BLOCKING_DDL"),
        ("MIGRATE_LOCK_TIMEOUTS", "MIGRATE_LOCK_TIMEOUT"),
    ],
)
def test_an_undeclared_migrate_variable_is_exit_2_with_a_did_you_mean(
    run_cli: RunEntrypoint, variable: str, meant: str
) -> None:
    result = run_cli("upgrade", **DATABASE, **{variable: "refuse"})

    assert result.code == 2, result.stderr
    assert_one_clear_line(result.stderr, f"{variable} is not a setting of this runner")
    assert f"did you mean {meant}?" in result.error["message"]


def test_an_undeclared_migrate_variable_in_dotenv_is_exit_2(
    run_cli: RunEntrypoint, tmp_path: Path
) -> None:
    (tmp_path / "cwd" / ".env").write_text(f"DATABASE_URL={URL}\nMIGRATE_BLOCKING_DLL=refuse\n")

    result = run_cli("upgrade", **NO_WAIT)

    assert result.code == 2, result.stderr
    assert_one_clear_line(result.stderr, "MIGRATE_BLOCKING_DLL (from .env) is not a setting")
    assert "did you mean MIGRATE_BLOCKING_DDL?" in result.error["message"]


def test_a_named_targets_misspelt_variable_is_exit_2(run_cli: RunEntrypoint) -> None:
    result = run_cli(
        "status",
        **DATABASE,
        MIGRATE_TARGETS="game",
        DATABASE_URL_GAME=URL,
        MIGRATE_SCHEMA_GAEM="game:metadata",
    )

    assert result.code == 2, result.stderr
    assert "did you mean MIGRATE_SCHEMA_GAME?" in result.error["message"]


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("DATABSE_URL", "DATABASE_URL"),
        ("MYSQL_PASSWROD", "MYSQL_PASSWORD"),
        ("DATABASE_URL_FIEL", "DATABASE_URL_FILE"),
        ("DATABASE_URL_GAEM", "DATABASE_URL_GAME"),
        ("database_url", "DATABASE_URL"),
    ],
)
@pytest.mark.parametrize("place", ["environment", ".env"])
def test_a_near_miss_in_a_shared_namespace_is_a_warning_with_a_did_you_mean(
    run_cli: RunEntrypoint, tmp_path: Path, variable: str, meant: str, place: str
) -> None:
    settings = {**DATABASE, "MIGRATE_TARGETS": "game", "DATABASE_URL_GAME": URL}
    if place == ".env":
        (tmp_path / "cwd" / ".env").write_text(f"{variable}=x\n")
    else:
        settings[variable] = "x"

    result = run_cli("wait", **settings)

    assert result.code == 3, result.stderr  # the run went on
    warnings = [entry["message"] for entry in result.logs if entry["level"] == "warning"]
    origin = " (from .env)" if place == ".env" else ""
    assert warnings == [
        f"{variable}{origin} is not a setting of this runner: did you mean {meant}?"
    ]


def test_the_official_images_and_kubernetes_variables_are_left_alone(
    run_cli: RunEntrypoint,
) -> None:
    shared = {
        "MYSQL_ROOT_PASSWORD": "x",
        "MYSQL_ALLOW_EMPTY_PASSWORD": "yes",
        "MYSQL_RANDOM_ROOT_PASSWORD": "yes",
        "MYSQL_ONETIME_PASSWORD": "yes",
        "MYSQL_INITDB_SKIP_TZINFO": "1",
        "MYSQL_ROOT_HOST": "%",
        "MYSQL_PWD": "x",
        # What Kubernetes injects for a Service named `migrate` in the namespace.
        "MIGRATE_SERVICE_HOST": "10.0.0.1",
        "MIGRATE_SERVICE_PORT": "80",
        "MIGRATE_PORT": "tcp://10.0.0.1:80",
        "MIGRATE_PORT_80_TCP": "tcp://10.0.0.1:80",
        "MIGRATE_PORT_80_TCP_ADDR": "10.0.0.1",
        "NODE_NAME": "node-1",
        "POD_IP": "10.0.0.2",
    }

    result = run_cli("wait", **DATABASE, **shared)

    assert result.code == 3, result.stderr
    assert [entry for entry in result.logs if entry["level"] == "warning"] == []


def test_an_unlisted_targets_url_is_logged_once_as_ignored(run_cli: RunEntrypoint) -> None:
    result = run_cli("status", **DATABASE, DATABASE_URL_REPLICA=URL)

    assert result.code == 3, result.stderr
    about_it = [entry for entry in result.logs if "DATABASE_URL_REPLICA" in entry["message"]]
    assert [(entry["level"], entry["message"]) for entry in about_it] == [
        ("info", "DATABASE_URL_REPLICA: not a migration target (MIGRATE_TARGETS does not list"
                 " it), ignored"),
    ]  # fmt: skip


def test_an_ordinary_environment_has_nothing_to_say() -> None:
    environ = dict.fromkeys(
        [
            "PATH",
            "HOME",
            "HOSTNAME",
            "PYTHONPATH",
            "KUBERNETES_SERVICE_HOST",
            "KUBERNETES_PORT_443_TCP",
            "POD_NAME",
            "DATABASE_URL_FILE",
            "MIGRATE_LOG_FORMAT",
        ],
        "x",
    )

    found = review(environ, [])

    assert (found.errors, found.warnings, found.ignored) == ([], [], [])


@pytest.mark.parametrize(
    ("stranger", "code"),
    [({}, 3), ({"MIGRATE_BLOCKING_DLL": "refuse"}, 2), ({"DATABSE_URL": URL}, 3)],
    ids=["none", "a misspelt MIGRATE_ variable", "a near miss"],
)
def test_the_review_runs_on_the_fast_path_without_pydantic(
    run_cli: RunEntrypoint, stranger: dict[str, str], code: int
) -> None:
    """The names are judged on the fast reader's path too, which must stay light: no
    pydantic ever, and difflib only to word a message."""
    result = run_cli("wait", **DATABASE, **stranger, PYTHONVERBOSE="1")

    assert result.code == code, result.stderr[-2000:]
    assert "import 'migrator.settings.variable_names'" in result.stderr  # the probe sees imports
    assert "import 'pydantic'" not in result.stderr
    assert ("import 'difflib'" in result.stderr) == ("MIGRATE_BLOCKING_DLL" in stranger)
