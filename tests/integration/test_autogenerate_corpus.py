"""The round-trip corpus: for each schema change, autogenerate, upgrade, check, downgrade, upgrade.

Each case starts from a database built (by the runner's own autogenerate and
upgrade) from "before", then changes the schema module to "after" and asserts:
exactly one revision file (none for a no-op), a clean `check` after `upgrade`,
a `downgrade -1` whose reflected schema equals "before", and `upgrade` again.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from tests.conftest import ScratchDatabase, url_of
from tests.integration.conftest import SCHEMA_TEMPLATE, Migrate, MigrationsDir, SchemaModule

ACCOUNTS = """
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("email", sa.String(100), nullable=True),
    sa.Column("balance", sa.Numeric(10, 2), nullable=False, server_default="0"),
    sa.Column("kind", sa.Enum("free", "paid", name="kind"), nullable=False, server_default="free"),
)
"""
STATUS = """
status = sa.Table(
    "status", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hp", mysql.SMALLINT, nullable=False, server_default="30"),
    sa.Column("weapon_id", mysql.SMALLINT, nullable=False, server_default="1"),
    sa.Column("weapon_lv", mysql.TINYINT, nullable=False, server_default="0"),
    sa.Column("armor_id", mysql.SMALLINT, nullable=False, server_default="1"),
    sa.Column("armor_lv", mysql.TINYINT, nullable=False, server_default="0"),
)
"""
BASE = ACCOUNTS + STATUS
GUILD = """
guild = sa.Table(
    "guild", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, comment="shown in game"),
    comment="player guilds",
)
"""
STATUS_FK = STATUS.replace(
    'sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),',
    'sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True,'
    " autoincrement=False),",
)
WITH_FK = ACCOUNTS + STATUS_FK
HP = 'sa.Column("hp", mysql.SMALLINT, nullable=False, server_default="30"),'
NAME = 'sa.Column("name", sa.String(40), nullable=False),'
EMAIL = 'sa.Column("email", sa.String(100), nullable=True),'
BALANCE = 'sa.Column("balance", sa.Numeric(10, 2), nullable=False, server_default="0"),'
KIND = 'sa.Enum("free", "paid", name="kind")'
INVENTORY = """
inventory = sa.Table(
    "inventory", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("item", sa.String(20), nullable=False),
)
"""
SLOTS = """
slots = sa.Table(
    "slots", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
)
"""
ITEMS_KEY = (
    '    sa.ForeignKeyConstraint(["account_id", "slot"], ["slots.account_id", "slots.slot"]),\n'
)
ITEMS = """
items = sa.Table(
    "items", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("slot", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["account_id", "slot"], ["slots.account_id", "slots.slot"]),
)
"""
NODES = """
nodes = sa.Table(
    "nodes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("nodes.id"), nullable=True, index=True),
)
"""
TEAMS_AND_PLAYERS = """
teams = sa.Table(
    "teams", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("captain_id", sa.Integer, sa.ForeignKey("players.id"), nullable=True, index=True),
)
players = sa.Table(
    "players", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=True, index=True),
)
"""
# A foreign key whose only index is a composite one that starts with its column.
EVENTS = """
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
)
"""
EVENTS_BY_TIME = "sa.Index(None, events.c.account_id, events.c.at)\n"
EVENTS_BY_KIND = "sa.Index(None, events.c.account_id, events.c.kind)\n"
INVENTORY_INDEXED = 'sa.ForeignKey("accounts.id"), nullable=False, index=True),'
GUILD_ID = (
    '\n    sa.Column("guild_id", sa.Integer, sa.ForeignKey("guild.id"), nullable=True, index=True),'
)


@dataclass(frozen=True)
class Case:
    name: str
    before: str
    after: str
    changes: bool = True


def change(name: str, old: str, new: str, before: str = BASE) -> Case:
    assert old in before, f"{name}: {old!r} not in the base schema"
    return Case(name, before, before.replace(old, new))


CASES = [
    Case("no_change", BASE, BASE, changes=False),
    Case("add_table", BASE, BASE + GUILD),
    Case("drop_table", BASE + GUILD, BASE),
    change("add_nullable_column", HP, HP + '\n    sa.Column("title", sa.String(20)),'),
    change(
        "add_not_null_column_with_server_default",
        HP,
        HP + '\n    sa.Column("mp", mysql.SMALLINT, nullable=False, server_default="10"),',
    ),
    change(
        "drop_column",
        'sa.Column("armor_lv", mysql.TINYINT, nullable=False, server_default="0"),',
        "",
    ),
    change("widen_smallint_to_int", HP, HP.replace("mysql.SMALLINT", "sa.Integer")),
    change("narrow_smallint_to_tinyint", HP, HP.replace("mysql.SMALLINT", "mysql.TINYINT")),
    change(
        "widen_int_to_bigint",
        'sa.Column("id", sa.Integer, primary_key=True)',
        'sa.Column("id", sa.BigInteger, primary_key=True)',
    ),
    change("make_unsigned", HP, HP.replace("mysql.SMALLINT", "mysql.SMALLINT(unsigned=True)")),
    change("varchar_longer", NAME, NAME.replace("40", "80")),
    change("varchar_shorter", NAME, NAME.replace("40", "20")),
    change("nullable_to_not_null", EMAIL, EMAIL.replace("nullable=True", "nullable=False")),
    change("not_null_to_nullable", HP, HP.replace("nullable=False", "nullable=True")),
    change("change_server_default", HP, HP.replace('"30"', '"50"')),
    change(
        "add_server_default",
        NAME,
        NAME.replace("nullable=False", 'nullable=False, server_default="anon"'),
    ),
    change("drop_server_default", HP, HP.replace(', server_default="30"', "")),
    change(
        "add_column_comment",
        NAME,
        NAME.replace("nullable=False", 'nullable=False, comment="display name"'),
    ),
    Case(
        "change_column_comment",
        BASE + GUILD,
        BASE + GUILD.replace('comment="shown in game"', 'comment="shown on the guild page"'),
    ),
    Case(
        "varchar_longer_keeps_comment_and_nullability",
        BASE + GUILD,
        BASE + GUILD.replace('sa.Column("name", sa.String(40)', 'sa.Column("name", sa.String(60)'),
    ),
    Case(
        "add_table_comment",
        BASE + GUILD.replace('    comment="player guilds",\n', ""),
        BASE + GUILD,
    ),
    Case(
        "change_table_comment",
        BASE + GUILD,
        BASE + GUILD.replace("player guilds", "guilds of players"),
    ),
    Case("add_index", BASE, BASE + "sa.Index(None, accounts.c.email)\n"),
    Case("drop_index", BASE + "sa.Index(None, accounts.c.email)\n", BASE),
    Case(
        "add_composite_unique_constraint",
        BASE,
        BASE + 'status.append_constraint(sa.UniqueConstraint("weapon_id", "armor_id"))\n',
    ),
    Case(
        "drop_unique_constraint",
        BASE + 'status.append_constraint(sa.UniqueConstraint("weapon_id", "armor_id"))\n',
        BASE,
    ),
    Case(
        "add_unique_column",
        BASE,
        BASE.replace(EMAIL, EMAIL.replace("nullable=True", "nullable=True, unique=True")),
    ),
    Case("add_foreign_key", BASE, WITH_FK),
    Case("drop_foreign_key", WITH_FK, BASE),
    Case(
        "widen_a_key_and_the_foreign_key_on_it",
        WITH_FK,
        WITH_FK.replace(
            'sa.Column("id", sa.Integer, primary_key=True)',
            'sa.Column("id", sa.BigInteger, primary_key=True)',
        ).replace(
            'sa.Column("account_id", sa.Integer, sa.ForeignKey',
            'sa.Column("account_id", sa.BigInteger, sa.ForeignKey',
        ),
    ),
    Case(
        "change_on_delete",
        WITH_FK,
        WITH_FK.replace(
            'sa.ForeignKey("accounts.id")', 'sa.ForeignKey("accounts.id", ondelete="CASCADE")'
        ),
    ),
    Case(
        "change_on_update",
        WITH_FK,
        WITH_FK.replace(
            'sa.ForeignKey("accounts.id")', 'sa.ForeignKey("accounts.id", onupdate="CASCADE")'
        ),
    ),
    change("enum_add_value", KIND, KIND.replace('"paid",', '"paid", "trial",')),
    change("enum_remove_value", KIND, KIND.replace('"free", "paid"', '"free"')),
    change("enum_reorder_values", KIND, KIND.replace('"free", "paid"', '"paid", "free"')),
    change("decimal_precision", BALANCE, BALANCE.replace("(10, 2)", "(12, 4)")),
    change(
        "add_boolean_column",
        HP,
        HP + '\n    sa.Column("banned", sa.Boolean, nullable=False, server_default=sa.false()),',
    ),
    change(
        "add_timestamp_with_current_timestamp",
        HP,
        HP
        + '\n    sa.Column("seen_at", sa.DateTime, nullable=False, server_default=sa.func.now()),',
    ),
    change("make_autoincrement", "autoincrement=False),", "autoincrement=True),"),
    Case(
        "int_display_width_is_not_a_change",
        BASE,
        BASE.replace(HP, HP.replace("mysql.SMALLINT", "mysql.SMALLINT(display_width=6)")),
        changes=False,
    ),
]


def add_column(name: str, definition: str) -> Case:
    """A case that adds one column to `status`, after `hp`."""
    return change(name, HP, HP + "\n    " + definition)


CASES += [
    # Foreign keys and the indexes they need, in every order MySQL is particular about.
    Case("add_table_with_indexed_foreign_key", BASE, BASE + INVENTORY),
    Case("drop_table_with_indexed_foreign_key", BASE + INVENTORY, BASE),
    Case("add_tables_with_composite_foreign_key", BASE, BASE + SLOTS + ITEMS),
    Case("drop_tables_with_composite_foreign_key", BASE + SLOTS + ITEMS, BASE),
    Case(
        "add_composite_foreign_key_to_existing_tables",
        BASE
        + SLOTS
        + ITEMS.replace(
            ITEMS_KEY,
            "",
        ),
        BASE + SLOTS + ITEMS,
    ),
    Case("add_self_referencing_table", BASE, BASE + NODES),
    Case("drop_self_referencing_table", BASE + NODES, BASE),
    Case("add_tables_referencing_each_other", BASE, BASE + TEAMS_AND_PLAYERS),
    Case("drop_tables_referencing_each_other", BASE + TEAMS_AND_PLAYERS, BASE),
    Case("drop_referenced_and_referencing_tables", WITH_FK, ""),
    Case(
        "add_indexed_foreign_key_column",
        BASE + GUILD,
        (BASE + GUILD).replace(NAME, NAME + GUILD_ID),
    ),
    Case(
        "drop_indexed_foreign_key_column",
        (BASE + GUILD).replace(NAME, NAME + GUILD_ID),
        BASE + GUILD,
    ),
    Case(
        "add_foreign_key_column_referencing_new_table",
        BASE,
        BASE.replace(NAME, NAME + GUILD_ID) + GUILD,
    ),
    Case(
        "drop_index_a_foreign_key_needs",
        BASE + INVENTORY,
        BASE + INVENTORY.replace(INVENTORY_INDEXED, INVENTORY_INDEXED.replace(", index=True", "")),
    ),
    Case(
        "index_the_column_of_a_foreign_key",
        BASE + INVENTORY.replace(INVENTORY_INDEXED, INVENTORY_INDEXED.replace(", index=True", "")),
        BASE + INVENTORY,
    ),
    Case("drop_composite_index_a_foreign_key_needs", BASE + EVENTS + EVENTS_BY_TIME, BASE + EVENTS),
    Case(
        "add_composite_index_serving_a_foreign_key", BASE + EVENTS, BASE + EVENTS + EVENTS_BY_TIME
    ),
    Case(
        "replace_composite_index_a_foreign_key_needs",
        BASE + EVENTS + EVENTS_BY_TIME,
        BASE + EVENTS + EVENTS_BY_KIND,
    ),
    Case(
        "drop_unique_constraint_a_foreign_key_needs",
        BASE + EVENTS + 'events.append_constraint(sa.UniqueConstraint("account_id", "at"))\n',
        BASE + EVENTS,
    ),
    Case(
        "add_unique_constraint_single_column",
        BASE + GUILD,
        BASE + GUILD + 'guild.append_constraint(sa.UniqueConstraint("name"))\n',
    ),
    Case(
        "drop_unique_column",
        BASE.replace(EMAIL, EMAIL.replace("nullable=True", "nullable=True, unique=True")),
        BASE,
    ),
    # MySQL's own types.
    add_column("add_json_column", 'sa.Column("profile", sa.JSON, nullable=True),'),
    add_column("add_datetime6_column", 'sa.Column("seen", mysql.DATETIME(fsp=6), nullable=True),'),
    add_column(
        "add_timestamp_on_update_column",
        'sa.Column("updated_at", mysql.TIMESTAMP, nullable=False,'
        ' server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP")),',
    ),
    add_column("add_mediumtext_column", 'sa.Column("bio", mysql.MEDIUMTEXT, nullable=True),'),
    add_column("add_longblob_column", 'sa.Column("avatar", mysql.LONGBLOB, nullable=True),'),
    add_column("add_bit_column", 'sa.Column("flags", mysql.BIT(8), nullable=True),'),
    add_column("add_year_column", 'sa.Column("since", mysql.YEAR, nullable=True),'),
    add_column(
        "add_set_column", 'sa.Column("perks", mysql.SET("fly", "swim", "dig"), nullable=True),'
    ),
    add_column("add_double_column", 'sa.Column("ratio", mysql.DOUBLE, nullable=True),'),
    add_column(
        "add_unsigned_bigint_column",
        'sa.Column("gold", mysql.BIGINT(unsigned=True), nullable=False, server_default="0"),',
    ),
    # Character sets and collations per column.
    add_column(
        "add_column_with_charset",
        'sa.Column("tag", mysql.VARCHAR(10, charset="latin1"), nullable=True),',
    ),
    change(
        "change_column_collation",
        NAME,
        NAME.replace("sa.String(40)", 'mysql.VARCHAR(40, collation="utf8mb4_bin")'),
    ),
    # Generated columns.
    add_column(
        "add_virtual_generated_column",
        'sa.Column("hp_double", sa.Integer, sa.Computed("hp * 2", persisted=False)),',
    ),
    add_column(
        "add_stored_generated_column",
        'sa.Column("hp_half", sa.Integer, sa.Computed("hp div 2", persisted=True)),',
    ),
    # CHECK constraints, enforced by MariaDB and MySQL 8.0.16+.
    Case(
        "add_table_with_check_constraint",
        BASE,
        BASE
        + GUILD.replace(
            '    comment="player guilds",',
            '    sa.CheckConstraint("char_length(name) > 2", name="ck_guild_name_long"),\n'
            '    comment="player guilds",',
        ),
    ),
    # Server defaults that are expressions.
    add_column(
        "add_column_with_expression_default",
        'sa.Column("max_hp", sa.Integer, nullable=False, server_default=sa.text("(30 * 2)")),',
    ),
    add_column(
        "add_datetime6_with_now_default",
        'sa.Column("born", mysql.DATETIME(fsp=6), nullable=False,'
        ' server_default=sa.text("CURRENT_TIMESTAMP(6)")),',
    ),
]

KNOWN_LIMITATIONS = {
    "rename_column": (
        change("rename_column", '"armor_lv"', '"armor_level"'),
        "Alembic never detects renames: it writes drop_column plus add_column, which loses"
        " the data; write renames by hand with `revision -m` and op.alter_column(new_column_name=)",
    ),
    "change_table_engine": (
        Case(
            "change_table_engine",
            BASE,
            BASE.replace('"status", metadata,', '"status", metadata, mysql_engine="MyISAM",'),
        ),
        "Alembic does not compare table options (ENGINE, DEFAULT CHARSET, ROW_FORMAT)",
    ),
    "add_check_constraint_to_existing_table": (
        Case(
            "add_check_constraint_to_existing_table",
            BASE,
            BASE + 'status.append_constraint(sa.CheckConstraint("hp >= 0", name="ck_hp"))\n',
        ),
        "Alembic does not compare CHECK constraints: it writes them with a new table only;"
        " add one to an existing table by hand with op.create_check_constraint",
    ),
}


def reflect(url: str) -> dict[str, Any]:
    """A database's schema as plain data, for comparing structures rather than text."""
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    dialect = mysql.dialect()
    try:
        inspector = sa.inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(
            set(inspector.get_table_names()) - {"alembic_version", "migrator_run_marker"}
        ):
            schema[table] = {
                # Alembic adds a column last; its position is not compared.
                "columns": sorted(
                    (
                        c["name"],
                        c["type"].compile(dialect=dialect),
                        c["nullable"],
                        c.get("default"),
                        c.get("autoincrement"),
                        c.get("comment"),
                        tuple(sorted((c.get("computed") or {}).items())),
                    )
                    for c in inspector.get_columns(table)
                ),
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "foreign_keys": sorted(
                    (
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        tuple(sorted(fk.get("options", {}).items())),
                    )
                    for fk in inspector.get_foreign_keys(table)
                ),
                "checks": sorted(
                    (check["name"], check["sqltext"])
                    for check in inspector.get_check_constraints(table)
                ),
                "comment": inspector.get_table_comment(table).get("text"),
            }
        return schema
    finally:
        engine.dispose()


def built_by_create_all(tables: str, database: ScratchDatabase) -> dict[str, Any]:
    """What `create_all` of the schema module's metadata builds, reflected."""
    namespace: dict[str, Any] = {}
    exec(SCHEMA_TEMPLATE.format(tables=tables), namespace)  # noqa: S102 - the test's own schema
    name = f"{database.name}_built"
    database.server.execute(f"CREATE DATABASE `{name}`")
    url = url_of(replace(database.server.target, database=name))
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    try:
        namespace["metadata"].create_all(engine)
        return reflect(url)
    finally:
        engine.dispose()
        database.server.execute(f"DROP DATABASE IF EXISTS `{name}`")


def assert_alter_columns_keep_what_mysql_modify_would_drop(
    revision: Path, before: dict[str, Any]
) -> None:
    """Every op.alter_column names the attributes that MySQL's MODIFY would otherwise reset."""
    for call in ast.walk(ast.parse(revision.read_text())):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "alter_column"):
            continue
        table, column = (ast.literal_eval(arg) for arg in call.args[:2])
        keywords = {keyword.arg for keyword in call.keywords}
        assert "existing_type" in keywords, ast.unparse(call)
        assert keywords & {"existing_nullable", "nullable"}, ast.unparse(call)
        if table not in before:
            continue
        _, _, _, default, _, comment, _ = next(
            c for c in before[table]["columns"] if c[0] == column
        )
        if default is not None and "server_default" not in keywords:
            assert "existing_server_default" in keywords, ast.unparse(call)
        if comment is not None and "comment" not in keywords:
            assert "existing_comment" in keywords, ast.unparse(call)


def revision_files(migrations: MigrationsDir) -> set[Path]:
    return set((migrations.path / "versions").glob("*.py"))


def run_case(
    case: Case,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    before = schema.write(case.before)
    assert migrate("autogenerate", "-m", "before", **before).code == 0
    assert migrate("upgrade", **before).code == 0
    reflected_before = reflect(database.url)
    files_before = revision_files(migrations)

    after = schema.write(case.after)
    generated = migrate("autogenerate", "-m", case.name, **after)
    assert generated.code == 0, generated.stderr
    written = revision_files(migrations) - files_before
    assert len(written) == (1 if case.changes else 0), "\n".join(f.read_text() for f in written)
    if not case.changes:
        assert migrate("check", **after).code == 0
        return

    source = next(iter(written)).read_text()
    assert "display_width" not in source, source  # MySQL 8 ignores integer display widths
    assert_alter_columns_keep_what_mysql_modify_would_drop(next(iter(written)), reflected_before)
    upgraded = migrate("upgrade", **after)
    assert upgraded.code == 0, upgraded.stderr + written.pop().read_text()
    checked = migrate("check", **after)
    assert checked.code == 0, checked.stderr + next(iter(written)).read_text()
    assert reflect(database.url) == built_by_create_all(case.after, database)

    downgraded = migrate("downgrade", "-1", **after)
    assert downgraded.code == 0, downgraded.stderr
    assert reflect(database.url) == reflected_before, next(iter(written)).read_text()

    again = migrate("upgrade", **after)
    assert again.code == 0, again.stderr
    assert migrate("check", **after).code == 0


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_round_trip(
    case: Case,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    run_case(case, migrate, migrations, schema, database)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=reason), id=name)
        for name, (case, reason) in KNOWN_LIMITATIONS.items()
    ],
)
def test_known_limitation(
    case: Case,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    run_case(case, migrate, migrations, schema, database)
    # A rename must keep the column's data; autogenerate's drop plus add cannot.
    if case.name == "rename_column":
        revision = max(revision_files(migrations), key=lambda path: path.stat().st_mtime)
        assert "drop_column" not in revision.read_text()
