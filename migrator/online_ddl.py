"""Finds the algorithm and lock the server takes for a DDL statement by offering the cheapest.

MySQL and MariaDB refuse an ``ALTER TABLE ..., ALGORITHM=X, LOCK=Y`` that they
cannot honour (errors 1845 and 1846) before doing any work, and run it as
asked when they can. That refusal is the ground truth for this server, this
version and this table, so nothing here keeps a table of rules: a statement
is offered the levels of `LADDER` in order, and the first one accepted is the
one it ran with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pymysql

# ER_ALTER_OPERATION_NOT_SUPPORTED and ..._REASON ("not supported ... Try ALGORITHM=COPY"),
# and MySQL's "Maximum row versions reached ... Please use COPY/INPLACE".
REFUSED = frozenset({1845, 1846, 4092})


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
    Level("NOCOPY", None),  # MariaDB: in place without rebuilding; MySQL refuses the word
    Level("INPLACE", "NONE"),
    Level("COPY", "NONE"),  # MariaDB 11.4+: an online copy
    Level("INPLACE", "SHARED"),
    Level("COPY", "SHARED"),
    Level("INPLACE", "EXCLUSIVE"),
    Level("COPY", "EXCLUSIVE"),
)
NOT_BLOCKING = tuple(level for level in LADDER if not level.blocks_writes)

_ALTER = re.compile(r"\s*ALTER\s+TABLE\s+(`(?:[^`]|``)+`|[\w$.]+)", re.IGNORECASE)
_CREATE_INDEX = re.compile(
    r"\s*CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:`(?:[^`]|``)+`|[\w$]+)"
    r"\s+ON\s+(`(?:[^`]|``)+`|[\w$.]+)",
    re.IGNORECASE,
)
_DROP_INDEX = re.compile(
    r"\s*DROP\s+INDEX\s+(`(?:[^`]|``)+`|[\w$]+)\s+ON\s+(`(?:[^`]|``)+`|[\w$.]+)\s*$",
    re.IGNORECASE,
)
_DROP_TABLE = re.compile(
    r"\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(`(?:[^`]|``)+`|[\w$.]+)", re.IGNORECASE
)
_CREATE_TABLE = re.compile(
    r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|[\w$.]+)", re.IGNORECASE
)
_RENAME_TABLE = re.compile(r"\s*RENAME\s+TABLE\s+(`(?:[^`]|``)+`|[\w$.]+)", re.IGNORECASE)


def _name(quoted: str) -> str:
    """The bare table name: without backquotes or a database prefix."""
    if quoted.startswith("`"):
        return quoted[1:-1].replace("``", "`")
    return quoted.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Statement:
    """One SQL statement a revision runs, with what the ladder needs to know of it."""

    sql: str
    table: str | None
    # The form that takes an ALGORITHM/LOCK clause; None when the statement takes none.
    alterable: str | None
    kind: str  # alter, create_index, drop_index, create_table, drop_table, other

    def at(self, level: Level) -> str:
        assert self.alterable is not None
        if self.kind == "create_index":
            return f"{self.alterable} {level.clause().replace(',', '')}"
        return f"{self.alterable}, {level.clause()}"


def parse(sql: str) -> Statement:
    text = sql.strip().rstrip(";").strip()
    if match := _ALTER.match(text):
        return Statement(sql, _name(match.group(1)), text, "alter")
    if match := _CREATE_INDEX.match(text):
        return Statement(sql, _name(match.group(1)), text, "create_index")
    if match := _DROP_INDEX.match(text):
        # MariaDB takes no ALGORITHM clause on DROP INDEX; the ALTER form is the same DDL.
        index, table = match.group(1), match.group(2)
        return Statement(sql, _name(table), f"ALTER TABLE {table} DROP INDEX {index}", "drop_index")
    for pattern, kind in (
        (_CREATE_TABLE, "create_table"),
        (_DROP_TABLE, "drop_table"),
        (_RENAME_TABLE, "rename_table"),
    ):
        if match := pattern.match(text):
            return Statement(sql, _name(match.group(1)), None, kind)
    return Statement(sql, None, None, "other")


class Cursor(Protocol):
    def execute(self, query: str, args: Any = ...) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    level: Level | None  # the level it ran with; None when every level was refused
    refusals: tuple[str, ...]  # the server's reasons, cheapest level first


def run_cheapest(cursor: Cursor, statement: Statement, levels: Sequence[Level]) -> Outcome:
    """Run ``statement`` at the first of ``levels`` the server accepts.

    A refused level costs nothing: the server refuses before any work. Any other
    error is the statement's own and propagates.
    """
    refusals: list[str] = []
    for level in levels:
        try:
            cursor.execute(statement.at(level))
        except pymysql.err.MySQLError as error:
            code = error.args[0] if error.args else None
            if code in REFUSED:
                refusals.append(str(error.args[1]))
                continue
            if code in {1064, 1800} and level.algorithm == "NOCOPY":  # MySQL: unknown word
                continue
            raise
        return Outcome(level, tuple(refusals))
    return Outcome(None, tuple(refusals))
