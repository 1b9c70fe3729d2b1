"""A schema's quick print: the rows drift compares, hashed by the server in one round trip.

MIGRATE_DRIFT's check at pod start runs on every no-op, so it must cost about one
query. The print is a SHA-256 of, for each of drift's reads, the row count and the sum
of a hash of each row (an order-free sum, so the server needs no sorting and no
``group_concat_max_len``). It depends on how this server prints its catalogue, so it is
only ever compared with a print this server made: equal prints mean the same rows, hence
the same normalised schema; a different one only means "compare in full", since a server
upgrade may print the same schema differently.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from migrator.db.connection import is_mariadb
from migrator.db.marker import BOOKKEEPING_TABLES
from migrator.drift.reads import Read, reads

if TYPE_CHECKING:
    import pymysql

# 60 bits of each row's SHA-256, so that each summand fits BIGINT UNSIGNED; SUM of those is
# an exact DECIMAL on both servers.
_ROW_BITS_HEX = 15


def _hashed(read: Read) -> str:
    """A scalar subquery: ``count-sum`` of the read's rows, the runner's own tables left out
    (they come and go with its work). QUOTE keeps NULL apart from the text 'NULL', and
    CONCAT_WS puts a separator between columns."""
    row = "CONCAT_WS(',', " + ", ".join(f"QUOTE({column})" for column in read.columns) + ")"
    summand = f"CAST(CONV(LEFT(SHA2({row}, 256), {_ROW_BITS_HEX}), 16, 10) AS UNSIGNED)"
    ours = ", ".join(f"'{table}'" for table in sorted(BOOKKEEPING_TABLES))  # no quotes in them
    return (
        f"(SELECT CONCAT(COUNT(*), '-', COALESCE(SUM({summand}), 0)) {read.source}"
        f" AND {read.table} NOT IN ({ours}))"
    )


def quick_print(connection: pymysql.Connection[Any], database: str) -> str:
    """``database``'s quick print (SHA-256, hex) on this server; ends the read's transaction."""
    server = connection.get_server_info()  # type: ignore[no-untyped-call]
    every = reads(is_mariadb(server)).values()
    query = "SELECT CONCAT_WS('/', " + ", ".join(_hashed(read) for read in every) + ")"
    parameters = tuple(database for read in every for _ in range(read.parameters))
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, parameters)
            row = cursor.fetchone()
    finally:
        connection.rollback()
    printed = str(row[0]) if row else ""
    return hashlib.sha256(printed.encode()).hexdigest()
