"""What a setting's text may be: how the fast reader parses it, and what pydantic validates it as.

Each setting of :mod:`migrator.settings.declarations` names one of these kinds.
A kind parses only the plain spellings it can vouch for and raises
:class:`Unusual` for the rest, which the pydantic reader then judges. Importing
this module imports no pydantic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from migrator.settings.config import MAX_TIMEOUT
from migrator.settings.target import Secret

_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,9})?")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,8}")


class Unusual(Exception):
    """A value the fast reader does not vouch for; pydantic-settings decides what it means."""


class Kind:
    """What a setting's text may be: how the fast reader parses a plain value, and the
    type and constraints pydantic-settings validates any value with."""

    def __init__(self, pydantic_type: Any, **constraints: Any) -> None:
        self.pydantic_type = pydantic_type
        self.constraints = constraints

    def parse(self, text: str) -> Any:
        """The value of ``text``; Unusual when only pydantic should judge it."""
        return text


class Number(Kind):
    def __init__(self, minimum: float, *, strict: bool = False) -> None:
        super().__init__(float, **{"gt" if strict else "ge": minimum}, le=MAX_TIMEOUT)
        self.minimum, self.strict = minimum, strict

    def parse(self, text: str) -> float:
        if not _NUMBER.fullmatch(text):
            raise Unusual
        value = float(text)
        if value < self.minimum or (self.strict and value == self.minimum) or value > MAX_TIMEOUT:
            raise Unusual
        return value


class Integer(Kind):
    def __init__(self, minimum: int, maximum: int | None = None) -> None:
        super().__init__(int, ge=minimum, **({"le": maximum} if maximum is not None else {}))
        self.minimum, self.maximum = minimum, maximum

    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text) or int(text) < self.minimum:
            raise Unusual
        if self.maximum is not None and int(text) > self.maximum:
            raise Unusual
        return int(text)


class Choice(Kind):
    """One of the values of a ``Literal`` (:mod:`migrator.settings.config` names them)."""

    def __init__(self, choices: Any) -> None:
        super().__init__(choices)
        self.options: tuple[str, ...] = get_args(choices)

    def parse(self, text: str) -> str:
        if text not in self.options:
            raise Unusual
        return text


class _Secret(Kind):
    def parse(self, text: str) -> Secret:
        return Secret(text)


class _File(Kind):
    def parse(self, text: str) -> Path:
        if not text or "\x00" in text:
            raise Unusual
        return Path(text)


class _Boolean(Kind):
    def parse(self, text: str) -> bool:
        if text not in {"0", "1", "false", "true"}:
            raise Unusual
        return text in {"1", "true"}


class _Pattern(Kind):
    def parse(self, text: str) -> str:
        if not re.fullmatch(self.constraints["pattern"], text):
            raise Unusual
        return text


TEXT = Kind(str)
SECRET = _Secret("SecretStr")  # pydantic's SecretStr by name: this module imports no pydantic
FILE = _File(Path)
BOOLEAN = _Boolean(bool)
# module:attribute, the attribute a dotted path (`myapp.models:Base.metadata`).
SCHEMA_REF = _Pattern(str, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
