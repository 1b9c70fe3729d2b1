"""Each private Alembic or SQLAlchemy internal the runner touches still works as it relies on.

One test per function of migrator.alembic_support.compat and migrator.autogenerate.compat:
a newer Alembic or SQLAlchemy that renames or changes one fails here, by name, rather
than in a migration.
"""

from __future__ import annotations

from pathlib import Path

import alembic.context
import alembic.op
import pytest
import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.plugins import Plugin
from alembic.script import ScriptDirectory
from alembic.util import ModuleClsProxy, PriorityDispatchResult
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import CreateIndex

from migrator.alembic_support import compat
from migrator.autogenerate import compat as autogenerate_compat

REVISION = """
revision = "{revision}"
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
"""


@pytest.fixture
def two_revisions(tmp_path: Path) -> ScriptDirectory:
    versions = tmp_path / "versions"
    versions.mkdir()
    for revision, down_revision in (("aaa1", None), ("bbb2", "aaa1")):
        (versions / f"{revision}.py").write_text(
            REVISION.format(revision=revision, down_revision=down_revision)
        )
    return ScriptDirectory(str(tmp_path))


def test_upgrade_steps_are_the_steps_from_the_current_heads_to_the_destination(
    two_revisions: ScriptDirectory,
) -> None:
    steps = compat.upgrade_steps(two_revisions, "heads", ())
    assert [(step.revision.revision, step.is_upgrade) for step in steps] == [
        ("aaa1", True),
        ("bbb2", True),
    ]
    assert compat.upgrade_steps(two_revisions, "heads", ("aaa1",))[0].revision.revision == "bbb2"


def test_downgrade_steps_are_the_steps_down_to_the_destination(
    two_revisions: ScriptDirectory,
) -> None:
    steps = compat.downgrade_steps(two_revisions, "base", ("bbb2",))
    assert [(step.revision.revision, step.is_upgrade) for step in steps] == [
        ("bbb2", False),
        ("aaa1", False),
    ]


def test_ensure_version_table_creates_the_table_alembic_reads_its_heads_from() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        table = compat.ensure_version_table(context)
        assert sa.inspect(connection).has_table("alembic_version")
        connection.execute(table.insert(), [{"version_num": "aaa1"}])
        assert context.get_current_heads() == ("aaa1",)
        compat.ensure_version_table(context)  # once it exists: nothing to do
        assert context.get_current_heads() == ("aaa1",)


def test_proxy_modules_name_the_modules_of_op_and_context() -> None:
    modules = {cls: modules for cls, (_names, modules) in compat.proxy_modules()}
    for cls, module in ((Operations, alembic.op), (EnvironmentContext, alembic.context)):
        assert any(globals_ is vars(module) for globals_, _locals in modules[cls])
    # The functions Alembic generates in alembic.op call through this global.
    assert compat.PROXY_GLOBAL in alembic.op.execute.__code__.co_names


def test_replaced_proxy_installation_is_what_a_migration_installs_and_removes(
    two_revisions: ScriptDirectory,
) -> None:
    # The installers in place (Alembic's own, or this process's per-thread ones), restored after.
    originals = (vars(ModuleClsProxy)["_install_proxy"], vars(ModuleClsProxy)["_remove_proxy"])
    calls: list[tuple[str, object]] = []
    compat.replace_proxy_installation(
        lambda proxy: calls.append(("install", proxy)),
        lambda proxy: calls.append(("remove", proxy)),
    )
    try:
        with EnvironmentContext(Config(), two_revisions) as environment:
            assert calls == [("install", environment)]
        assert calls == [("install", environment), ("remove", environment)]
    finally:
        compat.replace_proxy_installation(*originals)


def test_plugin_registered_sees_a_plugin_come_and_go() -> None:
    name = "migrator.compat-smoke-test"
    assert not compat.plugin_registered(name)
    plugin = Plugin(name)
    try:
        assert compat.plugin_registered(name)
    finally:
        plugin.remove()
    assert not compat.plugin_registered(name)


def _columns(live_default: sa.Computed | None) -> tuple[sa.Column[int], sa.Column[int]]:
    computed = [live_default] if live_default is not None else []
    live = sa.Table("t", sa.MetaData(), sa.Column("c", sa.Integer, *computed))
    wanted = sa.Table("t", sa.MetaData(), sa.Column("c", sa.Integer))
    return live.c.c, wanted.c.c


def test_compare_computed_default_passes_plain_columns_on_and_stops_at_a_computed_one() -> None:
    autogen_context = AutogenContext(MigrationContext.configure(dialect_name="mysql"))
    operation = ops.AlterColumnOp("t", "c")
    arguments = (autogen_context, operation, None, "t", "c")
    plain = compat.compare_computed_default(*arguments, *_columns(None))
    assert plain is PriorityDispatchResult.CONTINUE
    with pytest.warns(UserWarning, match="Computed default on t.c cannot be modified"):
        computed = compat.compare_computed_default(*arguments, *_columns(sa.Computed("1")))
    assert computed is PriorityDispatchResult.STOP


def test_render_alter_column_renders_alembics_own_alter_column() -> None:
    prefixes = {"alembic_module_prefix": "op.", "sqlalchemy_module_prefix": "sa."}
    autogen_context = AutogenContext(
        MigrationContext.configure(dialect_name="mysql"),
        opts={**prefixes, "user_module_prefix": None},
    )
    operation = ops.AlterColumnOp("t", "c", existing_type=sa.Integer(), modify_nullable=False)
    rendered = compat.render_alter_column(autogen_context, operation)
    assert rendered.startswith("op.alter_column('t', 'c'")
    assert "nullable=False" in rendered


@pytest.mark.parametrize(
    ("type_", "binary"),
    [
        (sa.LargeBinary(), True),
        (sa.BLOB(), True),
        (sa.BINARY(16), True),
        (sa.VARBINARY(16), True),
        (mysql.TINYBLOB(), True),
        (mysql.MEDIUMBLOB(), True),
        (mysql.LONGBLOB(), True),
        (sa.String(16), False),
        (sa.Text(), False),
        (sa.Integer(), False),
    ],
)
def test_is_binary_knows_the_blob_and_binary_kinds(
    type_: sa.types.TypeEngine[object], binary: bool
) -> None:
    assert compat.is_binary(type_) is binary


def test_is_autoincrement_column_is_sqlalchemys_choice_of_auto_increment_column() -> None:
    metadata = sa.MetaData()
    single = sa.Table("single", metadata, sa.Column("id", sa.Integer, primary_key=True))
    text_key = sa.Table("text_key", metadata, sa.Column("id", sa.String(8), primary_key=True))
    opted_out = sa.Table(
        "opted_out", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)
    )
    pair = sa.Table(
        "pair",
        metadata,
        sa.Column("a", sa.Integer, primary_key=True),
        sa.Column("b", sa.Integer, primary_key=True),
    )
    assert compat.is_autoincrement_column(single.c.id)
    assert not compat.is_autoincrement_column(text_key.c.id)
    assert not compat.is_autoincrement_column(opted_out.c.id)
    assert not compat.is_autoincrement_column(pair.c.a)


def test_final_name_applies_the_naming_convention_and_the_servers_length() -> None:
    metadata = sa.MetaData(naming_convention={"ix": "ix_%(table_name)s_%(column_0_name)s"})
    table = sa.Table("t" * 40, metadata, sa.Column("c" * 40, sa.Integer))
    named = sa.Index("by_hand", table.c[0])
    conventional = sa.Index(None, table.c[0])
    table.append_constraint(conventional)
    dialect = mysql.dialect()
    assert autogenerate_compat.final_name(named, dialect) == "by_hand"
    final = autogenerate_compat.final_name(conventional, dialect)
    assert final is not None
    assert final.startswith("ix_ttt")
    assert len(final) <= dialect.max_identifier_length


def test_index_on_makes_an_index_of_expressions_alone_on_the_table() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.String(8)))
    index = autogenerate_compat.index_on(table, "by_lower", sa.text("(lower(a))"), unique=True)
    assert index.table is table
    assert index in table.indexes
    statement = str(CreateIndex(index).compile(dialect=mysql.dialect()))
    assert statement == "CREATE UNIQUE INDEX by_lower ON t ((lower(a)))"


def test_drop_constraint_carries_its_reverse_for_the_summary_and_the_downgrade() -> None:
    create = ops.CreateForeignKeyOp("fk_child_parent", "child", "parent", ["parent_id"], ["id"])
    drop = autogenerate_compat.drop_constraint("fk_child_parent", "child", "foreignkey", create)
    constraint = drop.to_constraint()
    assert isinstance(constraint, sa.ForeignKeyConstraint)
    assert constraint.name == "fk_child_parent"
    assert [element.target_fullname for element in constraint.elements] == ["parent.id"]
    reverse = drop.reverse()
    assert isinstance(reverse, ops.CreateForeignKeyOp)
    assert reverse.referent_table == "parent"
