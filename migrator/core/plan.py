"""Measures what the pending revisions will do to the live tables, on an empty copy of them.

The copy is a shadow database with every live table's exact definition (its
indexes, FULLTEXT, ROW_FORMAT and foreign keys) and, on MySQL, its count of
instant row versions. The revisions run there, and each DDL statement is
offered the cheapest algorithm first (see :mod:`migrator.ddl.cheapest`): what the
server accepts on the copy is what it will take on the live table. Sizes come
from the live database's ``information_schema``. The live database is only read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import pymysql
from alembic.script import ScriptDirectory

from migrator.autogenerate.confined import UnsafeStatement, confined, leading_word
from migrator.autogenerate.shadow import quote_identifier
from migrator.core.apply import run_steps
from migrator.db import marker
from migrator.db.connection import ConnectionSettings, is_mariadb
from migrator.db.engine import driver_connection, open_connection
from migrator.ddl import cheapest, narrowing, statements
from migrator.ddl.levels import LADDER
from migrator.ddl.online_change import executor_for
from migrator.ddl.planned import PlannedStatement, fresh_statistics
from migrator.ddl.statements import Statement
from migrator.errors import MigrationFailed, MigratorError, PlanUnavailable
from migrator.process.preview import PLAN_TABLE_PREVIEW, REFUSAL_PREVIEW, preview
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

# Statements that only read: a revision's reflection, not a change to plan for.
READS = frozenset({"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"})
BOOKKEEPING = re.compile(rf"\b({'|'.join(sorted(marker.BOOKKEEPING_TABLES))})\b", re.IGNORECASE)


@dataclass(frozen=True)
class TableSize:
    rows: int
    bytes: int


@dataclass
class Plan:
    database: str
    current: str | None
    destination: str
    statements: list[PlannedStatement] = field(default_factory=list)

    def as_json(self) -> str:
        document = {
            "database": self.database,
            "current": self.current,
            "destination": self.destination,
            "sizes_are_estimates": True,
            "statements": [asdict(statement) for statement in self.statements],
        }
        return json.dumps(document, indent=2)

    def write_text(self, out: TextIO) -> None:
        out.write(
            f"database {self.database}: {self.current or 'no revision'} -> {self.destination},"
            f" {len(self.statements)} statement(s); rows and bytes are estimates\n"
        )
        if not self.statements:
            return
        header = (
            "revision",
            "table",
            "algorithm",
            "lock",
            "blocks writes",
            "rows",
            "executor",
            "statement",
        )
        rows = [header]
        for statement in self.statements:
            rows.append(
                (
                    statement.revision,
                    statement.table or "-",
                    statement.algorithm or "-",
                    statement.lock or "-",
                    _yes_no(statement.blocks_writes),
                    "-" if statement.table_rows is None else f"~{statement.table_rows}",
                    statement.executor,
                    preview(statement.sql, PLAN_TABLE_PREVIEW),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
        for statement in self.statements:
            if statement.destructive:
                out.write(f"destructive: {statement.revision} {statement.destructive}\n")
            if statement.note:
                out.write(f"note: {statement.revision} {statement.table}: {statement.note}\n")


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("YES" if value else "no")


def measure(
    project: Project,
    script: ScriptDirectory,
    live: LiveTables,
    destination: str,
    *,
    shadow: ConnectionSettings,
    options: RunOptions,
) -> list[PlannedStatement]:
    """Run the revisions up to ``destination`` on a copy of ``live`` in ``shadow``."""
    planned: list[PlannedStatement] = []
    with open_connection(shadow) as connection:
        session = driver_connection(connection)
        try:
            live.recreate(session)
            with confined(session, live=live.database, shadow=shadow.target.database) as record:
                try:
                    run_steps(
                        project,
                        script,
                        connection,
                        destination,
                        upgrade=True,
                        runner=options.runner,
                        ddl_lock_timeout=options.ddl_lock_timeout,
                        statement_hook=_Recorder(live, planned),
                        shadow=shadow.target.database,
                    )
                finally:
                    # Raised even when the revision caught the error: the plan is not whole.
                    if record.refused is not None:
                        raise _unsafe(record.refused) from None
        except (MigrationFailed, pymysql.err.MySQLError) as error:
            # Its remedy would be about the copy; the live database was only read.
            reason = error.message.split("; ")[0] if isinstance(error, MigratorError) else error
            raise PlanUnavailable(
                f"could not run the revisions on an empty copy of the tables: {reason};"
                " the live database was only read"
            ) from None
    for statement in planned:
        if statements.parse(statement.sql).alterable is not None:
            statement.executor = executor_for(
                options.blocking_ddl,
                options.blocking_ddl_min_rows,
                statement.table_rows,
                statement.blocks_writes,
            )
    return planned


def _unsafe(refused: UnsafeStatement) -> PlanUnavailable:
    shown = preview(refused.statement, REFUSAL_PREVIEW)
    return PlanUnavailable(
        f"cannot plan this statement safely: `{shown}`: {refused.reason};"
        " it was not run, and the live database was only read"
    )


@dataclass
class LiveTables:
    """What the copy needs of the live database: definitions, version rows, sizes."""

    database: str
    definitions: list[str]
    versions: list[str]
    sizes: dict[str, TableSize]
    row_versions: dict[str, int] | None  # None: unreadable (MySQL needs PROCESS)
    mysql: bool
    # Session settings that change the server's verdict, as the migration session has them.
    session: dict[str, int | str]

    @classmethod
    def read(cls, connection: Any, versions: Sequence[str] | None = None) -> LiveTables:
        """``versions`` is alembic_version's rows when the caller read them under the lock:
        one owner for that fact, not a second read."""
        with connection.cursor() as cursor:
            fresh_statistics(cursor)
            cursor.execute("SELECT DATABASE()")
            database = str(cursor.fetchone()[0])
            cursor.execute(
                "SELECT table_name, COALESCE(table_rows, 0),"
                " COALESCE(data_length, 0) + COALESCE(index_length, 0)"
                " FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
            )
            sizes = {name: TableSize(int(rows), int(size)) for name, rows, size in cursor}
            definitions = []
            for table in sorted(sizes):
                cursor.execute(f"SHOW CREATE TABLE {quote_identifier(table)}")
                definitions.append(cursor.fetchone()[1])
            if versions is None:
                versions = []
                if "alembic_version" in sizes:
                    cursor.execute("SELECT version_num FROM alembic_version")
                    versions = [row[0] for row in cursor]
            cursor.execute("SELECT VERSION()")
            mysql = not is_mariadb(cursor.fetchone()[0])
            row_versions = _row_versions(cursor) if mysql else {}
            session = _verdict_settings(cursor)
        return cls(database, definitions, list(versions), sizes, row_versions, mysql, session)

    def recreate(self, connection: Any) -> None:
        with connection.cursor() as cursor:
            # Definitions come in name order; their foreign keys may point forward.
            cursor.execute("SET SESSION foreign_key_checks = 0")
            # Definitions the live server once accepted (zero dates, say) load as they are.
            cursor.execute("SET SESSION sql_mode = ''")
            for definition in self.definitions:
                cursor.execute(definition)
            # Not `= DEFAULT`: MySQL 9.7 then keeps 0, and ADD FOREIGN KEY would look
            # INPLACE where the live session gets COPY.
            for name, value in self.session.items():
                cursor.execute(f"SET SESSION {name} = %s", (value,))
            for version in self.versions:
                cursor.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", version)
            for table, count in (self.row_versions or {}).items():
                _spend_row_versions(cursor, table, count)
        connection.commit()


# foreign_key_checks decides ADD FOREIGN KEY; MariaDB's alter_algorithm and the older
# old_alter_table force an algorithm of their own.
# sql_mode decides what an ALTER may leave in the rows (strict mode refuses).
_VERDICT_SETTINGS = ("foreign_key_checks", "alter_algorithm", "old_alter_table", "sql_mode")


def _verdict_settings(cursor: Any) -> dict[str, int | str]:
    settings: dict[str, int | str] = {}
    for name in _VERDICT_SETTINGS:
        try:
            cursor.execute(f"SELECT @@SESSION.{name}")
        except pymysql.err.MySQLError:
            continue  # not a variable of this server
        row = cursor.fetchone()
        if row is not None and isinstance(row[0], int | str):
            settings[name] = row[0]  # as the server gave it: `'1'` is no boolean
    return settings


def _row_versions(cursor: Any) -> dict[str, int] | None:
    """Instant ADD/DROP COLUMN operations each live table has used (MySQL 8.0.29+)."""
    try:
        cursor.execute(
            "SELECT name, total_row_versions FROM information_schema.innodb_tables"
            " WHERE name LIKE CONCAT(DATABASE(), '/%%')"
        )
    except pymysql.err.MySQLError:
        return None
    return {
        _decoded(str(name).split("/", 1)[1]): int(count)
        for name, count in cursor
        if count and "#" not in str(name)  # partitions (t#p#p0) have counts of their own
    }


def _decoded(name: str) -> str:
    """InnoDB's file-name form of a table name (`order@002ditems`) as SQL names it."""
    return re.sub(r"@([0-9a-f]{4})", lambda match: chr(int(match.group(1), 16)), name)


def _spend_row_versions(cursor: Any, table: str, count: int) -> None:
    # CREATE TABLE starts at zero row versions; the copy must be as close to its limit
    # as the live table, or INSTANT would look possible where it is not.
    quoted = quote_identifier(table)
    spare = quote_identifier("migrator_row_version")
    if count % 2:
        # A rebuild (INPLACE) adds the spare column without a version; its instant
        # drop is then the one odd version.
        cursor.execute(f"ALTER TABLE {quoted} ADD COLUMN {spare} INT, ALGORITHM=INPLACE")
        cursor.execute(f"ALTER TABLE {quoted} DROP COLUMN {spare}, ALGORITHM=INSTANT")
    for _ in range(count // 2):
        cursor.execute(f"ALTER TABLE {quoted} ADD COLUMN {spare} INT, ALGORITHM=INSTANT")
        cursor.execute(f"ALTER TABLE {quoted} DROP COLUMN {spare}, ALGORITHM=INSTANT")


class _Recorder:
    """The statement hook of a plan: runs each statement on the copy at the cheapest level."""

    def __init__(self, live: LiveTables, statements: list[PlannedStatement]) -> None:
        self.live = live
        self.statements = statements

    def __call__(
        self, cursor: Any, statement: str, parameters: Any, revision: str, executed: int = 0
    ) -> bool:
        if BOOKKEEPING.search(statement) or leading_word(statement) in READS:
            return False  # Alembic's, or the revision's own look at the schema
        parsed = statements.parse(statement)
        size = self.live.sizes.get(parsed.table or "")
        planned = PlannedStatement(
            revision=revision,
            sql=" ".join(statement.split()),
            table=parsed.table,
            algorithm=None,
            lock=None,
            blocks_writes=None,
            rebuilds_table=None,
            table_rows=size.rows if size else None,
            table_bytes=size.bytes if size else None,
            destructive=_dropped_table(parsed, size),
        )
        self.statements.append(planned)
        if parsed.alterable is None:
            _describe_other(planned, parsed)
            return False
        columns_before = _columns(cursor, parsed.table)
        table_id = _table_id(cursor, parsed.table)
        outcome = cheapest.run_cheapest(cursor, parsed, LADDER, parameters)
        if outcome.level is None:
            planned.note = "the server refused every ALGORITHM/LOCK clause: " + "; ".join(
                outcome.refusals
            )
            return False
        level = outcome.level
        planned.algorithm = "INPLACE" if level.algorithm == "NOCOPY" else level.algorithm
        planned.lock = level.lock_level
        planned.blocks_writes = level.blocks_writes
        if level.algorithm in {"INSTANT", "NOCOPY"}:
            planned.rebuilds_table = False
        elif level.algorithm == "COPY":
            planned.rebuilds_table = True
        elif table_id is not None:
            planned.rebuilds_table = _table_id(cursor, parsed.table) != table_id
        if level.algorithm == "INSTANT" and self.live.mysql and self.live.row_versions is None:
            planned.algorithm = planned.blocks_writes = planned.rebuilds_table = None
            planned.lock = None
            planned.note = (
                "INSTANT on a fresh table, but the live table's instant row versions are"
                " unreadable without the PROCESS privilege: past the server's limit it needs"
                " a rebuild"
            )
        if refusals := outcome.refusals:
            planned.note = planned.note or f"cheaper levels refused: {refusals[-1]}"
        planned.destructive = _lost(parsed.table, columns_before, _columns(cursor, parsed.table))
        return True


def _describe_other(planned: PlannedStatement, parsed: Statement) -> None:
    if parsed.kind == "create_table":
        planned.blocks_writes = False
        planned.rebuilds_table = False
    elif parsed.kind in {"drop_table", "rename_table"}:
        planned.blocks_writes = False
        planned.rebuilds_table = False
        planned.note = (
            "not an ALTER TABLE: a metadata change, brief once no session holds the table"
        )
    elif parsed.kind == "unparsed":
        planned.note = "DDL whose table could not be told apart: verdict unknown"
    else:
        planned.note = "not DDL: its cost depends on the rows it touches"


def _dropped_table(parsed: Statement, size: TableSize | None) -> str | None:
    if parsed.kind != "drop_table":
        return None
    rows = f" and its ~{size.rows} rows" if size else ""
    return f"drops table {parsed.table}{rows}"


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    position: int


def _columns(cursor: Any, table: str | None) -> dict[str, Column]:
    """The table's columns on the copy, as the server records them."""
    cursor.execute(
        "SELECT column_name, column_type, is_nullable, ordinal_position"
        " FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s",
        (table,),
    )
    return {
        str(name): Column(str(kind).lower(), nullable == "YES", int(position))
        for name, kind, nullable, position in cursor.fetchall()
    }


def _lost(table: str | None, before: dict[str, Column], after: dict[str, Column]) -> str | None:
    """What values the statement lost, read from the table's columns before and after it."""
    if not after:
        return None  # renamed away (ALTER TABLE … RENAME TO): its columns are elsewhere
    added = {column.position: name for name, column in after.items() if name not in before}
    for name, column in before.items():
        if name not in after:
            renamed = added.get(column.position)
            if renamed is None or narrowing.narrows(column.type, after[renamed].type):
                return f"drops column {table}.{name} and its values"
            continue
        new = after[name]
        if new.type != column.type and narrowing.narrows(column.type, new.type):
            return (
                f"narrows column {name} from {column.type} to {new.type}:"
                " values may be cut or refused"
            )
        if column.nullable and not new.nullable:
            return (
                f"sets NOT NULL on column {name}: fails, or outside strict mode"
                " rewrites, any row holding NULL"
            )
    return None


def _table_id(cursor: Any, table: str | None) -> int | None:
    """InnoDB's id for the table: a rebuild gives it a new one. None when unreadable."""
    for query in (
        "SELECT table_id FROM information_schema.innodb_tables"
        " WHERE name = CONCAT(DATABASE(), '/', %s)",
        "SELECT table_id FROM information_schema.innodb_sys_tables"
        " WHERE name = CONCAT(DATABASE(), '/', %s)",
    ):
        try:
            cursor.execute(query, (table,))
        except pymysql.err.MySQLError:
            continue
        row = cursor.fetchone()
        return int(row[0]) if row else None
    return None
