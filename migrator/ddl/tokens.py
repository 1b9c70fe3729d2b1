"""Reads SQL as the server does, token by token: comments, quotes, executable comments."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import NamedTuple

# How the server reads a statement, token by token. Two string rules: with and without
# backslash escapes (sql_mode NO_BACKSLASH_ESCAPES), as a statement may be read either way.
_LEXICON = r"""
      (?P<space>\s+)
    | (?P<executable>/\*M?!.*?\*/)
    | (?P<comment>/\*.*?\*/|(?:--(?=\s|\Z)|\#)[^\n]*(?:\n|\Z))
    | (?P<quoted>`(?:[^`]|``)*`)
    | (?P<string>{strings})
    | (?P<word>[\w$]+)
    | (?P<symbol>.)
"""
_TOKENS = {
    True: re.compile(
        _LEXICON.format(strings=r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*\""""),
        re.DOTALL | re.VERBOSE,
    ),
    False: re.compile(
        _LEXICON.format(strings=r"""'(?:[^']|'')*'|"(?:[^"]|"")*\""""),
        re.DOTALL | re.VERBOSE,
    ),
}


class Token(NamedTuple):
    # A tuple rather than a frozen dataclass: the guard tokenizes every statement a
    # revision runs, and a frozen dataclass's __init__ costs several times as much.
    kind: str  # space, executable, comment, quoted, string, word or symbol
    text: str
    start: int
    end: int
    word: str  # the keyword it is, upper case; "" when it is not a bare word


def tokenize(sql: str, backslash_escapes: bool) -> list[Token]:
    return [
        Token(kind, text, match.start(), match.end(), text.upper() if kind == "word" else "")
        for match in _TOKENS[backslash_escapes].finditer(sql)
        for kind, text in ((str(match.lastgroup), match.group()),)
    ]


def unquoted(token: Token) -> str:
    """An identifier without its quotes."""
    if token.kind == "quoted" or (token.kind == "string" and token.text.startswith('"')):
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    return token.text


def unclosed(code: list[Token]) -> bool:
    """Whether a quote or a comment opens and never closes."""
    return any(token.kind == "symbol" and token.text in "'\"`" for token in code) or any(
        token.text == "/" and following.text == "*" for token, following in pairwise(code)
    )


def split_at(code: list[Token], separator: str) -> list[list[Token]]:
    """``code`` cut at each ``separator`` outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in code:
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        if depth == 0 and token.kind == "symbol" and token.text == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


class Reader:
    """Reads one statement's tokens from the front."""

    def __init__(self, sql: str, code: list[Token]) -> None:
        self.sql = sql
        self.code = code
        self.at = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.at + offset
        return self.code[index] if index < len(self.code) else None

    def words(self, *words: str) -> bool:
        """Take ``words`` if they come next."""
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.word != word:
                return False
        self.at += len(words)
        return True

    def one_of(self, words: frozenset[str]) -> str | None:
        token = self.peek()
        if token is not None and token.word in words:
            self.at += 1
            return token.word
        return None

    def identifier(self) -> Token | None:
        token = self.peek()
        if token is not None and token.kind in {"word", "quoted"} | (
            {"string"} if token.text.startswith('"') else set()
        ):
            self.at += 1
            return token
        return None

    def table(self) -> tuple[str | None, str, int, int] | None:
        """A table name, qualified or not: (schema, table, start, end) of its text."""
        first = self.identifier()
        if first is None:
            return None
        dot = self.peek()
        if dot is not None and dot.text == "." and dot.kind == "symbol":
            self.at += 1
            second = self.identifier()
            if second is None:
                return None
            return unquoted(first), unquoted(second), first.start, second.end
        return None, unquoted(first), first.start, first.end

    def wait(self) -> str:
        """MariaDB's ``WAIT n`` or ``NOWAIT`` after the table's name, taken as written."""
        token = self.peek()
        if token is not None and token.word == "NOWAIT":
            self.at += 1
            return f" {token.text}"
        seconds = self.peek(1)
        if token is not None and token.word == "WAIT" and seconds is not None:
            self.at += 2
            return f" {self.sql[token.start : seconds.end]}"
        return ""

    def rest(self) -> list[Token]:
        return self.code[self.at :]
