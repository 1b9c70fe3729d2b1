"""Takes a DDL statement apart as the server would read it, or says it cannot for certain.

:func:`parse` finds its table and database qualifier, and the ALGORITHM/LOCK
clauses its author wrote, or "unparsed" when that cannot be told for certain.
The guard and ``plan`` both read statements through it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from migrator.ddl.levels import Level
from migrator.ddl.tokens import Reader, Token, split_at, tokenize, unclosed, unquoted

# The values each clause takes; the server takes the last clause of each kind written.
_CLAUSE_VALUES = {
    "ALGORITHM": frozenset({"DEFAULT", "INSTANT", "INPLACE", "COPY", "NOCOPY"}),
    "LOCK": frozenset({"DEFAULT", "NONE", "SHARED", "EXCLUSIVE"}),
}
# What ALTER changes besides tables: not the guard's concern.
_NOT_TABLES = frozenset(
    {
        "VIEW", "DATABASE", "SCHEMA", "USER", "EVENT", "FUNCTION", "PROCEDURE", "SERVER",
        "SEQUENCE", "TABLESPACE", "LOGFILE", "INSTANCE", "RESOURCE", "DEFINER", "ALGORITHM",
        "SQL", "ROLE", "UNDO",
    }
)  # fmt: skip
_INDEX_KINDS = frozenset({"UNIQUE", "FULLTEXT", "SPATIAL"})


@dataclass(frozen=True)
class Statement:
    """One SQL statement a revision runs, taken apart as the server would read it.

    ``table`` and ``schema`` are the table it changes and its database qualifier as
    written (None: the session's database). ``algorithm`` and ``lock`` are the ones the
    revision's author wrote, as the server takes them (the last of each; None when not
    written or DEFAULT); ``ALTER ONLINE`` is MariaDB's ``LOCK=NONE``.
    """

    sql: str
    table: str | None
    # The statement as an ALTER TABLE, split where an ALGORITHM/LOCK clause goes (never
    # at the end, where a trailing comment would swallow it), without the author's
    # clauses; None when the statement takes no such clause.
    alterable: tuple[str, str] | None
    kind: str  # alter, create_index, drop_index, create_table, drop_table, rename_table,
    # other, or unparsed (DDL on an index or a table this module could not take apart)
    schema: str | None = None
    algorithm: str | None = None
    lock: str | None = None
    reason: str | None = None  # why it is unparsed

    def at(self, level: Level) -> str:
        assert self.alterable is not None
        head, rest = self.alterable
        return f"{head} {level.clause()}, {rest}" if rest else f"{head} {level.clause()}"

    def allows(self, level: Level) -> bool:
        """Whether ``level`` is one the author's own clauses let the server take."""
        return (self.algorithm is None or self.algorithm == level.algorithm) and (
            self.lock is None or self.lock == level.lock_level
        )

    @property
    def forbids_blocking(self) -> bool:
        """The author's clauses alone make the server run it without blocking writes, or
        refuse it before any work."""
        return self.algorithm == "INSTANT" or self.lock == "NONE"

    @property
    def clauses(self) -> str:
        """The author's clauses as written for a message, e.g. ``ALGORITHM=COPY``."""
        written = [f"ALGORITHM={self.algorithm}" if self.algorithm else ""]
        written.append(f"LOCK={self.lock}" if self.lock else "")
        return ", ".join(clause for clause in written if clause)


# Statements up to this length are parsed once per text (a Statement is immutable and
# depends on the text alone): `plan` and the guard see a statement more than once, and
# revisions repeat statements. Longer ones, bulk data for one, are not kept alive.
_CACHED_LENGTH = 4096


def parse(sql: str) -> Statement:
    """``sql`` taken apart as the server would read it; "unparsed" when it may be table DDL
    that cannot be taken apart for certain: several statements, executable comments
    (``/*!50000 …*/``), SQL run from a string or a routine, or a string that reads
    differently with and without backslash escapes."""
    return _parse_cached(sql) if len(sql) <= _CACHED_LENGTH else _parse_text(sql)


@functools.lru_cache(maxsize=512)
def _parse_cached(sql: str) -> Statement:
    return _parse_text(sql)


def _parse_text(sql: str) -> Statement:
    parsed = _parse(sql, backslash_escapes=True)
    if "\\" in sql and _parse(sql, backslash_escapes=False) != parsed:
        return _unparsed(sql, "it reads differently with sql_mode NO_BACKSLASH_ESCAPES")
    return parsed


def _unparsed(sql: str, reason: str) -> Statement:
    return Statement(sql, None, None, "unparsed", reason=reason)


def _parse(sql: str, *, backslash_escapes: bool) -> Statement:
    tokens = tokenize(sql, backslash_escapes)
    code = [token for token in tokens if token.kind not in {"space", "comment"}]
    statements = [statement for statement in split_at(code, ";") if statement]
    reason: str | None = None
    if any(token.kind == "executable" for token in tokens):
        # The server runs what such a comment holds, or not, by its version.
        opened = "".join(
            re.sub(r"\A/\*M?!\d*|\*/\Z", " ", token.text)
            if token.kind == "executable"
            else token.text
            for token in tokens
        )
        if _parse(opened, backslash_escapes=backslash_escapes).kind in GUARDED:
            reason = "it is in an executable comment (/*! … */)"
    elif unclosed(code):
        # The server refuses it too; refused here only when it may be table DDL.
        if {"ALTER", "INDEX"} & {token.word for token in code}:
            reason = "a quote or comment is not closed"
    elif len(statements) > 1:
        if {_one(sql, statement).kind for statement in statements} & GUARDED:
            reason = "it holds several statements"
    elif statements:
        return _one(sql, statements[0])
    return _unparsed(sql, reason) if reason else Statement(sql, None, None, "other")


# The kinds of statement the guard holds or refuses.
GUARDED = frozenset({"alter", "create_index", "drop_index", "unparsed"})


def _ddl_like(code: list[Token]) -> bool:
    words = [token.word for token in code]
    if words[:1] == ["ALTER"]:
        return len(words) < 2 or words[1] not in _NOT_TABLES
    return bool(words[:1] == ["CREATE"] and "INDEX" in words) or words[:2] == ["DROP", "INDEX"]


def _clause(item: list[Token]) -> tuple[str, str] | None:
    """(ALGORITHM or LOCK, its value) when ``item`` is exactly such a clause."""
    words = [token.word for token in item if token.text != "="]
    exact = len(item) == 2 or (len(item) == 3 and item[1].text == "=")
    if exact and words[0] in _CLAUSE_VALUES and words[1] in _CLAUSE_VALUES[words[0]]:
        return words[0], words[1]
    return None


def _clauses_inside(tokens: list[Token]) -> bool:
    """Whether an ALGORITHM or LOCK clause hides inside ``tokens`` (not standing alone)."""
    for index, token in enumerate(tokens):
        if token.word in _CLAUSE_VALUES:
            following = [t for t in tokens[index + 1 : index + 3] if t.text != "="]
            if following and following[0].word in _CLAUSE_VALUES[token.word]:
                return True
    return False


def _one(sql: str, code: list[Token]) -> Statement:
    """One statement (no ``;`` between its tokens), as the server reads it."""
    reader = Reader(sql, code)
    if reader.words("SET", "STATEMENT"):
        return _set_statement(reader)
    verb = code[0].word
    if verb in {"PREPARE", "EXECUTE", "CALL"}:
        return _dynamic(sql, code)
    if verb == "OPTIMIZE":
        return _unparsed(sql, "OPTIMIZE rebuilds the table (ALTER TABLE … FORCE can be held)")
    parsed = _table_ddl(reader)
    if parsed is not None:
        return parsed
    if _ddl_like(code):
        return _unparsed(sql, "it is not an ALTER TABLE, CREATE INDEX or DROP INDEX it knows")
    return Statement(sql, None, None, "other")


def _set_statement(reader: Reader) -> Statement:
    """MariaDB's ``SET STATEMENT var=value, … FOR <statement>``: the settings stay in front,
    the statement after FOR is what runs."""
    start = reader.code[0].start
    depth = 0
    while (token := reader.peek()) is not None and not (depth == 0 and token.word == "FOR"):
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        reader.at += 1
    if reader.peek() is None or reader.peek(1) is None:
        return Statement(reader.sql, None, None, "other")
    reader.at += 1
    inner = _one(reader.sql, reader.rest())
    if inner.alterable is None:
        return inner
    head, rest = inner.alterable
    prefix = reader.sql[start : reader.code[reader.at - 1].end]
    return replace(inner, alterable=(f"{prefix} {head}", rest))


def _table_ddl(reader: Reader) -> Statement | None:
    """ALTER TABLE, CREATE or DROP INDEX or TABLE, RENAME TABLE; None for anything else."""
    if reader.words("ALTER"):
        return _alter(reader, reader.code[0].start)
    if reader.words("CREATE"):
        return _create(reader)
    if reader.words("DROP"):
        return _drop(reader)
    if reader.words("RENAME", "TABLE"):
        return _simple(reader, "rename_table")
    return None


def _create(reader: Reader) -> Statement | None:
    replaces = reader.words("OR", "REPLACE")
    kind = reader.one_of(_INDEX_KINDS)
    if reader.words("INDEX"):
        return _create_index(reader, replaces=replaces, kind=kind)
    reader.words("TEMPORARY")
    if kind is None and reader.words("TABLE"):
        reader.words("IF", "NOT", "EXISTS")
        return _simple(reader, "create_table")
    return None


def _drop(reader: Reader) -> Statement | None:
    if reader.words("INDEX"):
        return _drop_index(reader)
    reader.words("TEMPORARY")
    if reader.words("TABLE"):
        reader.words("IF", "EXISTS")
        return _simple(reader, "drop_table")
    return None


def _dynamic(sql: str, code: list[Token]) -> Statement:
    """PREPARE, EXECUTE or CALL: what they run is text the guard judges only when it is
    written there, as a string holding no table DDL."""
    literal = [token for token in code if token.kind == "string"]
    words = [token.word for token in code]
    if words[:1] == ["EXECUTE"] and words[1:2] != ["IMMEDIATE"] and len(code) >= 2:
        return Statement(sql, None, None, "other")  # runs what PREPARE was judged on
    if words[:1] != ["CALL"] and len(literal) == 1 and code[-1] is literal[0]:
        inner = literal[0].text[1:-1]
        if parse(inner).kind not in GUARDED:
            return Statement(sql, None, None, "other")
    return _unparsed(sql, "it runs SQL the guard cannot read (PREPARE, EXECUTE or CALL)")


def _simple(reader: Reader, kind: str) -> Statement:
    table = reader.table()
    if table is None:
        return Statement(reader.sql, None, None, kind)
    schema, name, _, _ = table
    return Statement(reader.sql, name, None, kind, schema=schema)


def _alter(reader: Reader, start: int) -> Statement:
    sql = reader.sql
    online = reader.words("ONLINE")
    reader.words("IGNORE")
    if not reader.words("TABLE"):
        token = reader.peek()
        if token is not None and token.word in _NOT_TABLES:
            return Statement(sql, None, None, "other")
        return _unparsed(sql, "it is not an ALTER TABLE it knows")
    reader.words("IF", "EXISTS")
    table = reader.table()
    if table is None:
        return _unparsed(sql, "its table's name is not one it can read")
    schema, name, _, _ = table
    reader.wait()
    head = sql[start : reader.code[reader.at - 1].end]
    algorithm, lock = None, "NONE" if online else None
    kept: list[str] = []
    for item in split_at(reader.rest(), ",") if reader.rest() else []:
        if not item:
            return _unparsed(sql, "an empty item between commas")
        clause = _clause(item)
        if clause is None:
            if _clauses_inside(item):
                return _unparsed(sql, "an ALGORITHM or LOCK clause it cannot take apart")
            kept.append(sql[item[0].start : item[-1].end])
        elif clause[0] == "ALGORITHM":
            algorithm = None if clause[1] == "DEFAULT" else clause[1]
        else:
            lock = None if clause[1] == "DEFAULT" else clause[1]
    return Statement(
        sql, name, (head, ", ".join(kept)), "alter", schema=schema, algorithm=algorithm, lock=lock
    )


def _create_index(reader: Reader, *, replaces: bool, kind: str | None) -> Statement:
    # As ALTER TABLE ... ADD INDEX: the same DDL, with the clause in the same place.
    sql = reader.sql
    exists = "IF NOT EXISTS " if reader.words("IF", "NOT", "EXISTS") else ""
    index = reader.identifier()
    if index is None:
        return _unparsed(sql, "its index's name is not one it can read")
    using = ""
    token, method = reader.peek(), reader.peek(1)
    if token is not None and token.word in {"USING", "TYPE"} and method is not None:
        using = f"{sql[token.start : method.end]} "
        reader.at += 2
    if not reader.words("ON"):
        return _unparsed(sql, "it is not a CREATE INDEX it knows")
    table = reader.table()
    if table is None:
        return _unparsed(sql, "its table's name is not one it can read")
    schema, name, table_start, table_end = table
    wait = reader.wait()
    algorithm, lock, options = _trailing_clauses(sql, reader.rest())
    if options is None:
        return _unparsed(sql, "an ALGORITHM or LOCK clause it cannot take apart")
    head = f"ALTER TABLE {sql[table_start:table_end]}{wait}"
    add = f"ADD {kind + ' ' if kind else ''}INDEX {exists}{index.text} {using}{options}"
    rest = f"DROP INDEX IF EXISTS {index.text}, {add}" if replaces else add
    return Statement(
        sql, name, (head, rest), "create_index", schema=schema, algorithm=algorithm, lock=lock
    )


def _trailing_clauses(sql: str, tokens: list[Token]) -> tuple[str | None, str | None, str | None]:
    """CREATE or DROP INDEX's space-separated ALGORITHM and LOCK clauses, taken from the
    end of ``tokens``: (algorithm, lock, the text before them), None for text when a
    clause hides elsewhere."""
    written: dict[str, str | None] = {}
    end = len(tokens)
    while end > 0:
        value = tokens[end - 1]
        name_at = end - 3 if end >= 3 and tokens[end - 2].text == "=" else end - 2
        if name_at < 0 or tokens[name_at].word not in _CLAUSE_VALUES:
            break
        if value.word not in _CLAUSE_VALUES[tokens[name_at].word]:
            break
        # Read from the end: the first of each kind met is the one the server takes.
        written.setdefault(tokens[name_at].word, None if value.word == "DEFAULT" else value.word)
        end = name_at
    if _clauses_inside(tokens[:end]):
        return None, None, None
    text = sql[tokens[0].start : tokens[end - 1].end] if end else ""
    return written.get("ALGORITHM"), written.get("LOCK"), text


def _drop_index(reader: Reader) -> Statement:
    # MariaDB takes no ALGORITHM clause on DROP INDEX; the ALTER form is the same DDL.
    sql = reader.sql
    exists = "IF EXISTS " if reader.words("IF", "EXISTS") else ""
    index = reader.identifier()
    if index is None or not reader.words("ON"):
        return _unparsed(sql, "it is not a DROP INDEX it knows")
    table = reader.table()
    if table is None:
        return _unparsed(sql, "its table's name is not one it can read")
    schema, name, table_start, table_end = table
    wait = reader.wait()
    algorithm, lock, left = _trailing_clauses(sql, reader.rest())
    if left:
        return _unparsed(sql, "it is not a DROP INDEX it knows")
    head = f"ALTER TABLE {sql[table_start:table_end]}{wait}"
    return Statement(
        sql,
        name,
        (head, f"DROP INDEX {exists}{index.text}"),
        "drop_index",
        schema=schema,
        algorithm=algorithm,
        lock=lock,
    )


def alter_items(clauses: str) -> list[tuple[str, ...]]:
    """The comma-separated items of an ALTER TABLE's clause list, each as its words
    (keywords upper case, names without their quotes), as the server reads them."""
    code = [t for t in tokenize(clauses, True) if t.kind not in {"space", "comment"}]
    return [tuple(t.word or unquoted(t) for t in item) for item in split_at(code, ",") if item]
