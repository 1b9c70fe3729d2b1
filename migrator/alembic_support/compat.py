"""Every place the runner relies on Alembic's or SQLAlchemy's private internals, each explained.

Alembic has no public way to keep `op` and `context` per thread, to list the steps
between two revisions, or to write alembic_version without `stamp`; a few of its
comparisons and renderers can be reused but not extended. Each function here says
which internal it touches and why; tests/unit/test_alembic_compat.py fails when an
installed Alembic or SQLAlchemy changes one. The autogenerate package sits below this
one, so the internals it needs are in :mod:`migrator.autogenerate.compat`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import sqlalchemy
from alembic.autogenerate import render
from alembic.autogenerate.compare import server_defaults
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.runtime.plugins import _all_plugins
from alembic.script import ScriptDirectory
from alembic.util import ModuleClsProxy, PriorityDispatchResult
from sqlalchemy.sql import sqltypes

# A proxy module's (alembic.op, alembic.context) global that the functions Alembic
# generates in it call: `def add_column(...): return _proxy.add_column(...)`.
PROXY_GLOBAL = "_proxy"

ProxyModules = list[tuple[MutableMapping[str, Any], MutableMapping[str, Any]]]


def upgrade_steps(
    script: ScriptDirectory, destination: str, current: tuple[str, ...]
) -> list[RevisionStep]:
    """The steps from ``current`` up to ``destination``, as `alembic upgrade` runs them.

    ScriptDirectory's private ``_upgrade_revs``: the public ``iterate_revisions`` gives
    revisions, not the steps (with their branch moves) a MigrationContext runs. Alembic's
    own commands pass the heads tuple, whatever the annotation says.
    """
    return list(script._upgrade_revs(destination, current))  # type: ignore[arg-type]


def downgrade_steps(
    script: ScriptDirectory, destination: str, current: tuple[str, ...]
) -> list[RevisionStep]:
    """The steps from ``current`` down to ``destination`` (the private ``_downgrade_revs``)."""
    return list(script._downgrade_revs(destination, current))  # type: ignore[arg-type]


def ensure_version_table(context: MigrationContext) -> sqlalchemy.Table:
    """alembic_version, created when missing, as the Table Alembic writes it through.

    MigrationContext's private ``_ensure_version_table`` and ``_version``: a baseline
    writes its rows itself, as `alembic stamp` would run env.py and delete the old rows
    before it resolves the revision. The CREATE is DDL: it commits on its own.
    """
    context._ensure_version_table()
    table: sqlalchemy.Table = context._version
    return table


def proxy_modules() -> Iterable[tuple[type[Any], tuple[Iterable[str], ProxyModules]]]:
    """Each class Alembic proxies through module globals (Operations as `alembic.op`,
    EnvironmentContext as `alembic.context`), with its attribute names and modules.

    ModuleClsProxy's private ``_setups``: the only record of which modules hold the
    globals a migration's `op` and `context` are.
    """
    return ModuleClsProxy._setups.items()


def replace_proxy_installation(
    install: Callable[[ModuleClsProxy], None], remove: Callable[[ModuleClsProxy], None]
) -> None:
    """Make every Alembic proxy install and remove itself through ``install`` and ``remove``.

    ModuleClsProxy's private ``_install_proxy`` and ``_remove_proxy``, which Alembic calls
    as a migration starts and ends, write one module global for the whole process.
    """
    ModuleClsProxy._install_proxy = install  # type: ignore[method-assign,assignment]
    ModuleClsProxy._remove_proxy = remove  # type: ignore[method-assign,assignment]


def plugin_registered(name: str) -> bool:
    """Whether an Alembic plugin of this name exists (alembic.runtime.plugins' private
    ``_all_plugins``): Plugin() refuses a second one, and a module may be imported twice."""
    return name in _all_plugins


def compare_computed_default(*arguments: Any) -> PriorityDispatchResult:
    """Alembic's own comparison of generated (Computed) columns, given a column
    comparator's arguments: the private ``_compare_computed_default`` of
    alembic.autogenerate.compare.server_defaults, called first for the dialect so that
    the server-default comparison never sees a generated column."""
    result: PriorityDispatchResult = server_defaults._compare_computed_default(*arguments)
    return result


def render_alter_column(autogen_context: Any, op: ops.AlterColumnOp) -> str:
    """Alembic's rendering of `op.alter_column(...)` (alembic.autogenerate.render's private
    ``_alter_column``), which a replacement renderer adjusts the operation for first."""
    rendered: str = render._alter_column(autogen_context, op)
    return rendered


def is_binary(type_: Any) -> bool:
    """Whether a type is one of the BLOB and BINARY kinds: SQLAlchemy's private
    ``sqltypes._Binary``, their only common base (LargeBinary, BINARY, VARBINARY, and
    MySQL's TINYBLOB, MEDIUMBLOB and LONGBLOB)."""
    return isinstance(type_, sqltypes._Binary)


def is_autoincrement_column(column: sqlalchemy.Column[Any]) -> bool:
    """Whether SQLAlchemy makes this column its table's AUTO_INCREMENT one: the Table's
    private ``_autoincrement_column``, its decision for an integer primary key whose
    ``autoincrement`` is left at "auto"."""
    return column.table._autoincrement_column is column
