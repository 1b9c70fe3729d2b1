"""What plan found for one statement: how the server will run it, on how big a table."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import pymysql

from migrator.ddl.online_change import EXECUTOR_SERVER


@dataclass
class PlannedStatement:
    revision: str
    sql: str
    table: str | None
    algorithm: str | None
    lock: str | None
    blocks_writes: bool | None
    rebuilds_table: bool | None
    table_rows: int | None
    table_bytes: int | None
    destructive: str | None
    note: str | None = None  # why a verdict is null, or what the server said
    executor: str = EXECUTOR_SERVER  # or pt-online-schema-change, under MIGRATE_BLOCKING_DDL=online


def fresh_statistics(cursor: Any) -> None:
    """MySQL 8+ caches information_schema's row counts for a day; sizes must be current."""
    with suppress(pymysql.err.MySQLError):  # MariaDB has no such cache
        cursor.execute("SET SESSION information_schema_stats_expiry = 0")
