"""One database's schema read from information_schema, in one batch of queries, as raw rows.

The rows are kept as the server prints them; :mod:`migrator.drift.normalise` turns
them into one spelling for every server. Only what drift compares is read: no
statistics, auto-increment counters or partitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrator.db.connection import is_mariadb
from migrator.drift.reads import reads

if TYPE_CHECKING:
    import pymysql

Row = dict[str, Any]


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
    read: dict[str, list[Row]] = {}
    try:
        with connection.cursor() as cursor:
            for name, query in reads(mariadb).items():
                cursor.execute(query.select(), (database,) * query.parameters)
                names = [str(column[0]).lower() for column in cursor.description or ()]
                read[name] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.rollback()
    rules = {
        (str(rule["table_name"]), str(rule["constraint_name"])): rule for rule in read["rules"]
    }
    for key in read["foreign_keys"]:
        rule = rules.get((str(key["table_name"]), str(key["constraint_name"])), {})
        key["update_rule"], key["delete_rule"] = rule.get("update_rule"), rule.get("delete_rule")
    if not mariadb:
        # MySQL's CHECK names are per database, so the name alone finds the clause.
        clauses = {str(row["constraint_name"]): row for row in read["check_clauses"]}
        read["checks"] = [
            {**row, "check_clause": clauses[str(row["constraint_name"])]["check_clause"]}
            for row in read["check_tables"]
            if str(row["constraint_name"]) in clauses
        ]
    return RawSchema(
        database,
        mariadb,
        tables=read["tables"],
        columns=read["columns"],
        statistics=read["statistics"],
        foreign_keys=read["foreign_keys"],
        checks=read["checks"],
        views=read["views"],
        triggers=read["triggers"],
    )


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
