"""Finds the cheapest algorithm-lock pair the server accepts for a DDL statement, by offering it.

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

_IDENT = r"(?:`(?:[^`]|``)+`|[\w$]+)"
# A table as statements name it: `t`, t, db.t, `db`.`t`; group "table" is the last part.
_TABLE = rf"(?:{_IDENT}\s*\.\s*)?(?P<table>{_IDENT})"
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|/\*(?!!).*?\*/|(?:--|#)[^\n]*(?:\n|\Z))*", re.DOTALL)
_ALTER = re.compile(
    rf"ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?{_TABLE}\s*", re.IGNORECASE
)
_CREATE_INDEX = re.compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?P<kind>UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+"
    rf"(?P<exists>IF\s+NOT\s+EXISTS\s+)?(?P<index>{_IDENT})\s+(?:USING\s+\w+\s+)?ON\s+{_TABLE}\s*",
    re.IGNORECASE,
)
_DROP_INDEX = re.compile(
    rf"DROP\s+INDEX\s+(?P<exists>IF\s+EXISTS\s+)?(?P<index>{_IDENT})\s+ON\s+{_TABLE}\s*\Z",
    re.IGNORECASE,
)
_DROP_TABLE = re.compile(rf"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_TABLE}", re.IGNORECASE)
_CREATE_TABLE = re.compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_TABLE}", re.IGNORECASE
)
_RENAME_TABLE = re.compile(rf"RENAME\s+TABLE\s+{_TABLE}", re.IGNORECASE)
# DDL on a table that the patterns above did not take apart: guarded as unknown.
_TABLE_DDL = re.compile(
    r"ALTER\b(?!\s+(?:VIEW|DATABASE|SCHEMA|USER|EVENT|FUNCTION|PROCEDURE|SERVER|SEQUENCE"
    r"|TABLESPACE|LOGFILE|INSTANCE|RESOURCE|DEFINER|ALGORITHM|SQL)\b)"
    r"|CREATE\b.*?\bINDEX\b|DROP\s+INDEX\b",
    re.I | re.S,
)


def _name(quoted: str) -> str:
    """The bare name, without backquotes."""
    if quoted.startswith("`"):
        return quoted[1:-1].replace("``", "`")
    return quoted


@dataclass(frozen=True)
class Statement:
    """One SQL statement a revision runs, with what the ladder needs to know of it."""

    sql: str
    table: str | None
    # `ALTER TABLE <table>` and the rest of an equivalent ALTER, for the clause to go
    # between them (never at the end, where a trailing comment would swallow it);
    # None when the statement takes no ALGORITHM/LOCK clause.
    alterable: tuple[str, str] | None
    kind: str  # alter, create_index, drop_index, create_table, drop_table, rename_table,
    # other, or unparsed (DDL on an index or a table this module could not take apart)

    def at(self, level: Level) -> str:
        assert self.alterable is not None
        head, rest = self.alterable
        return f"{head} {level.clause()}, {rest}" if rest else f"{head} {level.clause()}"


def parse(sql: str) -> Statement:
    text = _LEADING_COMMENTS.sub("", sql, count=1).strip().rstrip(";").strip()
    if match := _ALTER.match(text):
        head = text[: match.end()].rstrip()
        return Statement(sql, _name(match["table"]), (head, text[match.end() :]), "alter")
    if match := _CREATE_INDEX.match(text):
        # As ALTER TABLE ... ADD INDEX: the same DDL, with the clause in the same place.
        kind = (match["kind"] or "").strip().upper()
        exists = "IF NOT EXISTS " if match["exists"] else ""
        rest = f"ADD {kind} INDEX {exists}{match['index']} {text[match.end() :]}"
        head = f"ALTER TABLE {match.group('table')}"
        return Statement(sql, _name(match["table"]), (head, " ".join(rest.split())), "create_index")
    if match := _DROP_INDEX.match(text):
        # MariaDB takes no ALGORITHM clause on DROP INDEX; the ALTER form is the same DDL.
        exists = "IF EXISTS " if match["exists"] else ""
        head = f"ALTER TABLE {match.group('table')}"
        rest = f"DROP INDEX {exists}{match['index']}"
        return Statement(sql, _name(match["table"]), (head, rest), "drop_index")
    for pattern, kind in (
        (_CREATE_TABLE, "create_table"),
        (_DROP_TABLE, "drop_table"),
        (_RENAME_TABLE, "rename_table"),
    ):
        if match := pattern.match(text):
            return Statement(sql, _name(match["table"]), None, kind)
    if _TABLE_DDL.match(text):
        return Statement(sql, None, None, "unparsed")
    return Statement(sql, None, None, "other")


class Cursor(Protocol):
    def execute(self, query: str, args: Any = ...) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    level: Level | None  # the level it ran with; None when every level was refused
    # The server's reasons, cheapest level first, without their closing full stop: each
    # goes inside a sentence of the runner's ("...Try LOCK=SHARED; running it anyway").
    refusals: tuple[str, ...]


def run_cheapest(
    cursor: Cursor, statement: Statement, levels: Sequence[Level], parameters: Any = None
) -> Outcome:
    """Run ``statement`` at the first of ``levels`` the server accepts.

    ``parameters`` go to the driver as SQLAlchemy would pass them: with them, PyMySQL
    turns the ``%%`` SQLAlchemy writes for a literal ``%`` back into ``%``.

    A refused level costs nothing: the server refuses before any work. Any other
    error is the statement's own and propagates.
    """
    refusals: list[str] = []
    for level in levels:
        try:
            cursor.execute(statement.at(level), parameters)
        except pymysql.err.MySQLError as error:
            code = error.args[0] if error.args else None
            if code in REFUSED:
                refusals.append(str(error.args[1]).strip().rstrip("."))
                continue
            if code in {1064, 1800} and level.algorithm == "NOCOPY":  # MySQL: unknown word
                continue
            raise
        return Outcome(level, tuple(refusals))
    return Outcome(None, tuple(refusals))
