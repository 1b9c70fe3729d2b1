"""A database's schema as plain data, to compare what migrations built with what `create_all` built.

SQLAlchemy's inspector leaves out what decides whether two schemas really behave
alike on MySQL and MariaDB: a column's character set and collation, an index's
prefix lengths, direction and expressions, CHECK constraints of every level and the
table options. The server's information_schema has them all; what depends only on
the database's name, its statistics or a column's position is left out.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

BOOKKEEPING = {"alembic_version", "migrator_run_marker"}

# information_schema columns that name the database or are statistics, not schema.
_NOT_SCHEMA = {
    "table_catalog",
    "table_schema",
    "index_schema",
    "constraint_catalog",
    "constraint_schema",
    "ordinal_position",  # Alembic adds a column last; create_all where it is declared
    "privileges",  # the reading account's, not the column's
    "cardinality",
}
_TABLE_OPTIONS = ("engine", "row_format", "table_collation", "create_options", "table_comment")


def reflect(url: str) -> dict[str, Any]:
    """Every table but the runner's bookkeeping, as comparable plain data."""
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    try:
        with engine.connect() as connection:
            return _reflect(connection)
    finally:
        engine.dispose()


def _reflect(connection: sa.Connection) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    dialect = mysql.dialect()
    mariadb = "mariadb" in str(connection.exec_driver_sql("SELECT VERSION()").scalar()).lower()
    tables = sorted(set(inspector.get_table_names()) - BOOKKEEPING)
    columns = _by_table(connection, "information_schema.columns", "column_name")
    statistics = _by_table(connection, "information_schema.statistics", "index_name")
    options = {
        row["table_name"]: tuple((name, row[name]) for name in _TABLE_OPTIONS)
        for row in _rows(connection, "information_schema.tables")
    }
    checks = _checks(connection, mariadb=mariadb)
    schema: dict[str, Any] = {}
    for table in tables:
        schema[table] = {
            "columns": sorted(
                (
                    c["name"],
                    c["type"].compile(dialect=dialect),
                    c["nullable"],
                    c.get("default"),
                    c.get("autoincrement"),
                    c.get("comment"),
                    tuple(sorted((c.get("computed") or {}).items())),
                )
                for c in inspector.get_columns(table)
            ),
            # Character set, collation, the full column type, ON UPDATE, generation.
            "column_details": columns.get(table, []),
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            # Prefix lengths (sub_part), direction (collation A/D), expressions, type.
            "index_parts": statistics.get(table, []),
            "foreign_keys": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    tuple(sorted(fk.get("options", {}).items())),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(checks.get(table, [])),
            "options": options.get(table),
            "comment": inspector.get_table_comment(table).get("text"),
        }
    return schema


def _rows(connection: sa.Connection, view: str) -> list[dict[str, Any]]:
    result = connection.exec_driver_sql(f"SELECT * FROM {view} WHERE table_schema = DATABASE()")
    return [{key.lower(): value for key, value in row._mapping.items()} for row in result]


def _by_table(connection: sa.Connection, view: str, key: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows of an information_schema view, sorted, without the volatile fields."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for row in _rows(connection, view):
        kept = tuple(
            (name, value)
            for name, value in sorted(row.items())
            if name not in _NOT_SCHEMA and name != "table_name"
        )
        tables.setdefault(row["table_name"], []).append((row[key], kept))
    return {table: sorted(rows, key=repr) for table, rows in tables.items()}


def _checks(connection: sa.Connection, *, mariadb: bool) -> dict[str, list[tuple[str, str]]]:
    """Every CHECK constraint (MariaDB's column-level ones too) by table: name and clause."""
    if mariadb:  # its check_constraints names the table, and names are per table
        query = (
            "SELECT table_name, constraint_name, check_clause FROM"
            " information_schema.check_constraints WHERE constraint_schema = DATABASE()"
        )
    else:  # MySQL's names are per database and its check_constraints has no table
        query = (
            "SELECT tc.table_name, tc.constraint_name, cc.check_clause"
            " FROM information_schema.table_constraints AS tc"
            " JOIN information_schema.check_constraints AS cc"
            " ON cc.constraint_schema = tc.constraint_schema"
            " AND cc.constraint_name = tc.constraint_name"
            " WHERE tc.table_schema = DATABASE() AND tc.constraint_type = 'CHECK'"
        )
    checks: dict[str, list[tuple[str, str]]] = {}
    for table, name, clause in connection.exec_driver_sql(query):
        checks.setdefault(table, []).append((name, clause))
    return checks


def column_default_and_comment(schema: dict[str, Any], table: str, column: str) -> tuple[Any, Any]:
    """A reflected column's server default and comment."""
    _, _, _, default, _, comment, _ = next(c for c in schema[table]["columns"] if c[0] == column)
    return default, comment
