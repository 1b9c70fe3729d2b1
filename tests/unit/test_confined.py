"""What a shadow session may run: the live database's name becomes the copy's, any other
database or a statement that can act outside the copy is refused before it is sent."""

from __future__ import annotations

import pytest

from migrator.autogenerate.confined import Confinement, UnsafeStatement

RULES = Confinement("Live-Db", "Live-Db_shadow_1a2b", frozenset({"live-db", "other", "mysql"}))
SHADOW = "`Live-Db_shadow_1a2b`"


@pytest.mark.parametrize(
    ("statement", "runs"),
    [
        ("ALTER TABLE `Live-Db`.t ADD x INT", f"ALTER TABLE {SHADOW}.t ADD x INT"),
        ("ALTER TABLE `live-db` . `t` ADD x INT", f"ALTER TABLE {SHADOW} . `t` ADD x INT"),
        ('ALTER TABLE "Live-Db".t ADD x INT', f"ALTER TABLE {SHADOW}.t ADD x INT"),
        (
            "/*!50000 ALTER TABLE `Live-Db`.t ADD x INT */",
            f"/*!50000 ALTER TABLE {SHADOW}.t ADD x INT */",
        ),
        ("UPDATE `Live-Db`.t SET a = 'other.t'", f"UPDATE {SHADOW}.t SET a = 'other.t'"),
        ("SELECT a.id, t.x FROM t AS a JOIN u AS t", "SELECT a.id, t.x FROM t AS a JOIN u AS t"),
        ("SELECT * FROM information_schema.columns", "SELECT * FROM information_schema.columns"),
        (f"SHOW FULL TABLES FROM {SHADOW}", f"SHOW FULL TABLES FROM {SHADOW}"),
        ("ALTER TABLE t ADD x INT -- other.t\n", "ALTER TABLE t ADD x INT -- other.t\n"),
        ("SET SESSION sql_mode = ''", "SET SESSION sql_mode = ''"),
        ("CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END", None),
        ("CREATE DEFINER=`app`@`%` TRIGGER g BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", None),
        ("CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW v AS SELECT 1", None),
        ("CREATE UNIQUE INDEX ix ON t (a)", None),
        ("DROP TEMPORARY TABLE IF EXISTS t", None),
        ("RENAME TABLE t TO `Live-Db`.u", f"RENAME TABLE t TO {SHADOW}.u"),
        ("START TRANSACTION", None),
    ],
)
def test_statements_that_stay_in_the_copy_run(statement: str, runs: str | None) -> None:
    assert RULES.statement(statement) == (runs or statement)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE other.t ADD x INT",
        "ALTER TABLE `OTHER`.t ADD x INT",
        "INSERT INTO mysql.user VALUES (1)",
        "RENAME TABLE t TO other.t",
        "/*!50000 ALTER TABLE other.t ADD x INT */",
        "/*M!100000 ALTER TABLE other.t ADD x INT */",
        "ALTER TABLE t ADD x INT; ALTER TABLE other.t ADD y INT",
        "ALTER TABLE t ADD x INT; USE other",
        "ALTER TABLE t COMMENT 'a\\' other.t'",  # code under NO_BACKSLASH_ESCAPES
        "SET STATEMENT max_statement_time=1 FOR ALTER TABLE other.t ADD x INT",
        "SET STATEMENT max_statement_time=1 FOR GRANT ALL ON *.* TO x",
        "USE other",
        "USE `Live-Db`",
        "CALL p()",
        "PREPARE s FROM 'ALTER TABLE other.t ADD x INT'",
        "EXECUTE s",
        "CREATE DATABASE x",
        "CREATE SCHEMA IF NOT EXISTS x",
        "DROP DATABASE `Live-Db`",
        "ALTER DATABASE `Live-Db` CHARACTER SET latin1",
        "CREATE EVENT e ON SCHEDULE EVERY 1 SECOND DO DELETE FROM t",
        "CREATE USER x",
        "GRANT ALL ON *.* TO x",
        "SET GLOBAL max_connections = 10",
        "SET @@global.max_connections = 10",
        "SET PERSIST max_connections = 10",
        "SET PASSWORD = 'x'",
        "SELECT 1 INTO OUTFILE '/tmp/x'",
        "CREATE FUNCTION f RETURNS INTEGER SONAME 'f.so'",
        "LOCK INSTANCE FOR BACKUP",
        "FLUSH TABLES",
        "KILL 1",
        "LOAD DATA INFILE '/tmp/x' INTO TABLE t",
        "CREATE TABLE f (id INT) ENGINE=FEDERATED CONNECTION='mysql://u@h/live/t'",
    ],
)
def test_statements_that_may_reach_outside_the_copy_are_refused(statement: str) -> None:
    with pytest.raises(UnsafeStatement):
        RULES.statement(statement)


def test_without_a_list_of_databases_every_foreign_qualifier_is_refused() -> None:
    blind = Confinement("live", "live_shadow_1", None)

    assert (
        blind.statement("ALTER TABLE live.t ADD x INT") == "ALTER TABLE `live_shadow_1`.t ADD x INT"
    )
    with pytest.raises(UnsafeStatement):
        blind.statement("ALTER TABLE somewhere.t ADD x INT")
