"""The indexes and foreign keys of a schema, as ordering autogenerate's operations needs them.

:func:`reflected_shape` reads them from a live database, :func:`metadata_shape` from
the schema module; :mod:`migrator.autogenerate.ordering` decides from them which
operation must wait for which.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.operations import ops

from migrator.autogenerate import compat

PRIMARY = "PRIMARY"  # the primary key, as an index: InnoDB names it so


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()

    def create(self) -> ops.CreateForeignKeyOp:
        return ops.CreateForeignKeyOp(
            self.name,
            self.table,
            self.referred_table,
            list(self.columns),
            list(self.referred_columns),
            **dict(self.options),
        )

    def drop(self) -> ops.DropConstraintOp:
        # The reverse lets Alembic describe the drop in the revision's summary.
        return compat.drop_constraint(self.name, self.table, "foreignkey", self.create())


@dataclass
class TableShape:
    """What ordering depends on: a table's indexes (by name) and its foreign keys."""

    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKey] = field(default_factory=dict)


Shape = dict[str, TableShape]


def reflected_shape(connection: sa.Connection, tables: Iterable[str]) -> Shape:
    """The live database's indexes and foreign keys, implicit foreign-key indexes included."""
    inspector = sa.inspect(connection)
    shape: Shape = {}
    for table in tables:
        table_shape = TableShape()
        primary = inspector.get_pk_constraint(table)["constrained_columns"]
        if primary:
            table_shape.indexes[PRIMARY] = tuple(primary)
        for index in inspector.get_indexes(table):
            if index["name"]:
                table_shape.indexes[index["name"]] = tuple(
                    name for name in index["column_names"] if name is not None
                )
        for key in inspector.get_foreign_keys(table):
            if key["name"]:
                table_shape.foreign_keys[key["name"]] = ForeignKey(
                    key["name"],
                    table,
                    tuple(key["constrained_columns"]),
                    key["referred_table"],
                    tuple(key["referred_columns"]),
                    tuple(sorted((key.get("options") or {}).items())),
                )
        shape[table] = table_shape
    return shape


def metadata_shape(metadata: sa.MetaData) -> Shape:
    """The indexes and foreign keys that ``create_all`` of the metadata would leave."""
    shape: Shape = {}
    for table in metadata.tables.values():
        table_shape = TableShape()
        if table.primary_key.columns:
            table_shape.indexes[PRIMARY] = tuple(c.name for c in table.primary_key.columns)
        for index in table.indexes:
            table_shape.indexes[str(index.name)] = tuple(
                c.name for c in index.columns if isinstance(c, sa.Column)
            )
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and constraint.name:
                table_shape.indexes[str(constraint.name)] = tuple(
                    c.name for c in constraint.columns
                )
        for key in table.foreign_key_constraints:
            if not isinstance(key.name, str):
                continue
            options = {"ondelete": key.ondelete, "onupdate": key.onupdate}
            foreign_key = ForeignKey(
                key.name,
                table.name,
                tuple(key.column_keys),
                key.referred_table.name,
                tuple(element.column.name for element in key.elements),
                tuple(sorted((k, v) for k, v in options.items() if v)),
            )
            table_shape.foreign_keys[key.name] = foreign_key
            if not served(foreign_key.columns, table_shape.indexes.values()):
                # InnoDB creates an index for a foreign key that has none, named after it.
                table_shape.indexes[key.name] = foreign_key.columns
        shape[table.name] = table_shape
    return shape


def served(columns: tuple[str, ...], indexes: Iterable[tuple[str, ...]]) -> bool:
    """InnoDB needs an index whose leading columns are the foreign key's, in order."""
    return any(index[: len(columns)] == columns for index in indexes)
