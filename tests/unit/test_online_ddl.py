"""Taking a DDL statement apart: which table it touches, and where the ALGORITHM/LOCK clause
goes so that the server reads it (never after a trailing comment, never before an author's
clause that would override it), or that it cannot be taken apart for certain."""

from __future__ import annotations

import pytest

from migrator.ddl.levels import LADDER, NOT_BLOCKING, Level
from migrator.ddl.statements import parse

INSTANT = Level("INSTANT", None)
ONLINE = Level("INPLACE", "NONE")


@pytest.mark.parametrize(
    ("statement", "table", "with_clause"),
    [
        (
            "ALTER TABLE t ADD COLUMN c INT",
            "t",
            "ALTER TABLE t ALGORITHM=INSTANT, ADD COLUMN c INT",
        ),
        (
            "alter table `db`.`order` add column c int",
            "order",
            "alter table `db`.`order` ALGORITHM=INSTANT, add column c int",
        ),
        (
            "ALTER TABLE app.t DROP COLUMN c",
            "t",
            "ALTER TABLE app.t ALGORITHM=INSTANT, DROP COLUMN c",
        ),
        (
            "ALTER TABLE t MODIFY c BIGINT -- widen",
            "t",
            "ALTER TABLE t ALGORITHM=INSTANT, MODIFY c BIGINT",
        ),
        (
            "/* why */ -- and why\n  ALTER IGNORE TABLE `a``b` ADD c INT;",
            "a`b",
            "ALTER IGNORE TABLE `a``b` ALGORITHM=INSTANT, ADD c INT",
        ),
        (
            "ALTER ONLINE TABLE t ADD c INT",
            "t",
            "ALTER ONLINE TABLE t ALGORITHM=INSTANT, ADD c INT",
        ),
        ("ALTER TABLE t ENGINE=InnoDB", "t", "ALTER TABLE t ALGORITHM=INSTANT, ENGINE=InnoDB"),
    ],
)
def test_an_alter_gets_its_clause_right_after_the_table(
    statement: str, table: str, with_clause: str
) -> None:
    parsed = parse(statement)

    assert (parsed.kind, parsed.table) == ("alter", table)
    assert parsed.at(INSTANT) == with_clause


@pytest.mark.parametrize(
    ("statement", "table", "with_clause"),
    [
        (
            "CREATE INDEX ix_name ON accounts (name)",
            "accounts",
            "ALTER TABLE accounts ALGORITHM=INPLACE, LOCK=NONE, ADD INDEX ix_name (name)",
        ),
        (
            "CREATE UNIQUE INDEX IF NOT EXISTS `uq` ON db.`t` (a, b) -- why",
            "t",
            "ALTER TABLE db.`t` ALGORITHM=INPLACE, LOCK=NONE, ADD UNIQUE INDEX IF NOT EXISTS `uq`"
            " (a, b)",
        ),
        (
            "CREATE FULLTEXT INDEX ft ON t (b)",
            "t",
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD FULLTEXT INDEX ft (b)",
        ),
        (
            "DROP INDEX ix_a ON t",
            "t",
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, DROP INDEX ix_a",
        ),
        (
            "DROP INDEX IF EXISTS `ix` ON `t`",
            "t",
            "ALTER TABLE `t` ALGORITHM=INPLACE, LOCK=NONE, DROP INDEX IF EXISTS `ix`",
        ),
    ],
)
def test_index_statements_become_the_same_alter(
    statement: str, table: str, with_clause: str
) -> None:
    parsed = parse(statement)

    assert parsed.table == table
    assert parsed.at(ONLINE) == with_clause


@pytest.mark.parametrize(
    ("statement", "kind", "table"),
    [
        ("CREATE TABLE IF NOT EXISTS `n` (id INT PRIMARY KEY)", "create_table", "n"),
        ("DROP TABLE IF EXISTS db.t", "drop_table", "t"),
        ("RENAME TABLE t TO t2", "rename_table", "t"),
        ("UPDATE t SET a = 1", "other", None),
        ("INSERT INTO t VALUES (1)", "other", None),
        # Table DDL the patterns cannot take apart is not waved through as "other".
        ("ALTER /*!50100 IGNORE */ TABLE t ADD c INT", "unparsed", None),
    ],
)
def test_other_statements_take_no_clause(statement: str, kind: str, table: str | None) -> None:
    parsed = parse(statement)

    assert (parsed.kind, parsed.table, parsed.alterable) == (kind, table, None)


@pytest.mark.parametrize(
    ("statement", "algorithm", "lock", "with_clause"),
    [
        # The server takes the last ALGORITHM and LOCK written: the author's are taken out
        # of the statement and kept, so that no clause of the guard's is overridden.
        (
            "ALTER TABLE t MODIFY c INT, ALGORITHM=COPY",
            "COPY",
            None,
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, MODIFY c INT",
        ),
        (
            "alter table t lock = shared , algorithm copy, modify c int -- , ALGORITHM=INSTANT",
            "COPY",
            "SHARED",
            "alter table t ALGORITHM=INPLACE, LOCK=NONE, modify c int",
        ),
        (
            "ALTER TABLE t ALGORITHM=INSTANT, MODIFY c INT, ALGORITHM=COPY",
            "COPY",
            None,
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, MODIFY c INT",
        ),
        (
            "ALTER TABLE t ALGORITHM=DEFAULT, LOCK=DEFAULT, ADD COLUMN algorithm INT",
            None,
            None,
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD COLUMN algorithm INT",
        ),
        (
            "ALTER ONLINE TABLE t ADD c INT",
            None,
            "NONE",
            "ALTER ONLINE TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD c INT",
        ),
        (
            "ALTER ONLINE TABLE t ADD c INT, LOCK=SHARED",
            None,
            "SHARED",
            "ALTER ONLINE TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD c INT",
        ),
        (
            "SET STATEMENT max_statement_time=1, sql_mode=(SELECT 'a,b') FOR"
            " ALTER TABLE t WAIT 5 MODIFY c INT, LOCK=EXCLUSIVE",
            None,
            "EXCLUSIVE",
            "SET STATEMENT max_statement_time=1, sql_mode=(SELECT 'a,b') FOR"
            " ALTER TABLE t WAIT 5 ALGORITHM=INPLACE, LOCK=NONE, MODIFY c INT",
        ),
        (
            "CREATE INDEX ix ON t (c) USING BTREE COMMENT 'x' LOCK=SHARED ALGORITHM = COPY",
            "COPY",
            "SHARED",
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD INDEX ix (c) USING BTREE COMMENT 'x'",
        ),
        (
            "CREATE OR REPLACE INDEX ix ON t (c)",
            None,
            None,
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, DROP INDEX IF EXISTS ix, ADD INDEX ix (c)",
        ),
        (
            "DROP INDEX ix ON t LOCK EXCLUSIVE ALGORITHM=INPLACE",
            "INPLACE",
            "EXCLUSIVE",
            "ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, DROP INDEX ix",
        ),
    ],
)
def test_the_authors_clauses_are_kept_apart_from_the_guards(
    statement: str, algorithm: str | None, lock: str | None, with_clause: str
) -> None:
    parsed = parse(statement)

    assert (parsed.algorithm, parsed.lock) == (algorithm, lock)
    assert parsed.at(ONLINE) == with_clause


def test_only_levels_the_authors_clauses_allow_are_offered() -> None:
    copy = parse("ALTER TABLE t MODIFY c INT, ALGORITHM=COPY")
    shared = parse("ALTER TABLE t MODIFY c INT, LOCK=SHARED")
    inplace = parse("ALTER TABLE t MODIFY c INT, ALGORITHM=INPLACE")

    assert [level for level in NOT_BLOCKING if copy.allows(level)] == [Level("COPY", "NONE")]
    assert [level for level in NOT_BLOCKING if shared.allows(level)] == []
    assert [level for level in LADDER if shared.allows(level)] == [
        Level("INPLACE", "SHARED"),
        Level("COPY", "SHARED"),
    ]
    assert [level for level in NOT_BLOCKING if inplace.allows(level)] == [ONLINE]


@pytest.mark.parametrize(
    ("statement", "forbids"),
    [
        ("ALTER TABLE t ADD c INT, ALGORITHM=INSTANT", True),
        ("ALTER TABLE t ADD c INT, LOCK=NONE", True),
        ("ALTER ONLINE TABLE t ADD c INT", True),
        ("ALTER TABLE t ADD c INT, ALGORITHM=INSTANT, ALGORITHM=COPY", False),
        ("ALTER TABLE t ADD c INT, LOCK=NONE, LOCK=SHARED", False),
        ("ALTER TABLE t ADD c INT, ALGORITHM=NOCOPY", False),  # may take a shared lock
        ("ALTER TABLE t ADD c INT", False),
    ],
)
def test_the_authors_clauses_alone_may_forbid_blocking_writes(
    statement: str, forbids: bool
) -> None:
    assert parse(statement).forbids_blocking is forbids


@pytest.mark.parametrize(
    ("statement", "schema", "table"),
    [
        ("ALTER TABLE live.t ADD c INT", "live", "t"),
        ("ALTER TABLE `li``ve` . `t` ADD c INT", "li`ve", "t"),
        ("CREATE INDEX ix ON live.t (c)", "live", "t"),
        ("DROP INDEX ix ON `live`.t", "live", "t"),
        ("CREATE TABLE live.n (id INT)", "live", "n"),
        ("DROP TABLE IF EXISTS live.t", "live", "t"),
        ("RENAME TABLE live.t TO live.u", "live", "t"),
        ('ALTER TABLE "live"."t" ADD c INT', "live", "t"),  # sql_mode ANSI_QUOTES
        ("ALTER TABLE t ADD c INT", None, "t"),
    ],
)
def test_a_database_qualifier_is_named_apart_from_the_table(
    statement: str, schema: str | None, table: str
) -> None:
    parsed = parse(statement)

    assert (parsed.schema, parsed.table) == (schema, table)


@pytest.mark.parametrize(
    "statement",
    [
        "/*!50000 ALTER TABLE t MODIFY c INT */",
        "/*!80000 ALTER TABLE t MODIFY c INT */",
        "/*M!100500 ALTER TABLE t MODIFY c INT */",
        "ALTER TABLE t MODIFY c INT /*!50000 , ALGORITHM=COPY */",
        "ALTER TABLE t ADD c INT; ALTER TABLE t MODIFY c BIGINT",
        "SELECT 1; ALTER TABLE t MODIFY c BIGINT",
        "ALTER TABLE t MODIFY c INT COMMENT 'x\\', ALGORITHM=COPY -- '",
        "ALTER TABLE t MODIFY c INT COMMENT 'not closed",
        "ALTER TABLE t FORCE ALGORITHM=COPY",
        "PREPARE s FROM 'ALTER TABLE t MODIFY c INT'",
        "PREPARE s FROM @statement",
        "EXECUTE IMMEDIATE 'ALTER TABLE t MODIFY c INT'",
        "CALL widen_everything()",
        "OPTIMIZE TABLE t",
        "ALTER TABLE",
    ],
)
def test_what_cannot_be_taken_apart_for_certain_is_unparsed(statement: str) -> None:
    parsed = parse(statement)

    assert parsed.kind == "unparsed"
    assert parsed.reason


@pytest.mark.parametrize(
    "statement",
    [
        "/*!40101 SET NAMES utf8mb4 */",
        "SELECT 1; SELECT 2",
        "PREPARE s FROM 'SELECT 1'",
        "EXECUTE s",
        "INSERT INTO t VALUES ('ALTER TABLE t MODIFY c INT')",
        "ALTER VIEW v AS SELECT 1",
        "UPDATE alembic_version SET version_num = 'x'",
    ],
)
def test_statements_that_change_no_table_are_left_alone(statement: str) -> None:
    assert parse(statement).kind == "other"
