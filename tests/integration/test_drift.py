"""`drift`: a migrated database changed by hand is named exactly, and one left alone is clean.

Each case migrates the same small history (tables with defaults, comments, a
collation, an enum, JSON, a unique and a prefix index, a foreign key with ON DELETE,
a CHECK, a view, a second revision with two statements), makes one manual change,
and asserts that `drift` names exactly that object, with its kind and both sides.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrator.db.marker import MARKER_TABLE
from tests.integration.test_autogenerate_corpus import ForkedMigrate
from tests.support.forked_runner import Zygote
from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.runner import Result
from tests.support.servers import ScratchDatabase

FIRST = [
    "CREATE TABLE users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " email VARCHAR(255) NOT NULL, name VARCHAR(40) NULL DEFAULT 'anon' COMMENT 'display name',"
    " created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,"
    " score INT NOT NULL DEFAULT 0, bio TEXT COLLATE utf8mb4_bin,"
    " UNIQUE KEY uq_users_email (email), KEY ix_users_name (name(10))) COMMENT='people'",
    "CREATE TABLE orders (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL,"
    " total DECIMAL(10,2) NOT NULL DEFAULT 0, status ENUM('new','paid') NOT NULL DEFAULT 'new',"
    " created_at DATETIME NOT NULL, note VARCHAR(100), data JSON,"
    " KEY ix_orders_user (user_id),"
    " CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,"
    " CONSTRAINT ck_orders_total CHECK (total >= 0))",
    "CREATE TABLE kv (k VARCHAR(20) NOT NULL PRIMARY KEY, v TEXT) ROW_FORMAT=DYNAMIC",
    "CREATE VIEW v_paid AS SELECT id, total FROM orders WHERE status = 'paid'",
]
SECOND = [
    "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, order_id BIGINT NOT NULL)",
    "CREATE INDEX ix_items_order ON items (order_id)",
]


@dataclass(frozen=True)
class Change:
    """A manual change and what drift must say about it."""

    name: str
    statements: tuple[str, ...]
    object: str
    kind: str
    live: str | None
    migrations: str | None
    # Sides whose text depends on the server: checked by prefix only.
    prefix_only: bool = False


def change(name: str, statement: str | tuple[str, ...], *expected: Any, **options: Any) -> Change:
    statements = (statement,) if isinstance(statement, str) else statement
    return Change(name, statements, *expected, **options)


CHANGES = [
    change(
        "add_index",
        "CREATE INDEX ix_orders_created ON orders (created_at)",
        "orders.ix_orders_created",
        "extra",
        "INDEX (created_at)",
        None,
    ),
    change(
        "drop_index",
        "DROP INDEX ix_users_name ON users",
        "users.ix_users_name",
        "missing",
        None,
        "INDEX (name(10))",
    ),
    change(
        "widen_column",
        "ALTER TABLE users MODIFY email VARCHAR(300) NOT NULL",
        "users.email",
        "changed",
        "VARCHAR(300)",
        "VARCHAR(255)",
    ),
    change(
        "narrow_column",
        "ALTER TABLE orders MODIFY note VARCHAR(50)",
        "orders.note",
        "changed",
        "VARCHAR(50)",
        "VARCHAR(100)",
    ),
    change(
        "change_number_default",
        "ALTER TABLE users ALTER score SET DEFAULT 5",
        "users.score",
        "changed",
        "DEFAULT 5",
        "DEFAULT 0",
    ),
    change(
        "change_string_default",
        "ALTER TABLE users ALTER name SET DEFAULT 'nobody'",
        "users.name",
        "changed",
        "DEFAULT 'nobody'",
        "DEFAULT 'anon'",
    ),
    change(
        "change_collation",
        "ALTER TABLE users MODIFY bio TEXT COLLATE utf8mb4_unicode_ci",
        "users.bio",
        "changed",
        "COLLATE utf8mb4_unicode_ci",
        "COLLATE utf8mb4_bin",
    ),
    change(
        "change_character_set",
        "ALTER TABLE orders MODIFY note VARCHAR(100) CHARACTER SET latin1",
        "orders.note",
        "changed",
        "CHARACTER SET latin1 COLLATE latin1_",
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_",
        prefix_only=True,
    ),
    change(
        "drop_foreign_key",
        "ALTER TABLE orders DROP FOREIGN KEY fk_orders_user",
        "orders.fk_orders_user",
        "missing",
        None,
        "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE",
    ),
    change(
        "add_table",
        "CREATE TABLE audit (id INT NOT NULL PRIMARY KEY, what VARCHAR(20))",
        "audit",
        "extra",
        "TABLE (id INT, what VARCHAR(20))",
        None,
    ),
    change(
        "drop_table",
        "DROP TABLE items",
        "items",
        "missing",
        None,
        "TABLE (id INT, order_id BIGINT)",
    ),
    change(
        "change_table_comment",
        "ALTER TABLE users COMMENT='humans'",
        "users",
        "changed",
        "COMMENT='humans'",
        "COMMENT='people'",
    ),
    change(
        "add_trigger",
        "CREATE TRIGGER trg_orders BEFORE INSERT ON orders FOR EACH ROW SET NEW.note = NEW.note",
        "orders.trg_orders",
        "extra",
        "TRIGGER BEFORE INSERT ON orders",
        None,
    ),
    change(
        "redefine_view",
        "CREATE OR REPLACE VIEW v_paid AS SELECT id, total FROM orders WHERE status = 'new'",
        "v_paid",
        "changed",
        "AS select",
        "AS select",
        prefix_only=True,
    ),
    change("drop_view", "DROP VIEW v_paid", "v_paid", "missing", None, "VIEW AS select", True),
    change(
        "missing_second_statement_of_a_revision",
        "DROP INDEX ix_items_order ON items",
        "items.ix_items_order",
        "missing",
        None,
        "INDEX (order_id)",
    ),
    change(
        "add_column",
        "ALTER TABLE users ADD nickname VARCHAR(20)",
        "users.nickname",
        "extra",
        "VARCHAR(20) NULL",
        None,
    ),
    change(
        "drop_column",
        "ALTER TABLE orders DROP COLUMN note",
        "orders.note",
        "missing",
        None,
        "VARCHAR(100) NULL",
    ),
    change(
        "null_to_not_null",
        "ALTER TABLE orders MODIFY note VARCHAR(100) NOT NULL",
        "orders.note",
        "changed",
        "NOT NULL",
        "NULL",
    ),
    change(
        "make_unsigned",
        "ALTER TABLE users MODIFY score INT UNSIGNED NOT NULL DEFAULT 0",
        "users.score",
        "changed",
        "INT UNSIGNED",
        "INT",
    ),
    change(
        "int_to_bigint",
        "ALTER TABLE users MODIFY score BIGINT NOT NULL DEFAULT 0",
        "users.score",
        "changed",
        "BIGINT",
        "INT",
    ),
    change(
        "change_column_comment",
        "ALTER TABLE users MODIFY name VARCHAR(40) NULL DEFAULT 'anon' COMMENT 'shown'",
        "users.name",
        "changed",
        "COMMENT 'shown'",
        "COMMENT 'display name'",
    ),
    change(
        "drop_on_update",
        "ALTER TABLE users MODIFY updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP",
        "users.updated_at",
        "changed",
        "no ON UPDATE",
        "ON UPDATE CURRENT_TIMESTAMP",
    ),
    change(
        "add_check",
        "ALTER TABLE users ADD CONSTRAINT ck_users_score CHECK (score >= 0)",
        "users.ck_users_score",
        "extra",
        "CHECK (",
        None,
        prefix_only=True,
    ),
    change(
        "drop_check",
        "ALTER TABLE orders DROP CONSTRAINT ck_orders_total",
        "orders.ck_orders_total",
        "missing",
        None,
        "CHECK (",
        prefix_only=True,
    ),
    change(
        "change_engine",
        "ALTER TABLE kv ENGINE=MyISAM",
        "kv",
        "changed",
        "ENGINE=MyISAM",
        "ENGINE=InnoDB",
        prefix_only=True,
    ),
    change(
        "change_row_format",
        "ALTER TABLE kv ROW_FORMAT=COMPACT",
        "kv",
        "changed",
        "ROW_FORMAT=COMPACT",
        "ROW_FORMAT=DYNAMIC",
    ),
    change(
        "change_table_collation",
        "ALTER TABLE kv DEFAULT COLLATE utf8mb4_bin",
        "kv",
        "changed",
        "COLLATE=utf8mb4_bin",
        "COLLATE=utf8mb4_",
        prefix_only=True,
    ),
    change(
        "unique_index_made_plain",
        ("DROP INDEX uq_users_email ON users", "CREATE INDEX uq_users_email ON users (email)"),
        "users.uq_users_email",
        "changed",
        "INDEX (email)",
        "UNIQUE INDEX (email)",
    ),
    change(
        "index_prefix_length",
        ("DROP INDEX ix_users_name ON users", "CREATE INDEX ix_users_name ON users (name(20))"),
        "users.ix_users_name",
        "changed",
        "INDEX (name(20))",
        "INDEX (name(10))",
    ),
    change(
        "primary_key_widened",
        "ALTER TABLE items DROP PRIMARY KEY, ADD PRIMARY KEY (id, order_id)",
        "items.PRIMARY",
        "changed",
        "PRIMARY KEY (id, order_id)",
        "PRIMARY KEY (id)",
    ),
]


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


@pytest.fixture
def migrated(migrate: Migrate, migrations: MigrationsDir) -> Migrate:
    """The database upgraded to head with the two revisions."""
    migrations.add("d0001", None, upgrade=[sql(s) for s in FIRST])
    migrations.add(
        "d0002", "d0001", upgrade=[sql(s) for s in SECOND], downgrade=[sql("DROP TABLE items")]
    )
    upgraded = migrate()
    assert upgraded.code == 0, upgraded.stderr
    return migrate


def drift_json(migrate: Migrate) -> tuple[Result, dict[str, Any]]:
    result = migrate("drift", "--format", "json")
    return result, json.loads(result.stdout)


def only_difference(migrate: Migrate) -> dict[str, Any]:
    result, report = drift_json(migrate)
    assert result.code == 12, result.stderr
    [database] = report["databases"]
    assert database["drifted"] is True
    assert database["revision"] == "d0002"
    [difference] = database["differences"]
    return dict(difference)


def test_a_database_the_migrations_built_has_no_drift(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    result = migrated("drift")

    assert result.code == 0, result.stderr
    assert result.stdout == "1 database matches its migrations\n"


def test_drift_json_names_the_database_without_its_password(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    result, report = drift_json(migrated)

    assert result.code == 0, result.stderr
    assert report == {
        "databases": [
            {
                "database": database.name,
                "target": "default",
                "shard": None,
                "revision": "d0002",
                "drifted": False,
                "differences": [],
            }
        ]
    }
    assert database.app_user is not None
    assert database.app_user[1] not in result.stdout + result.stderr


@pytest.mark.parametrize("case", CHANGES, ids=lambda case: case.name)
def test_drift_names_exactly_the_object_changed_by_hand(
    case: Change, migrated: Migrate, database: ScratchDatabase
) -> None:
    for statement in case.statements:
        database.server.execute(statement, database=database.name)

    difference = only_difference(migrated)

    assert (difference["object"], difference["kind"]) == (case.object, case.kind), difference
    if case.prefix_only:
        for side in ("live", "migrations"):
            expected = getattr(case, side)
            assert (difference[side] is None) == (expected is None), difference
            if expected is not None:
                assert difference[side].startswith(expected), difference
    else:
        assert (difference["live"], difference["migrations"]) == (case.live, case.migrations)


def test_a_changed_on_delete_is_named_with_both_rules(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    for statement in (
        "ALTER TABLE orders DROP FOREIGN KEY fk_orders_user",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id)"
        " REFERENCES users (id) ON DELETE RESTRICT",
    ):
        database.server.execute(statement, database=database.name)

    assert only_difference(migrated) == {
        "object": "orders.fk_orders_user",
        "kind": "changed",
        "live": "ON DELETE RESTRICT",
        "migrations": "ON DELETE CASCADE",
    }


def test_the_text_reads_as_a_difference_without_an_operation_name(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    for statement in (
        "CREATE INDEX ix_orders_created ON orders (created_at)",
        "ALTER TABLE users MODIFY email VARCHAR(200) NOT NULL",
    ):
        database.server.execute(statement, database=database.name)

    result = migrated("drift")

    assert result.code == 12, result.stderr
    assert result.stdout.splitlines() == [
        "orders: extra index ix_orders_created (created_at)",
        "users.email: VARCHAR(200) live, VARCHAR(255) by the migrations",
        "0 databases match their migrations; 1 differs: "
        f"{database.name} (extra index ix_orders_created on orders;"
        " users.email VARCHAR(200) live, VARCHAR(255) by the migrations)",
    ]
    for operation in ("add_index", "modify_type", "create_index", "alter_column", "drop_"):
        assert operation not in result.stdout + result.stderr


def test_drift_changes_nothing_in_the_live_database(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    database.server.execute(
        "CREATE INDEX ix_orders_created ON orders (created_at)", database=database.name
    )
    database.server.execute(
        "INSERT INTO users (email) VALUES ('a@example.com')", database=database.name
    )
    before = live_checksum(database)

    result = migrated("drift")

    assert result.code == 12, result.stderr
    assert live_checksum(database) == before


def test_drift_compares_at_the_recorded_revision_not_at_head(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    """After a downgrade the database is at d0001: items is not drift, an index is."""
    downgraded = migrated("downgrade", "-1")
    assert downgraded.code == 0, downgraded.stderr
    clean = migrated("drift")
    assert clean.code == 0, clean.stdout + clean.stderr

    database.server.execute("CREATE INDEX ix_kv_v ON kv (v(5))", database=database.name)
    difference = only_difference_at(migrated, "d0001")

    assert difference["object"] == "kv.ix_kv_v"


def only_difference_at(migrate: Migrate, revision: str) -> dict[str, Any]:
    result, report = drift_json(migrate)
    assert result.code == 12, result.stderr
    [database] = report["databases"]
    assert database["revision"] == revision
    [difference] = database["differences"]
    return dict(difference)


def test_what_drift_does_not_compare(migrated: Migrate, database: ScratchDatabase) -> None:
    """Auto-increment counters, statistics, partitions and column positions."""
    for statement in (
        "INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com')",
        "ANALYZE TABLE users",
        "ALTER TABLE kv PARTITION BY KEY (k) PARTITIONS 2",
        "ALTER TABLE users MODIFY score INT NOT NULL DEFAULT 0 FIRST",
    ):
        database.server.execute(statement, database=database.name)

    result = migrated("drift")

    assert result.code == 0, result.stdout + result.stderr


def test_drift_needs_only_select_on_the_live_database(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    reader, password = f"ro_{uuid.uuid4().hex[:12]}", f"ro-Pw-{uuid.uuid4().hex[:8]}"
    shadow = database.name.replace("_", "\\_") + "\\_shadow\\_%"
    database.server.execute(f"CREATE USER '{reader}'@'%%' IDENTIFIED BY %s", password)
    try:
        database.server.execute(f"GRANT SELECT ON `{database.name}`.* TO '{reader}'@'%'")
        database.server.execute(f"GRANT ALL ON `{shadow}`.* TO '{reader}'@'%'")
        database.server.execute("CREATE INDEX ix_x ON orders (created_at)", database=database.name)

        result = migrated("drift", DATABASE_URL=database.url_as(reader, password))

        assert result.code == 12, result.stderr
        assert result.stdout.startswith("orders: extra index ix_x (created_at)\n")
    finally:
        database.server.execute(f"DROP USER IF EXISTS '{reader}'@'%'")


def test_a_revision_these_migrations_lack_is_exit_8(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    database.execute("UPDATE alembic_version SET version_num = 'zz_newer'")

    result = migrated("drift")

    assert result.code == 8, result.stderr
    assert "zz_newer" in result.error["message"]


def test_a_revision_left_half_applied_is_exit_6_and_one_being_applied_exit_10(
    migrated: Migrate, database: ScratchDatabase
) -> None:
    database.execute(
        f"INSERT INTO {MARKER_TABLE} VALUES (1, 'd0002', 'd0001', 'd0002', NOW(6), 'pod-x pid 1')"
    )

    left = migrated("drift")
    with database.lock_held_elsewhere():
        running = migrated("drift")

    assert left.code == 6, left.stderr
    assert "interrupted" in left.error["message"]
    assert running.code == 10, running.stderr
