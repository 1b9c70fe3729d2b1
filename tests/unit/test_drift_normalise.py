"""Drift's normalisation: one schema as MySQL and as MariaDB print it is one schema, one print."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.drift.compare import compare
from migrator.drift.fingerprint import fingerprint
from migrator.drift.normalise import normalise, normalise_expression
from migrator.drift.report import NAMES_SHOWN, DatabaseDrift, summary
from migrator.drift.snapshot import RawSchema


def column(name: str, column_type: str, **fields: Any) -> dict[str, Any]:
    row = {
        "table_name": "t",
        "column_name": name,
        "ordinal_position": 1,
        "column_type": column_type,
        "data_type": column_type.split("(", maxsplit=1)[0].split(maxsplit=1)[0],
        "is_nullable": "YES",
        "column_default": None,
        "extra": "",
        "character_set_name": None,
        "collation_name": None,
        "generation_expression": None,
        "column_comment": "",
    }
    row.update(fields)
    return row


def index(name: str, position: int, column_name: str, **fields: Any) -> dict[str, Any]:
    row = {
        "table_name": "t",
        "index_name": name,
        "non_unique": 1,
        "seq_in_index": position,
        "column_name": column_name,
        "collation": "A",
        "sub_part": None,
        "index_type": "BTREE",
    }
    row.update(fields)
    return row


def schema(database: str, *, mariadb: bool) -> RawSchema:
    """The same table as each server prints it."""
    text = {"character_set_name": "utf8mb3" if mariadb else "utf8", "collation_name":
            "utf8mb3_general_ci" if mariadb else "utf8_general_ci"}  # fmt: skip
    columns = [
        column("id", "int(11)" if mariadb else "int", is_nullable="NO", extra="auto_increment"),
        column("name", "varchar(20)", column_default="'it''s'" if mariadb else "it's", **text),
        column("n", "int(11)" if mariadb else "int", column_default="NULL" if mariadb else None),
        column(
            "at",
            "timestamp",
            is_nullable="NO",
            column_default="current_timestamp()" if mariadb else "CURRENT_TIMESTAMP",
            extra="on update current_timestamp()"
            if mariadb
            else "DEFAULT_GENERATED on update CURRENT_TIMESTAMP",
        ),
        column(
            "doc",
            "longtext" if mariadb else "json",
            **(
                {"character_set_name": "utf8mb4", "collation_name": "utf8mb4_bin"}
                if mariadb
                else {}
            ),
        ),
        column("parent", "int(11)" if mariadb else "int"),
    ]
    statistics = [
        index("PRIMARY", 1, "id", non_unique=0),
        index("ix_b", 1, "n"),
        index("ix_a", 2, "name", sub_part=5),
        index("ix_a", 1, "n", collation="D"),
    ]
    if mariadb:
        statistics.reverse()  # another order: kept by name, never by position
    checks = [{"table_name": "t", "constraint_name": "ck", "check_clause": "`n` > 0" if mariadb
               else "(`n` > 0)"}]  # fmt: skip
    if mariadb:
        checks.append(
            {"table_name": "t", "constraint_name": "doc", "check_clause": "json_valid(`doc`)"}
        )
    return RawSchema(
        database,
        mariadb,
        tables=[
            {
                "table_name": "t",
                "table_type": "BASE TABLE",
                "engine": "InnoDB",
                "row_format": "Dynamic",
                "table_collation": "utf8mb4_general_ci",
                "table_comment": "",
            },
            {
                "table_name": "alembic_version",
                "table_type": "BASE TABLE",
                "engine": "InnoDB",
                "row_format": "Dynamic",
                "table_collation": "utf8mb4_general_ci",
                "table_comment": "",
            },
            {
                "table_name": "v",
                "table_type": "VIEW",
                "engine": None,
                "row_format": None,
                "table_collation": None,
                "table_comment": "VIEW",
            },
        ],
        columns=columns,
        statistics=statistics,
        foreign_keys=[
            {
                "table_name": "t",
                "constraint_name": "fk",
                "ordinal_position": 1,
                "column_name": "parent",
                "referenced_table_schema": database,
                "referenced_table_name": "t",
                "referenced_column_name": "id",
                "update_rule": "RESTRICT" if mariadb else "NO ACTION",
                "delete_rule": "CASCADE",
            },
        ],
        checks=checks,
        views=[
            {
                "table_name": "v",
                "check_option": "NONE",
                # MySQL adds parentheses inside; each server compares with itself.
                "view_definition": f"select `{database}`.`t`.`id` AS `id`"
                f" from `{database}`.`t` where `{database}`.`t`.`n` > 1",
            },
        ],
        triggers=[],
    )


def test_one_schema_as_mysql_and_mariadb_print_it_has_one_fingerprint() -> None:
    mysql, mariadb = normalise(schema("app", mariadb=False)), normalise(schema("app", mariadb=True))

    assert compare(mariadb, mysql) == []
    assert fingerprint(mariadb) == fingerprint(mysql)
    assert set(mysql.tables) == {"t"}  # the bookkeeping table and the view are not tables
    assert mysql.tables["t"].columns["doc"].type == "json"
    assert mariadb.tables["t"].checks.keys() == {"ck"}  # JSON's json_valid is not a CHECK


def test_the_database_name_is_not_part_of_the_schema() -> None:
    """A shadow database and the live one have different names; nothing else differs."""
    live, shadow = (
        normalise(schema("app", mariadb=True)),
        normalise(schema("app_shadow_1", mariadb=True)),
    )

    assert fingerprint(live) == fingerprint(shadow)


def test_a_difference_changes_the_fingerprint() -> None:
    raw = schema("app", mariadb=False)
    before = normalise(raw)
    raw.columns[1]["column_type"] = "varchar(30)"
    after = normalise(raw)

    assert fingerprint(before) != fingerprint(after)
    [difference] = compare(after, before)
    assert difference.as_json() == {
        "object": "t.name",
        "kind": "changed",
        "live": "VARCHAR(30)",
        "migrations": "VARCHAR(20)",
    }


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("current_timestamp()", "CURRENT_TIMESTAMP"),
        ("now(6)", "CURRENT_TIMESTAMP(6)"),
        ("(`a` + 1)", "`a` + 1"),
        ("_utf8mb4\\'x\\'", "'x'"),
        ("`a` is  null", "a is null"),
    ],
)
def test_expressions_as_servers_print_them_are_one(one: str, other: str) -> None:
    assert normalise_expression(one) == normalise_expression(other)


def test_case_inside_a_literal_is_kept() -> None:
    assert normalise_expression("status = 'A'") != normalise_expression("status = 'a'")


def test_the_summary_names_at_most_twenty_drifted_databases() -> None:
    before = normalise(schema("app", mariadb=False))
    raw = schema("app", mariadb=False)
    raw.columns[1]["column_type"] = "varchar(30)"
    differences = compare(normalise(raw), before)
    results = [DatabaseDrift(f"game_{n}", "game", n, "r1", differences) for n in range(25)]
    results.append(DatabaseDrift("game_25", "game", 25, "r1", []))

    line = summary(results)

    assert line.startswith(
        "1 database matches its migrations; 25 differ: game_0 (t.name VARCHAR(30) live,"
        " VARCHAR(20) by the migrations), game_1 ("
    )
    assert line.endswith(f"and {25 - NAMES_SHOWN} more")
    assert "game_20 (" not in line
