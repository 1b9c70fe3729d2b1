"""Keeps the statements that run on a shadow copy inside that copy, or stops them before they run.

`plan`, the blocking-DDL guard's pre-flight and autogenerate run the revisions on a
shadow database with the migration user's own login, which may also write the live
database and others. A statement that names its database (``livedb.t``, Alembic's
``schema=``) would reach past the copy. So every query sent on the shadow session is
taken apart into tokens first (strings, comments, executable comments, quoted names):

- a name qualified by the live database is rewritten to the copy, where the live
  tables' copies are: the revision is measured on what it would change;
- a name qualified by any other database the user can see, and a statement that can
  act outside the copy (``USE``, ``CALL``, ``PREPARE``, ``SET GLOBAL``, ``GRANT``,
  ``CREATE DATABASE``, …), is refused before it is sent.

Rewriting only the live database's name, and refusing the rest, keeps revisions that
name their own schema plannable while nothing reaches a database the copy does not
stand for. The check looks at the exact text the driver sends, parameters included,
whatever API the revision used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql

from migrator.autogenerate.shadow import quote_identifier

# Schemas the server itself keeps: nothing a statement does can change them.
READ_ONLY_SCHEMAS = frozenset({"information_schema", "performance_schema"})

_OBJECTS = frozenset({"TABLE", "INDEX", "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "SEQUENCE"})
# Words between CREATE/ALTER/DROP and the kind of object.
_OBJECT_MODIFIERS = frozenset(
    {
        "OR",
        "REPLACE",
        "TEMPORARY",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "ONLINE",
        "OFFLINE",
        "IGNORE",
        "AGGREGATE",
        "ALGORITHM",
        "UNDEFINED",
        "MERGE",
        "TEMPTABLE",
        "SQL",
        "SECURITY",
        "DEFINER",
        "INVOKER",
    }
)
# Statements that stay in the session's database once their names are checked.
_TABLE_STATEMENTS = frozenset(
    {
        "SELECT",
        "WITH",
        "VALUES",
        "TABLE",
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "TRUNCATE",
        "SHOW",
        "DESCRIBE",
        "DESC",
        "EXPLAIN",
        "ANALYZE",
        "OPTIMIZE",
        "CHECK",
        "CHECKSUM",
        "REPAIR",
        "COMMIT",
        "ROLLBACK",
        "BEGIN",
        "SAVEPOINT",
        "RELEASE",
        "UNLOCK",
        "DO",
    }
)
_TWO_WORD_STATEMENTS = frozenset(
    {("START", "TRANSACTION"), ("RENAME", "TABLE"), ("LOCK", "TABLES"), ("LOCK", "TABLE")}
)
# Files on the server, code loaded into it, tables of another server (FEDERATED, CONNECT).
_BEYOND_TABLES = frozenset({"OUTFILE", "DUMPFILE", "SONAME", "CONNECTION"})
_SERVER_WIDE_SET = frozenset({"GLOBAL", "PERSIST", "PERSIST_ONLY", "@@GLOBAL", "@@PERSIST"})
# Routines and triggers hold `;` inside their body: one statement, not several.
_COMPOUND = frozenset({"TRIGGER", "PROCEDURE", "FUNCTION"})


class UnsafeStatement(Exception):
    """A statement that could act outside the shadow copy; it was not sent."""

    def __init__(self, statement: str, reason: str) -> None:
        super().__init__(reason)
        self.statement = statement
        self.reason = reason


@dataclass(frozen=True)
class Token:
    kind: str  # word, quoted (`x`), dquoted ("x"), string, variable (@x, @@x), punct
    text: str
    start: int
    end: int

    @property
    def name(self) -> str:
        """The identifier as the server reads it (quotes removed)."""
        if self.kind == "quoted":
            return self.text[1:-1].replace("``", "`")
        if self.kind == "dquoted":
            return self.text[1:-1].replace('""', '"')
        return self.text

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind in {"word", "variable"} else ""


_WORD = re.compile(r"[\w$\u0080-\uffff]+")
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!\d*")


def tokenize(sql: str, *, backslash_escapes: bool = True) -> list[Token]:
    """The statement's tokens as the server reads them; comments are dropped, and the
    content of executable comments (``/*!50000 … */``, ``/*M! … */``) is code."""
    tokens: list[Token] = []
    position, length = 0, len(sql)
    in_executable = False
    while position < length:
        char = sql[position]
        if char.isspace():
            position += 1
        elif in_executable and sql.startswith("*/", position):
            in_executable = False
            position += 2
        elif match := _EXECUTABLE_COMMENT.match(sql, position):
            in_executable = True
            position = match.end()
        elif sql.startswith("/*", position):
            end = sql.find("*/", position + 2)
            position = length if end < 0 else end + 2
        elif char == "#" or (
            sql.startswith("--", position)
            and (position + 2 == length or sql[position + 2].isspace())
        ):
            end = sql.find("\n", position)
            position = length if end < 0 else end + 1
        elif char in "'\"`":
            end = _closing_quote(sql, position, backslash_escapes and char != "`")
            kind = {"'": "string", '"': "dquoted", "`": "quoted"}[char]
            tokens.append(Token(kind, sql[position:end], position, end))
            position = end
        elif char == "@":
            start = position
            position += 2 if sql.startswith("@@", position) else 1
            if position < length and sql[position] in "'\"`":
                position = _closing_quote(sql, position, backslash_escapes)
            elif match := _WORD.match(sql, position):
                position = match.end()
            tokens.append(Token("variable", sql[start:position], start, position))
        elif match := _WORD.match(sql, position):
            tokens.append(Token("word", match.group(), position, match.end()))
            position = match.end()
        else:
            tokens.append(Token("punct", char, position, position + 1))
            position += 1
    return tokens


def _closing_quote(sql: str, start: int, backslash_escapes: bool) -> int:
    """Where the quoted token at ``start`` ends: after its closing quote, or the text's end."""
    quote = sql[start]
    position = start + 1
    while position < len(sql):
        char = sql[position]
        if backslash_escapes and char == "\\":
            position += 2
        elif char == quote:
            if sql.startswith(quote * 2, position):
                position += 2
            else:
                return position + 1
        else:
            position += 1
    return len(sql)


def leading_word(sql: str) -> str:
    """The statement's first keyword, upper-case, comments skipped ('' when none)."""
    for token in tokenize(sql):
        return token.word
    return ""


@dataclass(frozen=True)
class Confinement:
    """The databases a shadow session may name, and how to treat each."""

    live: str
    shadow: str
    # Every database the login can see; None when it may not list them.
    visible: frozenset[str] | None

    def statement(self, sql: str) -> str:
        """``sql`` as it may run on the copy; raises UnsafeStatement when it may not run."""
        # A backslash means something else under NO_BACKSLASH_ESCAPES, which a revision
        # may set: both readings must agree on what is code.
        readings = {self._rewritten(sql, backslash_escapes=escapes) for escapes in (True, False)}
        if len(readings) > 1:
            raise UnsafeStatement(sql, "cannot tell where its strings end")
        return readings.pop()

    def _rewritten(self, sql: str, *, backslash_escapes: bool) -> str:
        tokens = tokenize(sql, backslash_escapes=backslash_escapes)
        _check_kinds(sql, tokens)
        pieces: list[str] = []
        copied_up_to = 0
        for index, token in enumerate(tokens):
            if not _is_qualifier(tokens, index):
                continue
            database = token.name.casefold()
            if database in {self.shadow.casefold(), *READ_ONLY_SCHEMAS}:
                continue
            if database == self.live.casefold():
                pieces += [sql[copied_up_to : token.start], quote_identifier(self.shadow)]
                copied_up_to = token.end
            elif self.visible is None or database in self.visible:
                raise UnsafeStatement(
                    sql, f"it names database {token.name}, of which there is no copy"
                )
        return "".join([*pieces, sql[copied_up_to:]])

    def select_db(self, database: str) -> None:
        if database != self.shadow:
            raise UnsafeStatement(f"USE {database}", "it leaves the copy for another database")


def _is_qualifier(tokens: list[Token], index: int) -> bool:
    """True for the first part of a dotted name (`db`.t, db.t.c): a database, or a table."""
    token = tokens[index]
    if token.kind not in {"word", "quoted", "dquoted"}:
        return False
    followed = index + 1 < len(tokens) and tokens[index + 1].text == "."
    preceded = index > 0 and tokens[index - 1].text == "."
    return followed and not preceded and not token.text.isdigit()


def _check_kinds(sql: str, tokens: list[Token]) -> None:
    statements = _split(tokens)
    if statements and _object_kind(statements[0]) in _COMPOUND:
        statements = statements[:1]
    for statement in statements:
        if reason := _outside_reason(statement):
            raise UnsafeStatement(sql, reason)


def _split(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.text == ";" and token.kind == "punct":
            statements.append([])
        else:
            statements[-1].append(token)
    return [statement for statement in statements if statement]


def _outside_reason(tokens: list[Token]) -> str | None:
    """Why the statement may act outside the session's database; None when it stays."""
    first = tokens[0]
    verb = first.word
    second = tokens[1].word if len(tokens) > 1 else ""
    if _BEYOND_TABLES.intersection(token.word for token in tokens):
        return "it reaches beyond tables: a file, a plugin or another server"
    if first.text == "(" or verb in _TABLE_STATEMENTS or (verb, second) in _TWO_WORD_STATEMENTS:
        return None
    if verb == "SET":
        return _set_reason(tokens)
    kind = _object_kind(tokens)
    if kind in _OBJECTS:
        return None
    if verb in {"CREATE", "ALTER", "DROP"}:
        return f"{verb} {kind or '…'} acts outside the copy's tables"
    return f"a {verb or first.text} statement may act outside the copy"


def _set_reason(tokens: list[Token]) -> str | None:
    words = [token.word for token in tokens]
    if len(words) > 1 and words[1] in {"PASSWORD", "DEFAULT"}:
        return f"SET {words[1]} changes an account"
    if len(words) > 1 and words[1] == "STATEMENT":
        # MariaDB's SET STATEMENT … FOR <statement>: the statement is what runs.
        if "FOR" not in words:
            return None
        inner = tokens[words.index("FOR") + 1 :]
        return _outside_reason(inner) if inner else None
    if _SERVER_WIDE_SET.intersection(words):
        return "it changes a setting of the whole server"
    return None


def _object_kind(tokens: list[Token]) -> str:
    """What CREATE/ALTER/DROP acts on: TABLE, INDEX, DATABASE … ('' when none is named)."""
    if not tokens or tokens[0].word not in {"CREATE", "ALTER", "DROP"}:
        return ""
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token.word == "DEFINER":
            index = _after_account(tokens, index + 1)
            continue
        if token.kind == "word" and token.word not in _OBJECT_MODIFIERS:
            return token.word
        index += 1
    return ""


def _after_account(tokens: list[Token], index: int) -> int:
    """The position after ``= user@host`` (or ``= CURRENT_USER()``) of a DEFINER clause."""
    if index < len(tokens) and tokens[index].text == "=":
        index += 1
    index += 1  # the user
    if index < len(tokens) and tokens[index].kind == "variable":
        index += 1  # @host
    elif index + 1 < len(tokens) and (tokens[index].text, tokens[index + 1].text) == ("(", ")"):
        index += 2  # CURRENT_USER()
    return index


def visible_databases(connection: pymysql.Connection[Any]) -> frozenset[str] | None:
    """Every database the login can see, case-folded; None when it may not list them."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            return frozenset(str(row[0]).casefold() for row in cursor.fetchall())
    except pymysql.err.MySQLError:
        return None


class Confined:
    """What a confined session refused; a revision may catch the error, not undo the record."""

    def __init__(self) -> None:
        self.refused: UnsafeStatement | None = None


@contextmanager
def confined(connection: pymysql.Connection[Any], *, live: str, shadow: str) -> Iterator[Confined]:
    """Every query sent on ``connection`` meanwhile is confined to the database ``shadow``.

    Patched on the session itself, so that SQLAlchemy, Alembic and a revision's own
    cursor all pass through the check.
    """
    rules = Confinement(live, shadow, visible_databases(connection))
    record = Confined()
    send, select_db = connection.query, connection.select_db

    def checked_query(sql: str | bytes, unbuffered: bool = False) -> int:
        text = sql.decode(connection.encoding, "surrogateescape") if isinstance(sql, bytes) else sql
        try:
            confined_sql = rules.statement(text)
        except UnsafeStatement as unsafe:
            record.refused = record.refused or unsafe
            raise
        return send(confined_sql, unbuffered)

    def checked_select_db(database: str) -> None:
        try:
            rules.select_db(database)
        except UnsafeStatement as unsafe:
            record.refused = record.refused or unsafe
            raise
        select_db(database)

    # Instance attributes shadow the class's methods for this session only.
    setattr(connection, "query", checked_query)  # noqa: B010
    setattr(connection, "select_db", checked_select_db)  # noqa: B010
    try:
        yield record
    finally:
        delattr(connection, "query")
        delattr(connection, "select_db")
