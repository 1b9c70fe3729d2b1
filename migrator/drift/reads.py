"""What drift reads of a database: each information_schema view, its columns and its rows.

The one owner of those lists: the snapshot (:mod:`migrator.drift.snapshot`) reads the
rows, the quick print (:mod:`migrator.drift.quick_print`) has the server hash them, so
the print covers exactly what a comparison looks at. Kept apart from the snapshot so
that MIGRATE_DRIFT's check on the no-op path imports only these declarations.
"""

from __future__ import annotations

from typing import NamedTuple


class Read(NamedTuple):
    """One read of an information_schema view: the columns drift compares, and which rows."""

    columns: tuple[str, ...]  # each an expression on the view, read under its own name
    source: str  # FROM ... WHERE ..., with %s for the database
    table: str = "table_name"  # the column naming the table each row belongs to

    def select(self) -> str:
        """The query, each column named in lower case: MySQL returns information_schema's
        column names in upper case, MariaDB as the query spells them."""
        names = ", ".join(f"{column} AS {column}" for column in self.columns)
        return f"SELECT {names} {self.source}"

    @property
    def parameters(self) -> int:
        return self.source.count("%s")


_TABLES = Read(
    ("table_name", "table_type", "engine", "row_format", "table_collation", "table_comment"),
    "FROM information_schema.tables WHERE table_schema = %s",
)
_COLUMNS = Read(
    (
        "table_name",
        "column_name",
        "ordinal_position",
        "column_type",
        "data_type",
        "is_nullable",
        "column_default",
        "extra",
        "character_set_name",
        "collation_name",
        "generation_expression",
        "column_comment",
    ),
    "FROM information_schema.columns WHERE table_schema = %s",
)
_INDEX_PARTS = (
    "table_name",
    "index_name",
    "seq_in_index",
    "column_name",
    "collation",
    "sub_part",
    "non_unique",
    "index_type",
)
_STATISTICS_SOURCE = "FROM information_schema.statistics WHERE table_schema = %s"
# MySQL has IS_VISIBLE and EXPRESSION (functional parts), MariaDB IGNORED (10.6+).
_STATISTICS_MYSQL = Read((*_INDEX_PARTS, "is_visible", "expression"), _STATISTICS_SOURCE)
_STATISTICS_MARIADB = Read((*_INDEX_PARTS, "ignored"), _STATISTICS_SOURCE)
# Each information_schema view is read on its own, with the database as a constant:
# MariaDB answers a join of two such views by reading every database's rows (seconds
# on a server with a thousand databases), and its triggers view only skips other
# databases by event_object_schema.
_KEY_COLUMNS = Read(
    (
        "table_name",
        "constraint_name",
        "ordinal_position",
        "column_name",
        "referenced_table_schema",
        "referenced_table_name",
        "referenced_column_name",
    ),
    "FROM information_schema.key_column_usage"
    " WHERE table_schema = %s AND referenced_table_name IS NOT NULL",
)
_RULES = Read(
    ("table_name", "constraint_name", "update_rule", "delete_rule"),
    "FROM information_schema.referential_constraints WHERE constraint_schema = %s",
)
# MariaDB's check_constraints names the table (and names are per table); MySQL's has
# no table, and its names are per database.
_CHECKS_MARIADB = Read(
    ("table_name", "constraint_name", "check_clause"),
    "FROM information_schema.check_constraints WHERE constraint_schema = %s",
)
# Read apart and joined here: MySQL answers the join of the two views in tens of
# milliseconds, each view alone in one.
_CHECK_TABLES_MYSQL = Read(
    ("table_name", "constraint_name"),
    "FROM information_schema.table_constraints"
    " WHERE table_schema = %s AND constraint_type = 'CHECK'",
)
_CHECK_CLAUSES_MYSQL = Read(
    ("constraint_name", "check_clause"),
    "FROM information_schema.check_constraints WHERE constraint_schema = %s",
    table="constraint_name",
)
_VIEWS = Read(
    ("table_name", "view_definition", "check_option"),
    "FROM information_schema.views WHERE table_schema = %s",
)
_TRIGGERS = Read(
    ("trigger_name", "event_object_table", "action_timing", "event_manipulation"),
    "FROM information_schema.triggers WHERE event_object_schema = %s",
    table="event_object_table",
)


def reads(mariadb: bool) -> dict[str, Read]:
    """Every read drift makes of one database, by what it reads."""
    return {
        "tables": _TABLES,
        "columns": _COLUMNS,
        "statistics": _STATISTICS_MARIADB if mariadb else _STATISTICS_MYSQL,
        "foreign_keys": _KEY_COLUMNS,
        "rules": _RULES,
        **(
            {"checks": _CHECKS_MARIADB}
            if mariadb
            else {"check_tables": _CHECK_TABLES_MYSQL, "check_clauses": _CHECK_CLAUSES_MYSQL}
        ),
        "views": _VIEWS,
        "triggers": _TRIGGERS,
    }
