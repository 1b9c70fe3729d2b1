"""One database's schema read from information_schema, in one batch of queries, as raw rows.

The rows are kept as the server prints them; :mod:`migrator.drift.normalise` turns
them into one spelling for every server. Only what drift compares is read: no
statistics, auto-increment counters or partitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrator.db.connection import is_mariadb

if TYPE_CHECKING:
    import pymysql

Row = dict[str, Any]

# Every query names its columns in lower case: MySQL returns information_schema's
# column names in upper case, MariaDB as the query spells them.
_TABLES = (
    "SELECT table_name AS table_name, table_type AS table_type, engine AS engine,"
    " row_format AS row_format, table_collation AS table_collation,"
    " table_comment AS table_comment"
    " FROM information_schema.tables WHERE table_schema = %s"
)
_COLUMNS = (
    "SELECT table_name AS table_name, column_name AS column_name,"
    " ordinal_position AS ordinal_position, column_type AS column_type,"
    " data_type AS data_type, is_nullable AS is_nullable, column_default AS column_default,"
    " extra AS extra, character_set_name AS character_set_name,"
    " collation_name AS collation_name, generation_expression AS generation_expression,"
    " column_comment AS column_comment"
    " FROM information_schema.columns WHERE table_schema = %s"
)
# SELECT *: MySQL has IS_VISIBLE and EXPRESSION, MariaDB IGNORED (10.6+).
_STATISTICS = "SELECT * FROM information_schema.statistics WHERE table_schema = %s"
# Each information_schema view is read on its own, with the database as a constant:
# MariaDB answers a join of two such views by reading every database's rows (seconds
# on a server with a thousand databases), and its triggers view only skips other
# databases by event_object_schema.
_KEY_COLUMNS = (
    "SELECT table_name AS table_name, constraint_name AS constraint_name,"
    " ordinal_position AS ordinal_position, column_name AS column_name,"
    " referenced_table_schema AS referenced_table_schema,"
    " referenced_table_name AS referenced_table_name,"
    " referenced_column_name AS referenced_column_name"
    " FROM information_schema.key_column_usage"
    " WHERE table_schema = %s AND referenced_table_name IS NOT NULL"
)
_RULES = (
    "SELECT table_name AS table_name, constraint_name AS constraint_name,"
    " update_rule AS update_rule, delete_rule AS delete_rule"
    " FROM information_schema.referential_constraints WHERE constraint_schema = %s"
)
# MariaDB's check_constraints names the table (and names are per table); MySQL's has
# no table, and its names are per database.
_CHECKS_MARIADB = (
    "SELECT table_name AS table_name, constraint_name AS constraint_name,"
    " check_clause AS check_clause"
    " FROM information_schema.check_constraints WHERE constraint_schema = %s"
)
_CHECKS_MYSQL = (
    "SELECT tc.table_name AS table_name, tc.constraint_name AS constraint_name,"
    " cc.check_clause AS check_clause"
    " FROM information_schema.table_constraints AS tc"
    " JOIN information_schema.check_constraints AS cc"
    " ON cc.constraint_schema = tc.constraint_schema"
    " AND cc.constraint_name = tc.constraint_name"
    " WHERE tc.table_schema = %s AND cc.constraint_schema = %s"
    " AND tc.constraint_type = 'CHECK'"
)
_VIEWS = (
    "SELECT table_name AS table_name, view_definition AS view_definition,"
    " check_option AS check_option"
    " FROM information_schema.views WHERE table_schema = %s"
)
_TRIGGERS = (
    "SELECT trigger_name AS trigger_name, event_object_table AS event_object_table,"
    " action_timing AS action_timing, event_manipulation AS event_manipulation"
    " FROM information_schema.triggers WHERE event_object_schema = %s"
)


@dataclass
class RawSchema:
    """information_schema's rows for one database, as the server printed them."""

    database: str
    mariadb: bool
    tables: list[Row] = field(default_factory=list)
    columns: list[Row] = field(default_factory=list)
    statistics: list[Row] = field(default_factory=list)
    foreign_keys: list[Row] = field(default_factory=list)
    checks: list[Row] = field(default_factory=list)
    views: list[Row] = field(default_factory=list)
    triggers: list[Row] = field(default_factory=list)


def read_raw_schema(connection: pymysql.Connection[Any], database: str) -> RawSchema:
    """Every row drift compares for ``database``; ends the read's transaction."""
    # The login's greeting says which server this is: no round trip.
    mariadb = is_mariadb(connection.get_server_info())  # type: ignore[no-untyped-call]
    raw = RawSchema(database, mariadb)
    rules: list[Row] = []
    queries = (
        (raw.tables, _TABLES),
        (raw.columns, _COLUMNS),
        (raw.statistics, _STATISTICS),
        (raw.foreign_keys, _KEY_COLUMNS),
        (rules, _RULES),
        (raw.checks, _CHECKS_MARIADB if raw.mariadb else _CHECKS_MYSQL),
        (raw.views, _VIEWS),
        (raw.triggers, _TRIGGERS),
    )
    try:
        with connection.cursor() as cursor:
            for rows, query in queries:
                cursor.execute(query, (database,) * query.count("%s"))
                names = [str(column[0]).lower() for column in cursor.description or ()]
                rows.extend(dict(zip(names, row, strict=True)) for row in cursor.fetchall())
    finally:
        connection.rollback()
    by_name = {(str(rule["table_name"]), str(rule["constraint_name"])): rule for rule in rules}
    for key in raw.foreign_keys:
        rule = by_name.get((str(key["table_name"]), str(key["constraint_name"])), {})
        key["update_rule"], key["delete_rule"] = rule.get("update_rule"), rule.get("delete_rule")
    return raw


def database_defaults(connection: pymysql.Connection[Any], database: str) -> tuple[str, str]:
    """The database's default character set and collation, for a shadow built alike."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT default_character_set_name, default_collation_name"
                " FROM information_schema.schemata WHERE schema_name = %s",
                (database,),
            )
            row = cursor.fetchone()
    finally:
        connection.rollback()
    if row is None:
        raise LookupError(database)
    return str(row[0]), str(row[1])
