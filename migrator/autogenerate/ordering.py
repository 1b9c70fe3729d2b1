"""Rewrites autogenerate's operation lists into an order the server (MySQL, MariaDB) accepts.

Alembic lists a revision's operations table by table, in the order its
comparators find them. MySQL then refuses some of them: an index that a
foreign key needs cannot be dropped (1553), a column in a foreign key cannot
be dropped (1828), a referenced table cannot be dropped (3730), and a foreign
key cannot name a table that does not exist yet. Every revision goes through
`runnable` once per direction, so each of those cases is handled here, once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.dialects import mysql

from migrator.autogenerate.shapes import (
    ForeignKey,
    Shape,
    TableShape,
    served,
)

# MySQL's integer types, the ones that take a display width.
INTEGER_TYPES = (mysql.TINYINT, mysql.SMALLINT, mysql.MEDIUMINT, mysql.INTEGER, mysql.BIGINT)


def _table_of(operation: ops.MigrateOperation) -> str:
    if isinstance(operation, ops.CreateForeignKeyOp):
        return str(operation.source_table)
    return str(getattr(operation, "table_name", ""))


def _flat(operations: Iterable[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            yield from _flat(operation.ops)
        else:
            yield operation


def _is_foreign_key_drop(operation: ops.MigrateOperation) -> TypeGuard[ops.DropConstraintOp]:
    return isinstance(operation, ops.DropConstraintOp) and operation.constraint_type == "foreignkey"


@dataclass
class _Plan:
    """The phases of a rewritten revision; each runs after the one before it."""

    drop_foreign_keys: list[ops.MigrateOperation] = field(default_factory=list)
    drop_indexes: list[ops.MigrateOperation] = field(default_factory=list)
    drop_columns: list[ops.MigrateOperation] = field(default_factory=list)
    drop_tables: list[ops.MigrateOperation] = field(default_factory=list)
    create_tables: list[ops.MigrateOperation] = field(default_factory=list)
    change_columns: list[ops.MigrateOperation] = field(default_factory=list)
    create_indexes: list[ops.MigrateOperation] = field(default_factory=list)
    create_foreign_keys: list[ops.MigrateOperation] = field(default_factory=list)
    # Indexes that a kept foreign key relies on, dropped once their replacement exists.
    late_index_drops: list[ops.MigrateOperation] = field(default_factory=list)

    def in_order(self) -> list[ops.MigrateOperation]:
        # Tables go right after the keys: an index or column they reference may go next.
        return [
            *self.drop_foreign_keys,
            *self.drop_tables,
            *self.drop_indexes,
            *self.drop_columns,
            *self.create_tables,
            *self.change_columns,
            *self.create_indexes,
            *self.create_foreign_keys,
            *self.late_index_drops,
        ]


def runnable(
    operations: Sequence[ops.MigrateOperation], before: Shape
) -> list[ops.MigrateOperation]:
    """``operations`` (one direction of a revision) in an order the server accepts.

    ``before`` is the schema the operations start from: the database for an
    upgrade, the schema module for the matching downgrade.
    """
    flat = [_without_display_widths(operation) for operation in _flat(operations)]
    rewrite = _Rewrite(flat, before)
    for operation in flat:
        rewrite.place(operation)
    return rewrite.finished()


def _index_dropped(operation: ops.MigrateOperation) -> str | None:
    """The index an operation drops; MySQL's unique constraints are unique indexes."""
    if isinstance(operation, ops.DropIndexOp):
        return str(operation.index_name)
    if isinstance(operation, ops.DropConstraintOp) and operation.constraint_type == "unique":
        return str(operation.constraint_name)
    return None


class _Rewrite:
    """One direction of a revision, sorted into the phases of a `_Plan`."""

    def __init__(self, flat: list[ops.MigrateOperation], before: Shape) -> None:
        self.flat = flat
        self.before = before
        self.plan = _Plan()
        self.dropped_tables = [op.table_name for op in flat if isinstance(op, ops.DropTableOp)]
        self.dropped_foreign_keys = {
            (op.table_name, op.constraint_name) for op in flat if _is_foreign_key_drop(op)
        }
        self.dropped_indexes = {
            (_table_of(op), _index_dropped(op)) for op in flat if _index_dropped(op)
        }
        self.created_indexes = {
            (_table_of(op), op.index_name): tuple(_column_names(op.columns))
            for op in flat
            if isinstance(op, ops.CreateIndexOp)
        } | {
            (_table_of(op), op.constraint_name): tuple(op.columns)
            for op in flat
            if isinstance(op, ops.CreateUniqueConstraintOp)
        }
        self.bounced: dict[tuple[str, str], ForeignKey] = {}

    def place(self, operation: ops.MigrateOperation) -> None:
        table = _table_of(operation)
        plan = self.plan
        if table in self.dropped_tables and not isinstance(operation, ops.DropTableOp):
            return  # DROP TABLE takes the table's own indexes and constraints with it
        index = _index_dropped(operation)
        if _is_foreign_key_drop(operation):
            plan.drop_foreign_keys.append(operation)
            self._drop_implicit_index(operation)
        elif index is not None:
            self._place_index_drop(operation, table, index)
        elif isinstance(operation, ops.DropColumnOp):
            plan.drop_columns.append(operation)
        elif isinstance(operation, ops.DropTableOp | ops.CreateTableOp):
            pass  # ordered in finished(), by their foreign keys
        elif isinstance(operation, ops.CreateForeignKeyOp):
            plan.create_foreign_keys.append(operation)
        elif isinstance(operation, ops.CreateIndexOp | ops.AddConstraintOp):
            plan.create_indexes.append(operation)
        else:
            if isinstance(operation, ops.AlterColumnOp) and operation.modify_type is not None:
                self._bounce_keys_on_retyped_column(operation)
            plan.change_columns.append(operation)

    def _drop_implicit_index(self, drop: ops.DropConstraintOp) -> None:
        # InnoDB keeps the index it made for a foreign key when the key goes.
        table, name = drop.table_name, str(drop.constraint_name)
        shape = self.before.get(table, TableShape())
        implicit = name in shape.indexes and (table, name) not in self.dropped_indexes
        still_needed = _foreign_keys_needing(
            shape, name, self.dropped_foreign_keys, self.dropped_indexes, table
        )
        if implicit and not still_needed:
            # conv: named like the key, the index takes the name's truncation to 64 characters.
            self.plan.drop_indexes.insert(0, ops.DropIndexOp(sa.schema.conv(name), table))

    def _bounce_keys_on_retyped_column(self, alter: ops.AlterColumnOp) -> None:
        # MySQL refuses a type change on a column a foreign key links (3780, 1833),
        # even when both sides change together: the keys go and come back around it.
        table, column = alter.table_name, alter.column_name
        for owner, shape in self.before.items():
            for key in shape.foreign_keys.values():
                linked = (owner == table and column in key.columns) or (
                    key.referred_table == table and column in key.referred_columns
                )
                gone = {owner, key.referred_table} & set(self.dropped_tables)
                if linked and not gone and (owner, key.name) not in self.dropped_foreign_keys:
                    self.bounced[(owner, key.name)] = key

    def _place_index_drop(self, operation: ops.MigrateOperation, table: str, index: str) -> None:
        needing = _foreign_keys_needing(
            self.before.get(table, TableShape()),
            index,
            self.dropped_foreign_keys,
            self.dropped_indexes,
            table,
        )
        replacements = _replacements(self.created_indexes, table, index)
        if not needing:
            self.plan.drop_indexes.append(operation)
        elif all(served(key.columns, replacements) for key in needing):
            self.plan.late_index_drops.append(operation)
        else:
            # No other index will serve the key: it goes for the drop and comes back,
            # with the index InnoDB makes for it.
            for key in needing:
                self.bounced[(table, key.name)] = key
            self.plan.drop_indexes.append(operation)

    def finished(self) -> list[ops.MigrateOperation]:
        for key in self.bounced.values():
            self.plan.drop_foreign_keys.append(key.drop())
            self.plan.create_foreign_keys.append(key.create())
        _order_table_drops(self.flat, self.dropped_tables, self.before, self.plan)
        created = {op.table_name for op in self.flat if isinstance(op, ops.CreateTableOp)}
        _order_table_creates(self.flat, created, self.plan)
        return _grouped(self.plan.in_order())


def _column_names(columns: Iterable[Any]) -> Iterator[str]:
    for column in columns:
        yield column if isinstance(column, str) else str(getattr(column, "name", column))


def _foreign_keys_needing(
    shape: TableShape,
    index: str,
    dropped_foreign_keys: set[tuple[str, Any]],
    dropped_indexes: set[tuple[str, Any]],
    table: str,
) -> list[ForeignKey]:
    """The kept foreign keys that only ``index`` serves among the indexes that stay."""
    columns = shape.indexes.get(index)
    if columns is None:
        return []
    staying = [
        other
        for name, other in shape.indexes.items()
        if name != index and (table, name) not in dropped_indexes
    ]
    return [
        key
        for key in shape.foreign_keys.values()
        if (table, key.name) not in dropped_foreign_keys
        and served(key.columns, [columns])
        and not served(key.columns, staying)
    ]


def _replacements(
    created: dict[tuple[str, Any], tuple[str, ...]], table: str, dropped: str
) -> list[tuple[str, ...]]:
    # An index re-created under the same name cannot coexist with the old one.
    return [
        columns for (owner, name), columns in created.items() if owner == table and name != dropped
    ]


def _order_table_drops(
    flat: list[ops.MigrateOperation], dropped: list[str], before: Shape, plan: _Plan
) -> None:
    """A table goes after every dropped table that references it; a cycle loses a key first."""
    drops = {op.table_name: op for op in flat if isinstance(op, ops.DropTableOp)}
    remaining = list(dropped)
    while remaining:
        free = [
            table
            for table in remaining
            if not any(
                key.referred_table == table
                for other in remaining
                if other != table
                for key in before.get(other, TableShape()).foreign_keys.values()
            )
        ]
        if not free:
            table = remaining[0]
            for other in remaining[1:]:
                for key in before.get(other, TableShape()).foreign_keys.values():
                    if key.referred_table == table:
                        plan.drop_foreign_keys.append(key.drop())
            free = [table]
        for table in free:
            plan.drop_tables.append(drops[table])
            remaining.remove(table)


def _order_table_creates(flat: list[ops.MigrateOperation], created: set[str], plan: _Plan) -> None:
    """A table comes after the new tables it references; keys closing a cycle come last,
    as do keys to an existing table that gains columns or indexes in the same revision
    (the key may need them, and they come after the new tables)."""
    remaining = [op for op in flat if isinstance(op, ops.CreateTableOp)]
    made: set[str] = set()
    growing = {
        _table_of(op)
        for op in flat
        if isinstance(op, ops.AddColumnOp | ops.CreateIndexOp | ops.AddConstraintOp)
    } - created

    def references(create: ops.CreateTableOp) -> set[str]:
        return {
            _referred(constraint)
            for constraint in create.columns
            if isinstance(constraint, sa.ForeignKeyConstraint)
        }

    def waits_for(create: ops.CreateTableOp) -> set[str]:
        return references(create) & (created - made - {create.table_name})

    while remaining:
        create = next((op for op in remaining if not waits_for(op)), remaining[0])
        late = waits_for(create) | (references(create) & growing)
        if late:
            create = _without_foreign_keys_to(create, late, plan)
        plan.create_tables.append(create)
        made.add(create.table_name)
        remaining = [op for op in remaining if op.table_name != create.table_name]


def _without_foreign_keys_to(
    create: ops.CreateTableOp, tables: set[str], plan: _Plan
) -> ops.CreateTableOp:
    kept: list[Any] = []
    for item in create.columns:
        if isinstance(item, sa.ForeignKeyConstraint) and _referred(item) in tables:
            plan.create_foreign_keys.append(ops.CreateForeignKeyOp.from_constraint(item))
        else:
            kept.append(item)
    rewritten = copy.copy(create)
    rewritten.columns = kept
    return rewritten


def _referred(constraint: sa.ForeignKeyConstraint) -> str:
    # The target's name, without resolving it: a reflected table's metadata may lack it.
    return constraint.elements[0].target_fullname.rsplit(".", 1)[0]


def _grouped(operations: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """Consecutive operations on one table share a ModifyTableOps, as Alembic renders them."""
    grouped: list[ops.MigrateOperation] = []
    for operation in operations:
        if isinstance(operation, ops.CreateTableOp | ops.DropTableOp):
            grouped.append(operation)
            continue
        table = _table_of(operation)
        last = grouped[-1] if grouped else None
        if isinstance(last, ops.ModifyTableOps) and last.table_name == table:
            last.ops.append(operation)
        else:
            grouped.append(ops.ModifyTableOps(table, [operation]))
    return grouped


def _without_display_widths(operation: ops.MigrateOperation) -> ops.MigrateOperation:
    """MySQL 8 ignores integer display widths; a revision that spells them misleads."""
    if isinstance(operation, ops.AlterColumnOp):
        operation.existing_type = _plain(operation.existing_type)
        operation.modify_type = _plain(operation.modify_type)
    elif isinstance(operation, ops.AddColumnOp):
        operation.column.type = _plain(operation.column.type)
    elif isinstance(operation, ops.CreateTableOp):
        for column in operation.columns:
            if isinstance(column, sa.Column):
                column.type = _plain(column.type)
    return operation


def _plain(type_: Any) -> Any:
    if isinstance(type_, INTEGER_TYPES) and type_.display_width is not None:
        type_ = copy.copy(type_)
        type_.display_width = None
    return type_
