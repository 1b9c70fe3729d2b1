"""What a generated revision does, with the risks of each operation marked for its reviewer.

Printed after autogenerate writes a revision, so the person reviewing it sees
at a glance which operations can lose data and which can copy a whole table
while blocking writes, instead of reading every line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.dialects import mysql

from migrator.ddl import narrowing


@dataclass(frozen=True)
class Operation:
    description: str
    destructive: bool
    # Why MySQL may copy the whole table while blocking writes; None when it need not.
    copies_table: str | None = None


def summarize(upgrade_ops: ops.UpgradeOps) -> list[Operation]:
    summary = []
    for diff in upgrade_ops.as_diffs():
        for item in diff if isinstance(diff, list) else [diff]:
            summary.append(Operation(describe_diff(item), _destructive(item), _copies_table(item)))
    return summary


def _copies_table(diff: Any) -> str | None:
    """The operations that MySQL and MariaDB cannot run in place on a big table."""
    operation = diff[0]
    if operation == "modify_type":
        return "a type change copies the table and blocks writes, unless the server widens in place"
    if operation in {"add_pk", "remove_pk", "modify_pk"}:
        return "a primary key change rebuilds the table"
    if operation == "add_column":
        computed = diff[-1].computed
        if computed is not None and computed.persisted:
            return "adding a stored generated column copies the table and blocks writes"
    return None


def describe_diff(diff: Any) -> str:
    """A short name for one autogenerate difference, e.g. ``add_column status.level``."""
    if isinstance(diff, list):  # column modifications come grouped per column
        return ", ".join(describe_diff(item) for item in diff)
    operation, *details = diff
    names = []
    for item in details:
        name = getattr(item, "name", None)
        if isinstance(name, str):
            names.append(name)
        elif isinstance(item, str):
            names.append(item)
    if operation.startswith("modify_"):
        names = names[:2]
    return f"{operation} {'.'.join(names)}".strip()


def _destructive(diff: Any) -> bool:
    operation = diff[0]
    if operation.startswith("remove_"):  # tables, columns, indexes, constraints
        return True
    if operation == "modify_type":
        return narrows(diff[-2], diff[-1])
    return False


def narrows(old: Any, new: Any) -> bool:
    """True when values of ``old`` may not fit ``new``: :mod:`migrator.ddl.narrowing` judges the
    types as MySQL spells them."""
    return narrowing.narrows(_mysql_type(old), _mysql_type(new))


def _mysql_type(column_type: sa.types.TypeEngine[Any]) -> str:
    """The type as MySQL's DDL spells it; its class name when it has no MySQL spelling."""
    try:
        return str(column_type.compile(dialect=mysql.dialect()))
    except sa.exc.CompileError:  # VARCHAR without a length, say
        return type(column_type).__name__
