"""The rewriter that puts autogenerate's operations in an order MySQL accepts.

The round-trip corpus proves the orders on real servers; these pin the rules
themselves, one per case, without a server.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.dialects import mysql

from migrator.autogenerate.ordering import _flat, runnable
from migrator.autogenerate.shapes import ForeignKey, Shape, TableShape, metadata_shape

ACCOUNT_KEY = ForeignKey("fk_inventory_account", "inventory", ("account_id",), "accounts", ("id",))


def steps(operations: list[ops.MigrateOperation]) -> list[tuple[str, ...]]:
    """Each operation as (kind, table, name), flattened, in order."""
    flat: list[tuple[str, ...]] = []
    for operation in operations:
        if isinstance(operation, ops.ModifyTableOps):
            flat.extend(steps(operation.ops))
            continue
        name = getattr(operation, "index_name", None) or getattr(operation, "constraint_name", None)
        table = getattr(operation, "table_name", None) or getattr(operation, "source_table", "")
        flat.append((type(operation).__name__, str(table), str(name or "")))
    return flat


def inventory_shape(*indexes: tuple[str, tuple[str, ...]]) -> Shape:
    return {
        "accounts": TableShape({"PRIMARY": ("id",)}),
        "inventory": TableShape(
            {"PRIMARY": ("id",), **dict(indexes)}, {ACCOUNT_KEY.name: ACCOUNT_KEY}
        ),
    }


def test_a_dropped_table_loses_its_indexes_with_it_not_before() -> None:
    before = inventory_shape(("ix_account", ("account_id",)))
    alembic_order = [
        ops.ModifyTableOps("inventory", [ops.DropIndexOp("ix_account", "inventory")]),
        ops.DropTableOp("inventory"),
    ]

    assert steps(runnable(alembic_order, before)) == [("DropTableOp", "inventory", "")]


def test_a_foreign_key_goes_before_its_column() -> None:
    before = inventory_shape(("ix_account", ("account_id",)))
    alembic_order = [
        ops.ModifyTableOps(
            "inventory",
            [
                ops.DropColumnOp("inventory", "account_id"),
                ops.DropIndexOp("ix_account", "inventory"),
                ops.DropConstraintOp(ACCOUNT_KEY.name, "inventory", type_="foreignkey"),
            ],
        )
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("DropConstraintOp", "inventory", ACCOUNT_KEY.name),
        ("DropIndexOp", "inventory", "ix_account"),
        ("DropColumnOp", "inventory", ""),
    ]


def test_an_index_a_kept_key_needs_goes_after_its_replacement() -> None:
    before = inventory_shape(("ix_account_at", ("account_id", "at")))
    alembic_order = [
        ops.ModifyTableOps(
            "inventory",
            [
                ops.DropIndexOp("ix_account_at", "inventory"),
                ops.CreateIndexOp("ix_account_kind", "inventory", ["account_id", "kind"]),
            ],
        )
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("CreateIndexOp", "inventory", "ix_account_kind"),
        ("DropIndexOp", "inventory", "ix_account_at"),
    ]


def test_an_index_a_kept_key_needs_with_no_replacement_takes_the_key_out_and_back() -> None:
    before = inventory_shape(("ix_account", ("account_id",)))
    alembic_order = [
        ops.ModifyTableOps("inventory", [ops.DropIndexOp("ix_account", "inventory")]),
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("DropConstraintOp", "inventory", ACCOUNT_KEY.name),
        ("DropIndexOp", "inventory", "ix_account"),
        ("CreateForeignKeyOp", "inventory", ACCOUNT_KEY.name),
    ]


def test_an_index_another_index_also_serves_is_dropped_in_place() -> None:
    before = inventory_shape(("ix_account", ("account_id",)), ("ix_both", ("account_id", "at")))
    alembic_order = [ops.ModifyTableOps("inventory", [ops.DropIndexOp("ix_account", "inventory")])]

    assert steps(runnable(alembic_order, before)) == [("DropIndexOp", "inventory", "ix_account")]


def test_dropping_a_key_drops_the_index_innodb_made_for_it() -> None:
    before = inventory_shape((ACCOUNT_KEY.name, ("account_id",)))
    alembic_order = [
        ops.ModifyTableOps(
            "inventory",
            [ops.DropConstraintOp(ACCOUNT_KEY.name, "inventory", type_="foreignkey")],
        )
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("DropConstraintOp", "inventory", ACCOUNT_KEY.name),
        ("DropIndexOp", "inventory", ACCOUNT_KEY.name),
    ]


def test_the_index_innodb_made_for_a_key_named_beyond_64_characters_has_its_truncated_name() -> (
    None
):
    metadata = sa.MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s"})
    long_table = "registrations_of_players_in_the_seasonal_tournament_league"
    sa.Table("accounts", metadata, sa.Column("id", sa.Integer, primary_key=True))
    table = sa.Table(
        long_table,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.ForeignKey("accounts.id")),
    )
    (key,) = table.foreign_key_constraints
    downgrade = [ops.ModifyTableOps(long_table, [ops.DropConstraintOp.from_constraint(key)])]

    *_, drop_index = _flat(runnable(downgrade, metadata_shape(metadata)))

    assert isinstance(drop_index, ops.DropIndexOp)
    dropped = str(sa.schema.DropIndex(drop_index.to_index()).compile(dialect=mysql.dialect()))
    created = str(sa.schema.AddConstraint(key).compile(dialect=mysql.dialect()))
    name = dropped.split()[2]
    assert len(name) <= 64  # SQLAlchemy's truncation, with a hash suffix
    assert f"CONSTRAINT {name} FOREIGN KEY" in created  # InnoDB names the index after the key


def two_teams_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "teams",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("captain_id", sa.ForeignKey("players.id", name="fk_captain")),
    )
    sa.Table(
        "players",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.ForeignKey("teams.id", name="fk_team")),
    )
    return metadata


def test_tables_that_reference_each_other_are_created_first_and_linked_after() -> None:
    metadata = two_teams_metadata()
    creates = [ops.CreateTableOp.from_table(table) for table in metadata.tables.values()]

    rewritten = runnable(list(creates), {})

    assert steps(rewritten) == [
        ("CreateTableOp", "teams", ""),
        ("CreateTableOp", "players", ""),
        ("CreateForeignKeyOp", "teams", "fk_captain"),
    ]
    first = rewritten[0]
    assert isinstance(first, ops.CreateTableOp)
    assert not first.to_table().foreign_keys


def test_a_new_table_follows_the_new_table_it_references() -> None:
    metadata = two_teams_metadata()
    players = metadata.tables["players"]
    players.c.team_id.foreign_keys.clear()
    players.constraints -= {
        c for c in players.constraints if isinstance(c, sa.ForeignKeyConstraint)
    }

    rewritten = runnable(
        [ops.CreateTableOp.from_table(metadata.tables[name]) for name in ("teams", "players")], {}
    )

    assert steps(rewritten) == [("CreateTableOp", "players", ""), ("CreateTableOp", "teams", "")]


def test_tables_that_reference_each_other_lose_a_key_before_they_are_dropped() -> None:
    before = metadata_shape(two_teams_metadata())

    rewritten = runnable([ops.DropTableOp("teams"), ops.DropTableOp("players")], before)

    assert steps(rewritten) == [
        ("DropConstraintOp", "players", "fk_team"),
        ("DropTableOp", "teams", ""),
        ("DropTableOp", "players", ""),
    ]


def test_a_referencing_table_is_dropped_before_the_table_it_references() -> None:
    before = inventory_shape()

    rewritten = runnable([ops.DropTableOp("accounts"), ops.DropTableOp("inventory")], before)

    assert steps(rewritten) == [("DropTableOp", "inventory", ""), ("DropTableOp", "accounts", "")]


def test_the_metadata_shape_has_the_index_innodb_makes_for_an_unindexed_key() -> None:
    shape = metadata_shape(two_teams_metadata())

    assert shape["teams"].indexes == {"PRIMARY": ("id",), "fk_captain": ("captain_id",)}


def test_integer_display_widths_are_not_written() -> None:
    alter = ops.AlterColumnOp(
        "status",
        "hp",
        existing_type=mysql.SMALLINT(display_width=6),
        modify_type=mysql.INTEGER(display_width=11, unsigned=True),
    )

    (group,) = runnable([ops.ModifyTableOps("status", [alter])], {})

    assert isinstance(group, ops.ModifyTableOps)
    (rewritten,) = group.ops
    assert isinstance(rewritten, ops.AlterColumnOp)
    assert isinstance(rewritten.existing_type, mysql.SMALLINT)
    assert isinstance(rewritten.modify_type, mysql.INTEGER)
    assert rewritten.existing_type.display_width is None
    assert rewritten.modify_type.display_width is None
    assert rewritten.modify_type.unsigned


def test_a_retyped_column_takes_the_keys_on_it_out_and_back() -> None:
    before = inventory_shape(("ix_account", ("account_id",)))
    alembic_order = [
        ops.ModifyTableOps(
            "accounts",
            [ops.AlterColumnOp("accounts", "id", modify_type=sa.BigInteger())],
        ),
        ops.ModifyTableOps(
            "inventory",
            [ops.AlterColumnOp("inventory", "account_id", modify_type=sa.BigInteger())],
        ),
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("DropConstraintOp", "inventory", ACCOUNT_KEY.name),
        ("AlterColumnOp", "accounts", ""),
        ("AlterColumnOp", "inventory", ""),
        ("CreateForeignKeyOp", "inventory", ACCOUNT_KEY.name),
    ]


def test_the_index_innodb_made_stays_while_another_kept_key_needs_it() -> None:
    wide = ForeignKey("fk_wide", "inventory", ("account_id", "slot"), "slots", ("a", "b"))
    before = inventory_shape(("fk_wide", ("account_id", "slot")))
    before["inventory"].foreign_keys[wide.name] = wide
    alembic_order = [
        ops.ModifyTableOps(
            "inventory", [ops.DropConstraintOp("fk_wide", "inventory", type_="foreignkey")]
        )
    ]

    assert steps(runnable(alembic_order, before)) == [
        ("DropConstraintOp", "inventory", "fk_wide"),
    ]


def test_a_new_tables_key_to_a_table_gaining_an_index_comes_after_the_index() -> None:
    metadata = sa.MetaData()
    sa.Table(
        "accounts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(8), unique=True),
    )
    invites = sa.Table(
        "invites",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.ForeignKey("accounts.code", name="fk_code")),
    )
    alembic_order = [
        ops.CreateTableOp.from_table(invites),
        ops.ModifyTableOps(
            "accounts",
            [
                ops.AddColumnOp("accounts", sa.Column("code", sa.String(8))),
                ops.CreateIndexOp("ix_code", "accounts", ["code"], unique=True),
            ],
        ),
    ]

    assert steps(runnable(alembic_order, {})) == [
        ("CreateTableOp", "invites", ""),
        ("AddColumnOp", "accounts", ""),
        ("CreateIndexOp", "accounts", "ix_code"),
        ("CreateForeignKeyOp", "invites", "fk_code"),
    ]
