"""The verdict corpus: `plan`'s verdict for a statement, measured on an empty copy, equals
what the server itself does with that statement on the live table, rows and all.

Each case builds a live table in some state (rows, a FULLTEXT index, compressed rows,
used-up instant row versions, a cascading foreign key), asks `plan`, then offers the
statement to the live table at the same levels, cheapest first: the level the server
accepts there is the expectation. Nothing here is a hand-kept rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pymysql
import pytest

from migrator.ddl import cheapest, levels, statements
from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.servers import ScratchDatabase

PARENT = "CREATE TABLE p (id INT PRIMARY KEY)"
TABLE = (
    "CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, a INT NOT NULL DEFAULT 0,"
    " name VARCHAR(40) NOT NULL DEFAULT '', short VARCHAR(60) NULL,"
    " kind ENUM('x', 'y') NOT NULL DEFAULT 'x', note TEXT NULL, pid INT NULL,"
    " KEY ix_a (a)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
)
ROWS = 100
FULLTEXT = "ALTER TABLE t ADD FULLTEXT INDEX ft_name (name)"
FOREIGN_KEY = "ALTER TABLE t ADD CONSTRAINT fk_p FOREIGN KEY (pid) REFERENCES p (id)"
CASCADE = FOREIGN_KEY + " ON DELETE CASCADE"
USED_UP = "used up instant row versions"  # a setup step the test performs itself


@dataclass(frozen=True)
class Case:
    name: str
    statement: str
    setup: tuple[str, ...] = ()


CASES = [
    Case("add_column_trailing", "ALTER TABLE t ADD COLUMN c INT NULL"),
    Case("add_column_middle", "ALTER TABLE t ADD COLUMN c INT NULL AFTER a"),
    Case("add_column_first", "ALTER TABLE t ADD COLUMN c INT NULL FIRST"),
    Case("add_column_not_null_default", "ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 5"),
    Case("add_column_expression_default", "ALTER TABLE t ADD COLUMN c INT NULL DEFAULT (1 + 1)"),
    Case("drop_column", "ALTER TABLE t DROP COLUMN note"),
    Case("drop_indexed_column", "ALTER TABLE t DROP COLUMN a"),
    Case("rename_column", "ALTER TABLE t RENAME COLUMN short TO label"),
    Case("set_default", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 7"),
    Case("drop_default", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT"),
    Case("varchar_widen_within_255_bytes", "ALTER TABLE t MODIFY short VARCHAR(63) NULL"),
    Case("varchar_widen_across_255_bytes", "ALTER TABLE t MODIFY short VARCHAR(64) NULL"),
    Case("varchar_narrow", "ALTER TABLE t MODIFY short VARCHAR(30) NULL"),
    Case("int_to_bigint", "ALTER TABLE t MODIFY a BIGINT NOT NULL DEFAULT 0"),
    Case("null_to_not_null", "ALTER TABLE t MODIFY short VARCHAR(60) NOT NULL"),
    Case("not_null_to_null", "ALTER TABLE t MODIFY name VARCHAR(40) NULL DEFAULT ''"),
    Case("column_comment", "ALTER TABLE t MODIFY name VARCHAR(40) NOT NULL DEFAULT '' COMMENT 'n'"),
    Case(
        "column_collation",
        "ALTER TABLE t MODIFY name VARCHAR(40) COLLATE utf8mb4_bin NOT NULL DEFAULT ''",
    ),
    Case("add_index", "ALTER TABLE t ADD INDEX ix_name (name)"),
    Case("add_unique_index", "ALTER TABLE t ADD UNIQUE INDEX uq_name (name)"),
    Case("drop_index", "ALTER TABLE t DROP INDEX ix_a"),
    Case("rename_index", "ALTER TABLE t RENAME INDEX ix_a TO ix_a2"),
    Case("create_index_statement", "CREATE INDEX ix_name ON t (name)"),
    Case("drop_index_statement", "DROP INDEX ix_a ON t"),
    Case("add_fulltext_index", FULLTEXT),
    Case("add_column_to_fulltext_table", "ALTER TABLE t ADD COLUMN c INT NULL", (FULLTEXT,)),
    Case("add_foreign_key", FOREIGN_KEY),
    Case("drop_foreign_key", "ALTER TABLE t DROP FOREIGN KEY fk_p", (FOREIGN_KEY,)),
    Case("retype_with_cascading_key", "ALTER TABLE t MODIFY a BIGINT NOT NULL", (CASCADE,)),
    Case("enum_append", "ALTER TABLE t MODIFY kind ENUM('x', 'y', 'z') NOT NULL DEFAULT 'x'"),
    Case("enum_insert", "ALTER TABLE t MODIFY kind ENUM('x', 'w', 'y') NOT NULL DEFAULT 'x'"),
    Case("add_virtual_generated_column", "ALTER TABLE t ADD COLUMN g INT AS (a + 1) VIRTUAL"),
    Case("add_stored_generated_column", "ALTER TABLE t ADD COLUMN g INT AS (a + 1) STORED"),
    Case("convert_character_set", "ALTER TABLE t CONVERT TO CHARACTER SET latin1"),
    Case("change_primary_key", "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, a)"),
    Case(
        "add_column_to_compressed_table",
        "ALTER TABLE t ADD COLUMN c INT NULL",
        ("ALTER TABLE t ROW_FORMAT=COMPRESSED",),
    ),
    pytest.param(
        Case(
            "add_column_with_row_versions_used_up",
            "ALTER TABLE t ADD COLUMN c INT NULL",
            (USED_UP,),
        ),
        marks=pytest.mark.mysql_only(reason="MariaDB has no instant row-version limit"),
        id="add_column_with_row_versions_used_up",
    ),
    Case("multi_clause_cheap", "ALTER TABLE t ADD COLUMN c INT NULL, ADD INDEX ix_name (name)"),
    Case(
        "multi_clause_worst_wins",
        "ALTER TABLE t ADD COLUMN c INT NULL, MODIFY a BIGINT NOT NULL DEFAULT 0",
    ),
    Case("table_comment", "ALTER TABLE t COMMENT = 'players'"),
    Case("rebuild", "ALTER TABLE t ENGINE=InnoDB"),
    Case("rename_table_by_alter", "ALTER TABLE t RENAME TO t2"),
    Case("create_table", "CREATE TABLE n (id INT PRIMARY KEY)"),
    Case("drop_table", "DROP TABLE t"),
]


def spend_row_versions(connection: pymysql.Connection[Any]) -> None:
    """Add and drop a column instantly until the server refuses: MySQL's limit."""
    with connection.cursor() as cursor:
        for _ in range(1000):
            try:
                cursor.execute("ALTER TABLE t ADD COLUMN spare INT, ALGORITHM=INSTANT")
                cursor.execute("ALTER TABLE t DROP COLUMN spare, ALGORITHM=INSTANT")
            except pymysql.err.OperationalError:
                return
    raise AssertionError("no instant row-version limit within 1000 versions")


def live_verdict(database: ScratchDatabase, statement: str) -> tuple[str | None, str | None]:
    """What the server does with ``statement`` on the live table: (algorithm, lock)."""
    parsed = statements.parse(statement)
    if parsed.alterable is None:
        return None, None
    connection = database.server.connect(database.name)
    try:
        with connection.cursor() as cursor:
            outcome = cheapest.run_cheapest(cursor, parsed, levels.LADDER)
    finally:
        connection.close()
    assert outcome.level is not None, outcome.refusals
    algorithm = "INPLACE" if outcome.level.algorithm == "NOCOPY" else outcome.level.algorithm
    return algorithm, outcome.level.lock_level


@pytest.mark.parametrize("case", CASES, ids=[getattr(case, "name", None) for case in CASES])
def test_plan_agrees_with_the_server_on_the_live_table(
    case: Case, migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("v1", None, upgrade=[sql(PARENT), sql(TABLE)])
    assert migrate("upgrade").code == 0
    values = ", ".join(f"({i}, {i}, 'n{i}', 's{i}', 'x', NULL, NULL)" for i in range(1, ROWS + 1))
    database.execute(f"INSERT INTO t VALUES {values}")
    for step in case.setup:
        if step == USED_UP:
            connection = database.server.connect(database.name)
            try:
                spend_row_versions(connection)
            finally:
                connection.close()
        else:
            database.execute(step)
    # Row versions are only visible with PROCESS on MySQL, as docs/big-tables.md says.
    assert database.app_user is not None
    database.server.execute(f"GRANT PROCESS ON *.* TO '{database.app_user[0]}'@'%'")
    migrations.add("v2", "v1", upgrade=[sql(case.statement)])
    before = live_checksum(database)

    result = migrate("plan", "--format", "json")

    assert live_checksum(database) == before
    assert result.code == 0, result.stderr
    (planned,) = json.loads(result.stdout)["statements"]
    assert (planned["algorithm"], planned["lock"]) == live_verdict(database, case.statement), (
        planned
    )
    if planned["algorithm"] is not None:
        assert planned["blocks_writes"] is (
            planned["algorithm"] != "INSTANT" and planned["lock"] != "NONE"
        )
