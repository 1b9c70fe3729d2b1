"""How `check` reports one difference: the operation, and what the live database and the
schema module each have, e.g. ``modify_type users.email: live VARCHAR(200), models String(255)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy
from sqlalchemy.dialects import mysql

from migrator.indexes import wanted_parts
from migrator.review import describe_diff

_DIALECT = mysql.dialect()


def describe_drift(diff: Any) -> str:
    """``describe_diff`` followed by both sides of the difference, where it has two."""
    if isinstance(diff, list):  # column modifications come grouped per column
        return "; ".join(describe_drift(item) for item in diff)
    sides = _sides(diff)
    operation = describe_diff(diff)
    return f"{operation}: {sides}" if sides else operation


def _sides(diff: tuple[Any, ...]) -> str | None:
    operation = diff[0]
    if operation in _SHOW:  # (operation, schema, table, column, existing, old, new)
        live, models = _SHOW[operation]
        return f"live {live(diff[5])}, models {models(diff[6])}"
    describe = _ONE_SIDED.get(operation)
    return describe(diff) if describe else None


def _primary_keys(diff: tuple[Any, ...]) -> str:
    return f"live ({', '.join(diff[2])}), models ({', '.join(diff[3])})"


def _added_column(diff: tuple[Any, ...]) -> str:
    return f"not in the live database, models {_model_type(diff[3].type)}"


def _removed_column(diff: tuple[Any, ...]) -> str:
    return f"live {_live_type(diff[3].type)}, not in the models"


def _added_index(diff: tuple[Any, ...]) -> str:
    return f"not in the live database, models {_index(diff[1])}"


def _removed_index(diff: tuple[Any, ...]) -> str:
    return f"live {_index(diff[1])}, not in the models"


def _index(index: sqlalchemy.Index) -> str:
    parts = ", ".join(
        f"{what}{f'({prefix})' if prefix else ''}{' DESC' if descending else ''}"
        for what, descending, prefix in wanted_parts(index, _DIALECT)
    )
    return f"{'UNIQUE ' if index.unique else ''}INDEX ({parts})"


def _live_type(type_: Any) -> str:
    try:
        return str(type_.compile(dialect=_DIALECT))
    except sqlalchemy.exc.CompileError:
        return repr(type_)


def _model_type(type_: Any) -> str:
    """``String(255)`` rather than ``String(length=255)``."""
    return re.sub(r"\b\w+=", "", repr(type_))


def _default(default: Any) -> str:
    if default is None or default is False:
        return "no default"
    argument = getattr(default, "arg", default)
    if isinstance(argument, str):
        return f"DEFAULT '{argument}'"
    return f"DEFAULT {getattr(argument, 'text', argument)}"


def _nullable(nullable: Any) -> str:
    return "NULL" if nullable else "NOT NULL"


def _comment(comment: Any) -> str:
    return "no comment" if comment is None else repr(comment)


_SHOW: dict[str, tuple[Callable[[Any], str], Callable[[Any], str]]] = {
    "modify_type": (_live_type, _model_type),
    "modify_default": (_default, _default),
    "modify_nullable": (_nullable, _nullable),
    "modify_comment": (_comment, _comment),
}
_ONE_SIDED: dict[str, Callable[[tuple[Any, ...]], str]] = {
    "modify_pk": _primary_keys,
    "add_column": _added_column,
    "remove_column": _removed_column,
    "add_index": _added_index,
    "remove_index": _removed_index,
}
