"""The round-trip corpus: for each schema change, autogenerate, upgrade, check, downgrade, upgrade.

Each case starts from a database built (by the runner's own autogenerate and
upgrade) from "before", then changes the schema module to "after" and asserts:
exactly one revision file (none for a no-op), a clean `check` after `upgrade`,
a reflected schema equal to what `create_all` builds, a `downgrade -1` whose
reflected schema equals "before", and `upgrade` again. A control test checks
each case's "after" built by `create_all` and stamped at head: `check` is clean.

Cases named after an issue come from it: `issue27_N` from this project's issue 27,
`alembicN` from Alembic's issue tracker (github.com/sqlalchemy/alembic/issues/N).

The runner's commands run as real processes forked from one that has already
imported SQLAlchemy and Alembic (tests/support/forked_runner.py): each command
keeps its own environment, output and exit status, without paying the imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.forked_runner import Zygote
from tests.support.migrations import Migrate, MigrationsDir
from tests.support.reflected_schema import column_default_and_comment, reflect
from tests.support.runner import Result, run_entrypoint
from tests.support.schema_module import SCHEMA_TEMPLATE, SchemaModule
from tests.support.servers import ScratchDatabase, url_of

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
ARMOR_LV = 'sa.Column("armor_lv", mysql.TINYINT, nullable=False, server_default="0"),'
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
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


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
            '    sa.CheckConstraint("char_length(name) > 2", name="name_long"),\n'
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

MYSQL_ONLY = (pytest.mark.mysql_only(reason="MariaDB has no functional index key parts"),)


def flagged_table(name: str) -> str:
    """A table with the two types whose CHECK constraints SQLAlchemy derives from the column."""
    return f"""
{name} = sa.Table(
    "{name}", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("active", sa.Boolean(create_constraint=True, name="active"), nullable=False,
              server_default=sa.true()),
    sa.Column("phase", sa.Enum("open", "closed", name="phase", native_enum=False,
              create_constraint=True), nullable=False, server_default="open"),
)
"""


# 58 characters: its foreign key's conventional name is longer than MySQL's 64.
LONG_TABLE = "registrations_of_players_in_the_seasonal_tournament_league"
REGISTRATIONS = f"""
registrations = sa.Table(
    "{LONG_TABLE}", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, nullable=False),
)
"""
REGISTRATIONS_FK = REGISTRATIONS.replace(
    'sa.Column("account_id", sa.Integer, nullable=False)',
    'sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False)',
)
RANKS = """
ranks = sa.Table(
    "ranks", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("season", sa.Integer, nullable=False),
    sa.Column("points", sa.Integer, nullable=False, server_default="0"),
)
"""
EMAIL_INDEX = "sa.Index(None, accounts.c.email, mysql_length=10)\n"
CYCLE = """
leagues = sa.Table(
    "leagues", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("champion_id", sa.Integer, sa.ForeignKey("clubs.id"), nullable=True, index=True),
)
clubs = sa.Table(
    "clubs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id"), nullable=True, index=True),
)
owners = sa.Table(
    "owners", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("league_id", sa.Integer, sa.ForeignKey("leagues.id"), nullable=True, index=True),
)
"""
CONTACTS = """
contacts = sa.Table(
    "contacts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("device_name", sa.String(100), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="RESTRICT"),
              nullable=False, index=True),
    sa.UniqueConstraint("device_name", "account_id"),
)
"""
BADGES = """
badges = sa.Table(
    "badges", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(100), sa.ForeignKey("accounts.email"), nullable=True,
              index=True),
)
"""
UNIQUE_EMAIL = BASE.replace(EMAIL, EMAIL.replace("nullable=True", "nullable=True, unique=True"))
VERSION = 'sa.Column("version", sa.String(10), nullable=False, server_default="1.10"),'
CODE = 'sa.Column("code", sa.String(10), nullable=False, server_default="007"),'
SEEN = 'sa.Column("seen_at", mysql.TIMESTAMP, nullable=False, server_default=sa.func.now()),'
# 58 characters: the index named by the convention, ix_status_<column>, would have 68.
LONG_COLUMN = "a_column_name_long_enough_to_push_its_index_name_beyond_64"

CASES += [
    # Issue 27, item 1: upgrades name CHECKs by the models' convention (MySQL: per schema).
    Case(
        "issue27_1_boolean_and_enum_checks_of_two_tables_follow_the_naming_convention",
        BASE,
        BASE + flagged_table("season") + flagged_table("league"),
    ),
    # Issue 27, item 2: the implicit index of a foreign key whose name exceeds 64 characters.
    Case(
        "issue27_2_foreign_key_with_a_name_beyond_64_characters",
        BASE + REGISTRATIONS,
        BASE + REGISTRATIONS_FK,
    ),
    # Issue 27, item 3: expression defaults that the servers spell their own way.
    add_column(
        "issue27_3_json_column_defaulting_to_json_array",
        'sa.Column("tags", sa.JSON, nullable=False, server_default=sa.text("(JSON_ARRAY())")),',
    ),
    add_column(
        "issue27_3_text_column_defaulting_to_empty_string",
        'sa.Column("notes", sa.Text, nullable=False, server_default=sa.text("(\'\')")),',
    ),
    # Issue 27, item 4: string defaults are strings, not numbers.
    Case(
        "issue27_4_string_default_1_10_to_1_1",
        BASE.replace(HP, HP + "\n    " + VERSION),
        BASE.replace(HP, HP + "\n    " + VERSION.replace('"1.10"', '"1.1"')),
    ),
    Case(
        "issue27_4_string_default_007_to_7",
        BASE.replace(HP, HP + "\n    " + CODE),
        BASE.replace(HP, HP + "\n    " + CODE.replace('"007"', '"7"')),
    ),
    # Issue 27, item 5 (and issue 24, item 5): descending and functional indexes.
    Case(
        "issue27_5_alembic1213_add_descending_index",
        BASE,
        BASE + 'sa.Index("ix_accounts_name_desc", accounts.c.name.desc())\n',
    ),
    Case(
        "issue27_5_alembic1212_add_functional_index",
        BASE,
        BASE + 'sa.Index("ix_accounts_email_lower", sa.func.lower(accounts.c.email))\n',
        marks=MYSQL_ONLY,
    ),
    # Issue 27, items 6 to 8: plain model edits that Alembic does not compare.
    Case(
        "issue27_6_datetime_to_datetime6",
        BASE.replace(HP, HP + '\n    sa.Column("at", sa.DateTime, nullable=True),'),
        BASE.replace(HP, HP + '\n    sa.Column("at", mysql.DATETIME(fsp=6), nullable=True),'),
    ),
    Case(
        "issue27_7_composite_primary_key_gains_a_column",
        BASE + RANKS,
        BASE
        + RANKS.replace(
            'sa.Column("season", sa.Integer, nullable=False)',
            'sa.Column("season", sa.Integer, primary_key=True, autoincrement=False)',
        ),
    ),
    Case(
        "issue27_8_index_prefix_length_change",
        BASE + EMAIL_INDEX,
        BASE + EMAIL_INDEX.replace("mysql_length=10", "mysql_length=20"),
    ),
    # From Alembic's issue tracker.
    Case(
        "alembic605_boolean_column_reflected_as_tinyint1_is_no_change",
        BASE.replace(HP, HP + '\n    sa.Column("banned", sa.Boolean, nullable=False),'),
        BASE.replace(HP, HP + '\n    sa.Column("banned", sa.Boolean, nullable=False),'),
        changes=False,
    ),
    Case(
        "alembic1240_alembic1297_composite_unique_beside_a_foreign_key_index_is_no_change",
        BASE + CONTACTS,
        BASE + CONTACTS,
        changes=False,
    ),
    Case("alembic1240_add_table_with_unique_beside_a_foreign_key_index", BASE, BASE + CONTACTS),
    Case(
        "alembic276_drop_composite_unique_beside_a_foreign_key_index",
        BASE + CONTACTS,
        BASE + CONTACTS.replace('    sa.UniqueConstraint("device_name", "account_id"),\n', ""),
    ),
    Case(
        "alembic947_add_table_with_foreign_key_to_a_unique_column",
        UNIQUE_EMAIL,
        UNIQUE_EMAIL + BADGES,
    ),
    Case(
        "alembic947_drop_table_with_foreign_key_to_a_unique_column",
        UNIQUE_EMAIL + BADGES,
        UNIQUE_EMAIL,
    ),
    change(
        "alembic779_enum_add_value_and_change_default",
        'sa.Enum("free", "paid", name="kind"), nullable=False, server_default="free"',
        'sa.Enum("free", "paid", "trial", name="kind"), nullable=False, server_default="trial"',
    ),
    change(
        "alembic1745_enum_value_with_an_apostrophe",
        KIND,
        KIND.replace('"paid",', '"paid", "o\'clock",'),
    ),
    change(
        "alembic623_change_column_charset",
        NAME,
        NAME.replace("sa.String(40)", 'mysql.VARCHAR(40, charset="latin1")'),
    ),
    add_column(
        "alembic623_add_column_with_charset_and_collation",
        'sa.Column("handle", mysql.VARCHAR(20, charset="utf8mb4", collation="utf8mb4_bin"),'
        " nullable=True),",
    ),
    Case(
        "alembic564_timestamp_gains_on_update",
        BASE.replace(HP, HP + "\n    " + SEEN),
        BASE.replace(
            HP,
            HP
            + "\n    "
            + SEEN.replace(
                "server_default=sa.func.now()",
                'server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP")',
            ),
        ),
    ),
    add_column(
        "alembic1177_string_default_with_a_quote",
        'sa.Column("motto", sa.String(40), nullable=False, server_default="it\'s on"),',
    ),
    add_column(
        "alembic553_float_column_with_zero_default",
        'sa.Column("speed", sa.Float, nullable=False, server_default="0"),',
    ),
    # A new table: MySQL refuses to add a column with a nondeterministic default to an
    # existing one while it logs statements for replicas (1674).
    Case(
        "alembic1454_new_table_with_expression_default_uuid",
        BASE,
        BASE
        + GUILD.replace(
            '    comment="player guilds",',
            '    sa.Column("token", sa.String(36), nullable=False,'
            ' server_default=sa.text("(uuid())")),\n    comment="player guilds",',
        ),
    ),
    # Issue 27's list (prefix lengths, composite keys): Alembic has no issue for them.
    Case("prefix_length_add_index_with_mysql_length", BASE, BASE + EMAIL_INDEX),
    Case("prefix_length_drop_index_with_mysql_length", BASE + EMAIL_INDEX, BASE),
    Case(
        "alembic880_descending_index_on_a_composite",
        BASE + EVENTS,
        BASE + EVENTS + 'sa.Index("ix_events_account_recent", events.c.account_id,'
        " events.c.at.desc())\n",
    ),
    Case(
        "alembic647_add_index_whose_conventional_name_is_truncated",
        BASE.replace(HP, HP + f'\n    sa.Column("{LONG_COLUMN}", sa.Integer, nullable=True),'),
        BASE.replace(
            HP, HP + f'\n    sa.Column("{LONG_COLUMN}", sa.Integer, nullable=True, index=True),'
        ),
    ),
    Case("alembic326_foreign_key_cycle_of_three_tables_added", BASE, BASE + CYCLE),
    Case("alembic326_foreign_key_cycle_of_three_tables_dropped", BASE + CYCLE, BASE),
    Case(
        "composite_foreign_key_with_on_delete_cascade",
        BASE + SLOTS + ITEMS,
        BASE
        + SLOTS
        + ITEMS.replace(
            '["slots.account_id", "slots.slot"]),',
            '["slots.account_id", "slots.slot"], ondelete="CASCADE"),',
        ),
    ),
    Case(
        "alembic623_new_table_with_charset_and_row_format",
        BASE,
        BASE
        + GUILD.replace(
            '    comment="player guilds",',
            '    comment="player guilds", mysql_charset="latin1", mysql_row_format="COMPACT",',
        ),
    ),
    Case(
        "alembic844_add_table_with_a_unique_indexed_column",
        BASE,
        BASE
        + GUILD.replace(
            'sa.Column("name", sa.String(40), nullable=False,',
            'sa.Column("name", sa.String(40), nullable=False, unique=True, index=True,',
        ),
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
            # A keyword argument after the columns: before them, the module would not import.
            BASE.replace(ARMOR_LV + "\n)", ARMOR_LV + '\n    mysql_engine="MyISAM",\n)'),
        ),
        "Alembic does not compare table options (ENGINE, DEFAULT CHARSET, ROW_FORMAT)",
    ),
    "add_check_constraint_to_existing_table": (
        Case(
            "add_check_constraint_to_existing_table",
            BASE,
            BASE
            + 'status.append_constraint(sa.CheckConstraint("hp >= 0", name="hp_not_negative"))\n',
        ),
        "Alembic does not compare CHECK constraints: it writes them with a new table only;"
        " add one to an existing table by hand with op.create_check_constraint",
    ),
}


def built_by_create_all(tables: str, database: ScratchDatabase) -> dict[str, Any]:
    """What `create_all` of the schema module's metadata builds, reflected."""
    name = f"{database.name}_built"
    database.server.execute(f"CREATE DATABASE `{name}`")
    url = url_of(replace(database.server.target, database=name))
    try:
        create_all(tables, url)
        return reflect(url)
    finally:
        database.server.execute(f"DROP DATABASE IF EXISTS `{name}`")


def create_all(tables: str, url: str) -> None:
    namespace: dict[str, Any] = {}
    exec(SCHEMA_TEMPLATE.format(tables=tables), namespace)  # noqa: S102 - the test's own schema
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    try:
        namespace["metadata"].create_all(engine)
    finally:
        engine.dispose()


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
        default, comment = column_default_and_comment(before, table, column)
        if default is not None and "server_default" not in keywords:
            assert "existing_server_default" in keywords, ast.unparse(call)
        if comment is not None and "comment" not in keywords:
            assert "existing_comment" in keywords, ast.unparse(call)


def revision_files(migrations: MigrationsDir) -> set[Path]:
    return set((migrations.path / "versions").glob("*.py"))


@dataclass
class ForkedMigrate(Migrate):
    """`migrate` whose runner processes are forked from the module's zygote."""

    zygote: Zygote | None = None

    def __call__(self, *args: str, **settings: str | None) -> Result:
        assert self.zygote is not None
        return self.zygote.run(args, self.env(**settings), self.workdir)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    started = Zygote(tmp_path_factory.mktemp("runner_output"))
    yield started
    started.close()


@pytest.fixture
def migrate(
    database: ScratchDatabase, migrations: MigrationsDir, tmp_path: Path, zygote: Zygote
) -> Migrate:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return ForkedMigrate(database, migrations, workdir, zygote)


def run_case(
    case: Case,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    before = schema.write(case.before)
    first = migrate("autogenerate", "-m", "before", **before)
    assert first.code == 0, first.stderr
    built = migrate("upgrade", **before)
    assert built.code == 0, built.stderr
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

    revision = next(iter(written))
    source = revision.read_text()
    assert "display_width" not in source, source  # MySQL 8 ignores integer display widths
    assert_alter_columns_keep_what_mysql_modify_would_drop(revision, reflected_before)
    upgraded = migrate("upgrade", **after)
    assert upgraded.code == 0, upgraded.stderr + source
    checked = migrate("check", **after)
    assert checked.code == 0, checked.stderr + source
    assert_no_drift(migrate, after, source)
    assert reflect(database.url) == built_by_create_all(case.after, database), source

    downgraded = migrate("downgrade", "-1", **after)
    assert downgraded.code == 0, downgraded.stderr + source
    assert reflect(database.url) == reflected_before, source
    assert_no_drift(migrate, after, source)  # at the previous revision, replayed to it

    again = migrate("upgrade", **after)
    assert again.code == 0, again.stderr + source
    assert migrate("check", **after).code == 0


def assert_no_drift(migrate: Migrate, settings: dict[str, str], source: str) -> None:
    """Issue 25's bar: a database the migrations built is never reported as drifted."""
    drifted = migrate("drift", **settings)
    assert drifted.code == 0, drifted.stdout + drifted.stderr + source


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, marks=case.marks, id=case.name) for case in cases]


@pytest.mark.parametrize("case", params(CASES))
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
        pytest.param(
            case,
            marks=[*case.marks, pytest.mark.xfail(strict=True, reason=reason)],
            id=name,
        )
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


CONTROL_CASES = CASES + [case for case, _ in KNOWN_LIMITATIONS.values()]


@pytest.mark.parametrize("case", params(CONTROL_CASES))
def test_create_all_stamped_at_head_passes_check(
    case: Case,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    """The control: a database the models built themselves has no differences to report."""
    settings = schema.write(case.after)
    create_all(case.after, database.admin_url)
    migrations.add("control", None, doc="the schema as create_all builds it")
    stamped = migrate("stamp", "head", **settings)
    assert stamped.code == 0, stamped.stderr

    checked = migrate("check", **settings)

    assert checked.code == 0, checked.stderr


COMPARED_TABLE = (
    "CREATE TABLE t (id INT PRIMARY KEY,"
    " name VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,"
    " n INT NOT NULL, KEY ix_name (name(10)), KEY ix_n (n),"
    " CONSTRAINT ck_n CHECK (n > 0))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci ROW_FORMAT=DYNAMIC"
)
COMPARISON_SEES = {
    "column_charset": ("CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "CHARACTER SET latin1"),
    "column_collation": ("COLLATE utf8mb4_general_ci,", "COLLATE utf8mb4_bin,"),
    "index_prefix_length": ("name(10)", "name(12)"),
    "index_direction": ("ix_n (n)", "ix_n (n DESC)"),
    "check_constraint": ("CHECK (n > 0)", "CHECK (n > 1)"),
    "table_collation": ("COLLATE=utf8mb4_general_ci", "COLLATE=utf8mb4_bin"),
    "table_row_format": ("ROW_FORMAT=DYNAMIC", "ROW_FORMAT=COMPACT"),
    "table_engine": ("ENGINE=InnoDB", "ENGINE=MyISAM"),
}


@pytest.mark.parametrize(("old", "new"), COMPARISON_SEES.values(), ids=COMPARISON_SEES.keys())
def test_the_schema_comparison_sees(old: str, new: str, database: ScratchDatabase) -> None:
    """Two tables that differ in one of these alone must not compare equal, or the round
    trip passes without having compared it."""
    assert old in COMPARED_TABLE
    names = [f"{database.name}_{suffix}" for suffix in ("same", "other")]
    try:
        for name in names:
            database.server.execute(f"CREATE DATABASE `{name}`")
        database.execute(COMPARED_TABLE)
        database.server.execute(COMPARED_TABLE, database=names[0])
        database.server.execute(COMPARED_TABLE.replace(old, new), database=names[1])
        reference, same, other = (
            reflect(url_of(replace(database.server.target, database=name)))
            for name in (database.name, *names)
        )
    finally:
        for name in names:
            database.server.execute(f"DROP DATABASE IF EXISTS `{name}`")

    assert same == reference
    assert other != reference


def test_plan_and_sql_name_checks_by_the_models_naming_convention(
    migrate: Migrate, schema: SchemaModule, database: ScratchDatabase
) -> None:
    """Issue 27, item 1, off the upgrade path: `plan` runs the revisions on a shadow copy and
    `sql` renders them, both with the models' naming convention as `upgrade` has it."""
    settings = schema.write(BASE + flagged_table("season") + flagged_table("league"))
    assert migrate("autogenerate", "-m", "flags", **settings).code == 0

    planned = migrate("plan", "--format", "json", **settings)
    rendered = migrate("sql", "head", **settings)

    assert planned.code == 0, planned.stderr
    assert rendered.code == 0, rendered.stderr
    for output in (planned.stdout, rendered.stdout):
        for name in ("ck_season_active", "ck_season_phase", "ck_league_active", "ck_league_phase"):
            assert f"CONSTRAINT {name} CHECK" in output, output
    assert database.tables() == set()  # plan only read the live database


def test_revisions_run_without_a_naming_convention_when_there_is_no_schema_module(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.chain(1)

    result = migrate(MIGRATE_SCHEMA="no_such_schema_module:metadata")

    assert result.code == 0, result.stderr
    assert database.tables() == {"alembic_version", "t1"}


def test_a_broken_schema_module_stops_revisions_before_they_run_and_not_a_noop(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule, database: ScratchDatabase
) -> None:
    migrations.chain(1)
    broken = schema.write("import no_such_package_here")

    result = migrate(**broken)

    assert result.code == 9, result.stderr
    assert (
        "schema module 'app_schema' (MIGRATE_SCHEMA) cannot be imported" in result.error["message"]
    )
    assert database.tables() <= {"alembic_version"}  # no revision ran
    assert migrate().code == 0  # with a module that imports (the project's own)
    assert migrate(**broken).code == 0  # at head: nothing runs, nothing is imported


@pytest.mark.parametrize(
    "args", [("--version",), ("check",), ("upgrade", "nowhere")], ids=["version", "9", "2"]
)
def test_a_forked_runner_process_answers_as_a_started_one(
    args: tuple[str, ...], migrate: Migrate, migrations: MigrationsDir
) -> None:
    """What the corpus's forked processes report is what `python entrypoint.py` reports."""
    migrations.chain(1)
    settings = {"MIGRATE_SCHEMA": "no_such_schema_module:metadata"}

    forked = migrate(*args, **settings)
    started = run_entrypoint(args, migrate.env(**settings), migrate.workdir)

    assert (forked.code, forked.stdout) == (started.code, started.stdout)
    assert [entry["message"] for entry in forked.logs] == [
        entry["message"] for entry in started.logs
    ]
