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

# Integer kinds from narrow to wide; MySQL's names and SQLAlchemy's generic ones.
_INTEGER_RANK = {"TINYINT": 1, "SMALLINT": 2, "MEDIUMINT": 3, "INT": 4, "INTEGER": 4, "BIGINT": 5}


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
    """True when values of ``old`` may not fit ``new`` (shorter, smaller, fewer values)."""
    if isinstance(old, sa.Enum) and isinstance(new, sa.Enum):
        return not set(old.enums) <= set(new.enums)
    if isinstance(old, sa.String) and isinstance(new, sa.String):
        return (new.length or 0) < (old.length or 0) and new.length is not None
    if isinstance(old, sa.Integer) and isinstance(new, sa.Integer):
        old_rank = _INTEGER_RANK.get(type(old).__visit_name__.upper(), 4)
        new_rank = _INTEGER_RANK.get(type(new).__visit_name__.upper(), 4)
        signedness_changed = getattr(old, "unsigned", False) != getattr(new, "unsigned", False)
        return new_rank < old_rank or signedness_changed
    if isinstance(old, sa.Numeric) and isinstance(new, sa.Numeric):
        return (new.precision or 0) < (old.precision or 0) or (new.scale or 0) < (old.scale or 0)
    # A change of kind (say text to number) cannot be judged safe.
    return type(old)._type_affinity is not type(new)._type_affinity
