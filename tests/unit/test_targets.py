"""Declaring targets and shards with environment variables, and slicing shards across pods."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import ConfigError
from migrator.fleet.threads import NOT_STARTED, worst
from migrator.settings.target import Project, parse_database_url
from migrator.settings.targets import declared_names, discover, select, slice_for_pod, undeclared

PROJECT = Project(Path("/app/migrations"), "schema:metadata")
DEFAULT = parse_database_url("mysql://app@db/main")


def test_the_default_target_alone_is_unchanged() -> None:
    targets = discover({}, DEFAULT, PROJECT)

    assert [(t.name, t.project, t.shards) for t in targets] == [("default", PROJECT, (DEFAULT,))]
    assert select(targets, None).shards == (DEFAULT,)


def test_named_targets_find_their_schema_and_migrations_by_convention() -> None:
    environ = {"DATABASE_URL_LOG": "mysql://app@db/log", "DATABASE_URL_AUDIT": "mysql://a@db/audit"}

    targets = discover(environ, DEFAULT, PROJECT, ["log", "audit"])

    assert [t.name for t in targets] == ["default", "log", "audit"]  # MIGRATE_TARGETS' order
    log = select(targets, "log")
    assert log.project == Project(Path("/app/migrations/log"), "schema.log:metadata", "_LOG")
    assert log.shards[0].database == "log"


def test_per_target_overrides() -> None:
    environ = {
        "DATABASE_URL_LOG": "mysql://app@db/log",
        "MIGRATE_MIGRATIONS_DIR_LOG": "/srv/log-migrations",
        "MIGRATE_SCHEMA_LOG": "logs.models:meta",
    }

    log = select(discover(environ, None, PROJECT, ["log"]), "LOG")

    assert log.project == Project(Path("/srv/log-migrations"), "logs.models:meta", "_LOG")


def test_shards_as_a_list_a_file_and_a_template(tmp_path: Path) -> None:
    urls = tmp_path / "shards"
    urls.write_text("mysql://app@db/f0\n\nmysql://app@db/f1\n")
    environ = {
        "DATABASE_URL_LIST": "mysql://app@db/l0, mysql://app@db/l1\nmysql://app@db/l2",
        "DATABASE_URL_FILED_FILE": str(urls),
        "DATABASE_URL_GAME_TEMPLATE": "mysql://app@db/game_{shard}",
        "DATABASE_URL_GAME_SHARDS": "0-15",
    }

    targets = {t.name: t for t in discover(environ, None, PROJECT, ["list", "filed", "game"])}

    assert [s.database for s in targets["list"].shards] == ["l0", "l1", "l2"]
    assert [s.database for s in targets["filed"].shards] == ["f0", "f1"]
    assert [s.database for s in targets["game"].shards] == [f"game_{i}" for i in range(16)]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"DATABASE_URL_LOG": "  "},
            "DATABASE_URL_LOG .or its _FILE or _TEMPLATE form. is not set",
        ),
        ({"DATABASE_URL_LOG_TEMPLATE": "mysql://a@db/x"}, "no {shard} placeholder"),
        ({"DATABASE_URL_LOG_TEMPLATE": "mysql://a@db/x_{shard}"}, "needs DATABASE_URL_LOG_SHARDS"),
        (
            {"DATABASE_URL_LOG_SHARDS": "5-1", "DATABASE_URL_LOG_TEMPLATE": "mysql://a@db/{shard}"},
            "empty",
        ),
        ({"DATABASE_URL_LOG": "mysql://a@db/x", "DATABASE_URL_LOG_FILE": "f"}, "use one of them"),
        ({"DATABASE_URL_LOG_FILE": "/nonexistent/urls"}, "no such file"),
        ({"DATABASE_URL_LOG": "postgresql://a@db/x"}, "only MySQL and MariaDB"),
    ],
)
def test_declaration_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        discover(environ, None, PROJECT, ["log"])


def test_a_missing_target_is_an_error_never_a_fallback() -> None:
    environ = {"DATABASE_URL_LOG": "mysql://a@db/log"}
    targets = discover(environ, DEFAULT, PROJECT, ["log"])

    with pytest.raises(ConfigError, match="no target named 'audit': list it in MIGRATE_TARGETS"):
        select(targets, "audit")
    with pytest.raises(ConfigError, match="no database configured"):
        select(discover(environ, None, PROJECT, ["log"]), None)


def test_a_database_url_for_an_undeclared_name_is_never_a_target() -> None:
    environ = {
        "DATABASE_URL_REPLICA": "mysql://ro@replica/main",
        "DATABASE_URL_READONLY_FILE": "/run/secrets/ro",
        "DATABASE_URL_LOG": "mysql://a@db/log",
    }

    targets = discover(environ, DEFAULT, PROJECT, ["log"])

    assert [t.name for t in targets] == ["default", "log"]
    assert undeclared(environ, ["log"]) == ["DATABASE_URL_READONLY_FILE", "DATABASE_URL_REPLICA"]


@pytest.mark.parametrize(
    ("declaration", "names"),
    [(None, []), ("", []), ("log", ["log"]), ("Log, GAME game", ["log", "game"])],
)
def test_migrate_targets_lists_names_in_order(declaration: str | None, names: list[str]) -> None:
    assert declared_names(declaration) == names


@pytest.mark.parametrize("declaration", ["9lives", "log-2", "default"])
def test_migrate_targets_refuses_names_no_variable_can_carry(declaration: str) -> None:
    with pytest.raises(ConfigError, match="MIGRATE_TARGETS"):
        declared_names(declaration)


def test_four_pods_cover_sixteen_shards_exactly_once() -> None:
    slices = [slice_for_pod(16, index, 4) for index in range(4)]

    assert sorted(position for s in slices for position in s) == list(range(16))
    assert slices[1] == [1, 5, 9, 13]
    with pytest.raises(ConfigError):
        slice_for_pod(16, 4, 4)


def test_the_worst_shard_decides_the_exit_status() -> None:
    assert worst([0, 0, NOT_STARTED]) == 0
    assert worst([0, 3, 6, 5]) == 6
    assert worst([0, 143, 3]) == 3


def test_a_shard_refused_by_the_blocking_ddl_guard_is_exit_11_not_an_internal_error() -> None:
    assert worst([0, 11]) == 11
    assert worst([0, 11, 4]) == 11
    assert worst([6, 11]) == 6
