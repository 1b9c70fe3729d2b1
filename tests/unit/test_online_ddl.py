"""Taking a DDL statement apart: which table it touches, and where the ALGORITHM/LOCK clause
goes so that the server reads it (never after a trailing comment)."""

from __future__ import annotations

import pytest

from migrator.online_ddl import Level, parse

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
            "ALTER TABLE t ALGORITHM=INSTANT, MODIFY c BIGINT -- widen",
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
            "ALTER TABLE `t` ALGORITHM=INPLACE, LOCK=NONE, ADD UNIQUE INDEX IF NOT EXISTS `uq`"
            " (a, b) -- why",
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
