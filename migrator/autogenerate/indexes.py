"""What Alembic cannot see in indexes or primary keys, compared as the server stores them.

Alembic compares an index by its column names alone, and SQLAlchemy reflects
neither a MySQL index's expressions nor its columns' direction. So a functional
index looked like a changed index on every run, while a change of direction,
prefix length (`mysql_length`) or expression went unseen; and primary keys are
not compared at all. The server's own record (`information_schema.statistics`)
settles both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from alembic.autogenerate import render
from alembic.operations import ops
from alembic.util import PriorityDispatchResult
from sqlalchemy.sql import operators

from migrator.autogenerate import compat

# A part of an index: a column name or a normalised expression, its direction, its prefix.
Part = tuple[str, bool, int | None]


@dataclass(frozen=True)
class LiveIndex:
    """An index as the server stores it."""

    name: str
    unique: bool
    parts: tuple[Part, ...]

    def to_index(self, table: sqlalchemy.Table) -> sqlalchemy.Index:
        """The index rebuilt on a reflected table, for a downgrade that restores it exactly."""
        elements: list[Any] = []
        lengths = {}
        columns = {column.name.lower(): column for column in table.c}
        for what, descending, prefix in self.parts:
            element: Any = columns.get(what, sqlalchemy.text(f"({what})"))
            elements.append(element.desc() if descending else element)
            if prefix is not None:
                lengths[columns[what].name] = prefix
        options: dict[str, Any] = {"mysql_length": lengths} if lengths else {}
        return compat.index_on(table, self.name, *elements, unique=self.unique, **options)


def live_indexes(connection: sqlalchemy.Connection, table: str) -> dict[str, LiveIndex]:
    """The table's indexes but its primary key, from the server's own record."""
    rows = connection.execute(
        sqlalchemy.text(
            "SELECT * FROM information_schema.statistics"
            " WHERE table_schema = DATABASE() AND table_name = :table"
            " ORDER BY index_name, seq_in_index"
        ),
        {"table": table},
    )
    found: dict[str, tuple[bool, list[Part]]] = {}
    for row in rows:
        # MariaDB has no EXPRESSION column; MySQL names a functional part there.
        column = {key.upper(): value for key, value in row._mapping.items()}
        name = str(column["INDEX_NAME"])
        if name == "PRIMARY":
            continue
        _, parts = found.setdefault(name, (not int(column["NON_UNIQUE"]), []))
        expression = column.get("EXPRESSION")
        what = (
            str(column["COLUMN_NAME"]).lower()
            if column["COLUMN_NAME"] is not None
            else normalize_expression(str(expression))
        )
        sub_part = column["SUB_PART"]
        parts.append((what, column["COLLATION"] == "D", int(sub_part) if sub_part else None))
    return {name: LiveIndex(name, unique, tuple(parts)) for name, (unique, parts) in found.items()}


def wanted_parts(index: sqlalchemy.Index, dialect: sqlalchemy.Dialect) -> tuple[Part, ...]:
    """The parts the schema module asks for, in the server's terms."""
    lengths = index.dialect_options["mysql"]["length"]
    parts: list[Part] = []
    for expression in index.expressions:
        element, descending = _direction(expression)
        if isinstance(element, sqlalchemy.Column):
            name = element.name
            prefix = lengths if isinstance(lengths, int) else (lengths or {}).get(name)
            parts.append((name.lower(), descending, prefix))
        else:
            compiled = element.compile(
                dialect=dialect, compile_kwargs={"include_table": False, "literal_binds": True}
            )
            parts.append((normalize_expression(str(compiled)), descending, None))
    return tuple(parts)


def _direction(expression: Any) -> tuple[Any, bool]:
    if isinstance(expression, sqlalchemy.UnaryExpression) and expression.modifier in {
        operators.desc_op,
        operators.asc_op,
    }:
        return expression.element, expression.modifier is operators.desc_op
    return expression, False


def normalize_expression(text: str) -> str:
    """One spelling per index expression: MySQL stores `lower(b)` as ``lower(`b`)``,
    `a + 1` as ``(`a` + 1)``. Literals are lowercased and lose their spaces too: such
    a change inside an expression's literal is not seen."""
    # MySQL also escapes the quotes of literals (``_utf8mb4\\'x\\'``) and names a charset.
    text = text.replace("`", "").replace("\\'", "'")
    text = re.sub(r"(?<![\w$])_[a-z0-9]+(?=')", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", "", text.lower())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for character in text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return False
    return depth == 0


def compare_indexes(  # noqa: PLR0917 - the signature is Alembic's
    autogen_context: Any,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: sqlalchemy.Table | None,
    metadata_table: sqlalchemy.Table | None,
) -> PriorityDispatchResult:
    """Runs after Alembic's index comparison and corrects it with the server's record:
    drops a remove-and-add of an index that is the same, adds one for an index whose
    direction, prefix length or expression changed, and makes every index drop
    restore the exact index on downgrade."""
    if conn_table is None or metadata_table is None or autogen_context.connection is None:
        return PriorityDispatchResult.CONTINUE
    live = live_indexes(autogen_context.connection, table_name)
    dialect = autogen_context.dialect
    wanted = {str(compat.final_name(index, dialect)): index for index in metadata_table.indexes}
    dropped = {str(op.index_name) for op in modify_ops.ops if isinstance(op, ops.DropIndexOp)}
    created = {str(op.index_name) for op in modify_ops.ops if isinstance(op, ops.CreateIndexOp)}
    for name, index in wanted.items():
        if name not in live or bool(index.unique) != live[name].unique:
            continue
        same = wanted_parts(index, dialect) == live[name].parts
        if same and name in dropped and name in created:
            modify_ops.ops = [
                op
                for op in modify_ops.ops
                if not (
                    isinstance(op, ops.DropIndexOp | ops.CreateIndexOp) and op.index_name == name
                )
            ]
        elif not same and name not in dropped and name not in created:
            modify_ops.ops.append(ops.DropIndexOp.from_index(live[name].to_index(conn_table)))
            modify_ops.ops.append(ops.CreateIndexOp.from_index(index))
    # Alembic's drops carry the reflected index, without its expressions, directions
    # and prefixes: the downgrade would create another index.
    modify_ops.ops = [
        ops.DropIndexOp.from_index(live[str(op.index_name)].to_index(conn_table))
        if isinstance(op, ops.DropIndexOp) and str(op.index_name) in live
        else op
        for op in modify_ops.ops
    ]
    return PriorityDispatchResult.CONTINUE


def _changes_index(op: ops.MigrateOperation, name: str) -> bool:
    return isinstance(op, ops.DropIndexOp | ops.CreateIndexOp) and op.index_name == name


class ChangePrimaryKeyOp(ops.MigrateOperation):
    """A table's primary key replaced in one statement: MySQL keeps an AUTO_INCREMENT
    column keyed throughout, which a drop followed by an add would not."""

    def __init__(self, table_name: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        self.table_name = table_name
        self.old = old
        self.new = new

    def reverse(self) -> ChangePrimaryKeyOp:
        return ChangePrimaryKeyOp(self.table_name, self.new, self.old)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_pk", self.table_name, self.old, self.new)

    def statement(self, dialect: sqlalchemy.Dialect) -> str:
        quote = dialect.identifier_preparer.quote
        clauses = []
        if self.old:
            clauses.append("DROP PRIMARY KEY")
        if self.new:
            clauses.append(f"ADD PRIMARY KEY ({', '.join(quote(name) for name in self.new)})")
        return f"ALTER TABLE {quote(self.table_name)} {', '.join(clauses)}"


def compare_primary_key(  # noqa: PLR0917 - the signature is Alembic's
    autogen_context: Any,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: sqlalchemy.Table | None,
    metadata_table: sqlalchemy.Table | None,
) -> PriorityDispatchResult:
    """A primary key whose columns or their order changed; Alembic compares none."""
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    old = tuple(column.name for column in conn_table.primary_key.columns)
    new = tuple(column.name for column in metadata_table.primary_key.columns)
    if [name.lower() for name in old] != [name.lower() for name in new]:
        modify_ops.ops.append(ChangePrimaryKeyOp(table_name, old, new))
    return PriorityDispatchResult.CONTINUE


def render_change_primary_key(autogen_context: Any, op: ChangePrimaryKeyOp) -> str:
    return f"op.execute({op.statement(autogen_context.dialect)!r})"


render.renderers.dispatch_for(ChangePrimaryKeyOp)(render_change_primary_key)
