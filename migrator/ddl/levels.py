"""The algorithm-lock pairs a DDL statement may be offered, cheapest first.

MySQL and MariaDB refuse an ``ALTER TABLE ..., ALGORITHM=X, LOCK=Y`` that they
cannot honour (errors 1845 and 1846) before doing any work, and run it as
asked when they can. That refusal is the ground truth for this server, this
version and this table, so nothing here keeps a table of rules: a statement
is offered the levels of `LADDER` in order (:mod:`migrator.ddl.cheapest`), and
the first one accepted is the one it ran with.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.db import error_numbers

# "not supported ... Try ALGORITHM=COPY", and MySQL's "Maximum row versions reached".
REFUSED = frozenset(
    {
        error_numbers.ALTER_OPERATION_NOT_SUPPORTED,
        error_numbers.ALTER_OPERATION_NOT_SUPPORTED_REASON,
        error_numbers.INNODB_MAX_ROW_VERSION,
    }
)


@dataclass(frozen=True)
class Level:
    algorithm: str
    lock: str | None  # None: the server's own choice (INSTANT admits no LOCK clause)

    @property
    def blocks_writes(self) -> bool:
        return self.algorithm not in {"INSTANT", "NOCOPY"} and self.lock != "NONE"

    @property
    def lock_level(self) -> str:
        return self.lock or "NONE"

    def clause(self) -> str:
        if self.lock is None:
            return f"ALGORITHM={self.algorithm}"
        return f"ALGORITHM={self.algorithm}, LOCK={self.lock}"


LADDER: tuple[Level, ...] = (
    Level("INSTANT", None),
    # MariaDB: in place without rebuilding (MySQL refuses the word); LOCK=NONE, as
    # without it the server may take a shared lock (ADD FULLTEXT INDEX).
    Level("NOCOPY", "NONE"),
    Level("INPLACE", "NONE"),
    Level("COPY", "NONE"),  # MariaDB 11.4+: an online copy
    Level("INPLACE", "SHARED"),
    Level("COPY", "SHARED"),
    Level("INPLACE", "EXCLUSIVE"),
    Level("COPY", "EXCLUSIVE"),
)
NOT_BLOCKING = tuple(level for level in LADDER if not level.blocks_writes)
