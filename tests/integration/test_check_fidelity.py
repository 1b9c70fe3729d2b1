"""`check` sees what the server stores: clean on a database the models built themselves,
and a real difference reported with both sides, and written by autogenerate.

Control: `create_all` of a schema module, then `check` against the same module must
exit 0. Differences: `create_all` of one module, `check` against another must exit 7
and name the live and the wanted side. Round trips: autogenerate writes the change,
`check` is clean after `upgrade`, and `downgrade -1` restores the old schema exactly.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.migrations import Migrate, MigrationsDir
from tests.support.schema_module import SCHEMA_TEMPLATE, SchemaModule
from tests.support.servers import ScratchDatabase, Server

TABLE = """
t = sa.Table(
    "t", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("a", sa.Integer, nullable=False),
    sa.Column("b", sa.String(50), nullable=False),
{columns}
)
{extra}
"""


def tables(columns: str = "", extra: str = "") -> str:
    return TABLE.format(columns=columns, extra=extra)


def create_all(tables_source: str, database: ScratchDatabase) -> None:
    """Build the schema module's tables the way the models themselves would."""
    namespace: dict[str, object] = {}
    exec(SCHEMA_TEMPLATE.format(tables=tables_source), namespace)  # noqa: S102 - the test's own
    engine = sa.create_engine(database.url.replace("mysql://", "mysql+pymysql://"))
    try:
        namespace["metadata"].create_all(engine)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def functional_indexes(server: Server) -> None:
    if server.family != "mysql":
        pytest.skip("MariaDB has no functional indexes")


CONTROL = {
    # MySQL stores FLOAT(53) as DOUBLE (issue 24 item 5).
    "float_precision_53": tables('    sa.Column("f", sa.Float(precision=53)),'),
    "float_precision_10": tables('    sa.Column("f", sa.Float(precision=10)),'),
    # MySQL stores BLOB(65536) as MEDIUMBLOB (buildbot's logchunks.content).
    "blob_length": tables('    sa.Column("content", sa.LargeBinary(65536)),'),
    # TEXT(M) becomes the smallest kind that holds M characters; REAL is DOUBLE.
    "text_length_and_real": tables(
        '    sa.Column("short", sa.Text(100)),\n'
        '    sa.Column("long", sa.Text(20000)),\n'
        '    sa.Column("r", sa.REAL),'
    ),
    "descending_index": tables(extra='sa.Index("ix_t_a_b", t.c.a.desc(), t.c.b)'),
    "prefix_index": tables(extra='sa.Index("ix_t_b", t.c.b, mysql_length={"b": 10})'),
    # Issue 27 item 3: MySQL lowercases it, MariaDB drops the parentheses.
    "json_array_default": tables(
        '    sa.Column("j", sa.JSON, server_default=sa.text("(JSON_ARRAY())")),'
    ),
    # Issue 27 item 3: MySQL 9.7 reports `(_utf8mb4'')`.
    "text_empty_default": tables('    sa.Column("x", sa.Text, server_default=sa.text("(\'\')")),'),
    "datetime_6": tables(
        '    sa.Column("at", mysql.DATETIME(fsp=6), nullable=False,'
        ' server_default=sa.text("CURRENT_TIMESTAMP(6)")),'
    ),
    "composite_primary_key": """
slots = sa.Table(
    "slots", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
)
""",
}
FUNCTIONAL = {
    # Issue 27 item 5: a permanent remove_index + add_index of the same index.
    "functional_index": tables(extra='sa.Index("ix_t_lower_b", sa.func.lower(t.c.b))'),
    "functional_and_column_index": tables(
        extra='sa.Index("ix_t_a_lower_b", t.c.a.desc(), sa.func.lower(t.c.b))'
    ),
    "arithmetic_index": tables(extra='sa.Index("ix_t_a_plus", t.c.a + 1)'),
    # MySQL stores the literal as _utf8mb4\'x\'.
    "index_with_a_literal": tables(extra='sa.Index("ix_t_bx", sa.func.concat(t.c.b, "x"))'),
}


@pytest.mark.parametrize("name", [*CONTROL, *FUNCTIONAL])
def test_check_is_clean_on_what_the_models_built(
    name: str, migrate: Migrate, schema: SchemaModule, database: ScratchDatabase
) -> None:
    if name in FUNCTIONAL:
        functional_indexes(database.server)
    source = CONTROL.get(name) or FUNCTIONAL[name]
    create_all(source, database)
    checked = migrate("check", **schema.write(source))
    assert checked.code == 0, checked.stderr


DIFFERENCES = {
    # Issue 27 item 4: string defaults are strings, not numbers.
    "string_default_1_10": (
        tables('    sa.Column("s", sa.String(10), server_default="1.10"),'),
        tables('    sa.Column("s", sa.String(10), server_default="1.1"),'),
        "modify_default t.s: live DEFAULT '1.10', models DEFAULT '1.1'",
    ),
    "string_default_007": (
        tables('    sa.Column("s", sa.String(10), server_default="007"),'),
        tables('    sa.Column("s", sa.String(10), server_default="7"),'),
        "modify_default t.s: live DEFAULT '007', models DEFAULT '7'",
    ),
    # Alembic lists an AUTO_INCREMENT change as an empty difference.
    "auto_increment": (
        tables(),
        tables().replace(
            'sa.Column("id", sa.Integer, primary_key=True),',
            'sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),',
        ),
        "modify_autoincrement t.id: live AUTO_INCREMENT, models no AUTO_INCREMENT",
    ),
    "varchar_length": (
        tables('    sa.Column("email", sa.String(200)),'),
        tables('    sa.Column("email", sa.String(255)),'),
        "modify_type t.email: live VARCHAR(200), models String(255)",
    ),
}


@pytest.mark.parametrize("name", DIFFERENCES)
def test_check_reports_both_sides_of_a_difference(
    name: str, migrate: Migrate, schema: SchemaModule, database: ScratchDatabase
) -> None:
    live, models, expected = DIFFERENCES[name]
    create_all(live, database)
    checked = migrate("check", **schema.write(models))
    assert checked.code == 7, checked.stderr
    assert expected in checked.error["message"]


BEFORE = """
t = sa.Table(
    "t", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("a", sa.Integer, nullable=False),
    sa.Column("b", sa.String(50), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("ts", mysql.TIMESTAMP, nullable=True),
    sa.Column("tm", mysql.TIME(fsp=6), nullable=True),
)
sa.Index("ix_t_b", t.c.b, mysql_length={"b": 10})
sa.Index("ix_t_a_b", t.c.a, t.c.b)
slots = sa.Table(
    "slots", metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(10), nullable=False),
)
seats = sa.Table(
    "seats", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("row", sa.Integer, nullable=False),
)
"""
# Each change Alembic does not see (issue 27 items 6, 7 and 8), in one revision.
CHANGES = {
    # Alembic ignores type arguments when one side has none.
    'sa.Column("at", sa.DateTime,': 'sa.Column("at", mysql.DATETIME(fsp=6),',
    'sa.Column("ts", mysql.TIMESTAMP,': 'sa.Column("ts", mysql.TIMESTAMP(fsp=3),',
    'sa.Column("tm", mysql.TIME(fsp=6),': 'sa.Column("tm", sa.Time,',
    # A composite primary key gains a column it had, and one that is new; an
    # AUTO_INCREMENT key gains a column.
    'sa.Column("kind", sa.String(10), nullable=False),': (
        'sa.Column("kind", sa.String(10), primary_key=True, nullable=False),'
    ),
    'sa.Column("row", sa.Integer, nullable=False),': (
        'sa.Column("row", sa.Integer, primary_key=True, autoincrement=False),'
    ),
    '{"b": 10}': '{"b": 20}',
    "t.c.a, t.c.b)": "t.c.a.desc(), t.c.b)",
}
EXPECTED = [
    "modify_type t.at: live DATETIME, models DATETIME(6)",
    "modify_type t.ts: live TIMESTAMP, models TIMESTAMP(3)",
    "modify_type t.tm: live TIME(6), models Time()",
    "modify_pk slots: live (account_id, slot), models (account_id, slot, kind)",
    "modify_pk seats: live (id), models (id, row)",
    "remove_index ix_t_b: live INDEX (b(10)), not in the models",
    "add_index ix_t_b: not in the live database, models INDEX (b(20))",
    "add_index ix_t_a_b: not in the live database, models INDEX (a DESC, b)",
]


def after() -> str:
    source = BEFORE
    for old, new in CHANGES.items():
        assert old in source, old
        source = source.replace(old, new)
    return source


def show_create_tables(database: ScratchDatabase, name: str) -> dict[str, str]:
    found = database.server.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name NOT IN ('alembic_version', 'migrator_run_marker')",
        name,
    )
    return {
        table: _indexes_sorted(
            database.server.execute(f"SHOW CREATE TABLE `{name}`.`{table}`")[0][1]
        )
        for (table,) in found
    }


def _indexes_sorted(created: str) -> str:
    """MySQL prints a table's indexes in the order they were made: an index that a
    downgrade drops and makes again moves, which is no difference."""
    lines = created.splitlines()
    index_lines = [i for i, line in enumerate(lines) if line.lstrip().split(" ")[0] in _INDEX_WORDS]
    ordered = sorted(lines[i].rstrip(",") for i in index_lines)
    for position, line in zip(index_lines, ordered, strict=True):
        lines[position] = line
    return "\n".join(lines)


_INDEX_WORDS = {"KEY", "UNIQUE", "FULLTEXT", "SPATIAL"}


def test_changes_alembic_does_not_compare_are_detected_and_written(
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    assert migrate("autogenerate", "-m", "before", **schema.write(BEFORE)).code == 0
    assert migrate("upgrade", **schema.settings).code == 0
    built_before = show_create_tables(database, database.name)

    checked = migrate("check", **schema.write(after()))
    assert checked.code == 7, checked.stderr
    for difference in EXPECTED:
        assert difference in checked.error["message"], checked.error["message"]

    written = migrate("autogenerate", "-m", "changes", **schema.settings)
    assert written.code == 0, written.stderr
    revision = max((migrations.path / "versions").glob("*.py"), key=lambda p: p.stat().st_mtime)
    upgraded = migrate("upgrade", **schema.settings)
    assert upgraded.code == 0, upgraded.stderr + revision.read_text()
    after_upgrade = migrate("check", **schema.settings)
    assert after_upgrade.code == 0, after_upgrade.stderr + revision.read_text()

    downgraded = migrate("downgrade", "-1", **schema.settings)
    assert downgraded.code == 0, downgraded.stderr + revision.read_text()
    assert show_create_tables(database, database.name) == built_before, revision.read_text()
