"""Runs a DDL statement at the cheapest algorithm-lock pair the server accepts, by offering it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pymysql
from pymysql.constants import ER

from migrator.db import error_numbers
from migrator.ddl.levels import REFUSED, Level
from migrator.ddl.statements import Statement


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
    """Run ``statement`` at the first of ``levels`` its own clauses allow and the server
    accepts.

    ``parameters`` go to the driver as SQLAlchemy would pass them: with them, PyMySQL
    turns the ``%%`` SQLAlchemy writes for a literal ``%`` back into ``%``.

    A refused level costs nothing: the server refuses before any work. Any other
    error is the statement's own and propagates.
    """
    refusals: list[str] = []
    # Only what the author's own clauses let the server take: the server takes the last
    # ALGORITHM and LOCK written, so an author's clause would otherwise override ours.
    for level in (level for level in levels if statement.allows(level)):
        try:
            cursor.execute(statement.at(level), parameters)
        except pymysql.err.MySQLError as error:
            code = error.args[0] if error.args else None
            if code in REFUSED:
                refusals.append(str(error.args[1]).strip().rstrip("."))
                continue
            unknown_word = {ER.PARSE_ERROR, error_numbers.UNKNOWN_ALTER_ALGORITHM}
            if code in unknown_word and level.algorithm == "NOCOPY":  # MySQL
                continue
            raise
        return Outcome(level, tuple(refusals))
    return Outcome(None, tuple(refusals))
