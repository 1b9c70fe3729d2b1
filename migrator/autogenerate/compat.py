"""The private Alembic and SQLAlchemy internals autogenerate relies on, each explained.

:mod:`migrator.alembic_support.compat` holds the others; autogenerate sits below it
in the layers, so what it needs is here. tests/unit/test_alembic_compat.py fails when
an installed Alembic or SQLAlchemy changes one of them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from alembic.operations import ops
from alembic.util.sqla_compat import _get_constraint_final_name


def final_name(index: sqlalchemy.Index, dialect: sqlalchemy.Dialect) -> str | None:
    """The name the server will know an index by, its naming convention applied, as
    Alembic's own index comparison names it (the private
    ``alembic.util.sqla_compat._get_constraint_final_name``)."""
    return _get_constraint_final_name(index, dialect)


def index_on(
    table: sqlalchemy.Table, name: str, *elements: Any, unique: bool, **options: Any
) -> sqlalchemy.Index:
    """An index of ``table`` whose parts may all be expressions (SQLAlchemy's private
    ``_table`` argument of Index): an Index takes its table from a column otherwise."""
    return sqlalchemy.Index(name, *elements, unique=unique, _table=table, **options)


def drop_constraint(
    name: str, table: str, type_: str, reverse: ops.AddConstraintOp
) -> ops.DropConstraintOp:
    """A DROP CONSTRAINT whose reverse is ``reverse`` (the private ``_reverse`` argument):
    Alembic describes the drop in a revision's summary, and renders its downgrade, from it."""
    return ops.DropConstraintOp(name, table, type_=type_, _reverse=reverse)
