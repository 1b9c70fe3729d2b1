"""A test database's tables: filled with rows, or waited for while another process makes them."""

from __future__ import annotations

from tests.support.polling import wait_until
from tests.support.servers import ScratchDatabase


def wait_for_table(database: ScratchDatabase, table: str, limit: float = 30) -> None:
    """Wait until a revision running in another process has created ``table``."""
    wait_until(lambda: table in database.tables(), timeout=limit, message=f"{table} never appeared")


def fill(database: ScratchDatabase, table: str, count: int) -> None:
    """Insert ``count`` rows ``(a, b)`` into ``table`` and refresh its statistics.

    A cross join of a ten-row table, cut by LIMIT: doubling a table into itself
    would go through a temporary table on disk, which has failed under load.
    """
    database.execute("CREATE TABLE IF NOT EXISTS digits (d INT PRIMARY KEY)")
    database.execute("INSERT IGNORE INTO digits VALUES " + ", ".join(f"({d})" for d in range(10)))
    places = max(1, len(str(count)))
    joins = ", ".join(f"digits AS d{p}" for p in range(places))
    number = " + ".join(f"d{p}.d * {10**p}" for p in range(places))
    database.execute(
        f"INSERT INTO {table} (a, b) SELECT {number}, REPEAT('x', 100) FROM {joins} LIMIT {count}"
    )
    database.execute("DROP TABLE digits")
    database.execute(f"ANALYZE TABLE {table}")  # MySQL estimates ALTER work from the statistics
