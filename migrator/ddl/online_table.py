"""What pt-online-schema-change needs of a statement and its table, and what it leaves behind.

A statement becomes the tool's ``--alter`` clause list, or is refused with the
reason: a rename (the tool copies columns by name), a change of the primary key
its triggers use, a table it cannot copy row by row (no primary key or non-null
unique key), one whose triggers or foreign keys it would lose or rename. The
tool's leftovers are named here too: its three triggers and its ``_<table>_new``
and ``_<table>_old`` tables, which :func:`remove_leftovers` drops.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
from pymysql.constants import ER

from migrator.ddl.statements import Statement, alter_items
from migrator.errors import AccessDenied

MAX_NAME = 64
# The server's refusal to create a trigger with binary logging on, without SUPER
# (ER_BINLOG_CREATE_ROUTINE_NEED_SUPER).
PRIVILEGE_ERRORS = frozenset(
    {ER.DBACCESS_DENIED_ERROR, ER.TABLEACCESS_DENIED_ERROR, ER.SPECIFIC_ACCESS_DENIED_ERROR}
)


def copy_name(table: str) -> str:
    """The tool's copy of the table, named by its --new-table-name (no prefixes tried)."""
    return f"_{table}_new"


def old_name(table: str) -> str:
    """The original table after the swap, until the tool drops it."""
    return f"_{table}_old"


def trigger_names(database: str, table: str) -> list[str]:
    """The tool's triggers on the table, as it names them (pt_osc_<db>_<table>_ins …)."""
    prefix = re.sub(r"\W", "_", f"pt_osc_{database}_{table}", flags=re.ASCII)[:60]
    return [f"{prefix}_{event}" for event in ("ins", "upd", "del")]


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def translate(parsed: Statement, database: str) -> tuple[str, str | None]:
    """(the tool's --alter, None) for a statement it can run; ("", why not) otherwise."""
    why = next(_refusals(parsed, database), None)
    if why is not None or parsed.alterable is None:
        return "", why or "it is not an ALTER TABLE, CREATE INDEX or DROP INDEX"
    return parsed.alterable[1], None


def _refusals(parsed: Statement, database: str) -> Iterator[str]:
    if parsed.alterable is None or parsed.table is None:
        yield "it is not an ALTER TABLE, CREATE INDEX or DROP INDEX"
        return
    if parsed.schema is not None and parsed.schema != database:
        yield f"it changes a table of another database ({parsed.schema})"
    if "," in database or "," in parsed.table or "=" in parsed.table:
        yield "the tool's DSN cannot name a table or database with `,` or `=` in its name"
    if len(old_name(parsed.table)) > MAX_NAME:
        yield f"the tool's copy `{copy_name(parsed.table)}` would be over 64 characters"
    clauses = parsed.alterable[1]
    if not clauses.strip():
        yield "it has no clause to run"
    for item in alter_items(clauses):
        words = [word.upper() for word in item]
        renamed = words[:1] == ["RENAME"] and words[1:2] in (["COLUMN"], [])
        if words[:1] == ["CHANGE"]:
            names = item[2:4] if words[1:2] == ["COLUMN"] else item[1:3]
            renamed = len(names) == 2 and names[0].lower() != names[1].lower()
        if renamed:
            yield "it renames a column, and the tool copies columns by name"
        elif words[:1] == ["RENAME"] and words[1:2] not in (["INDEX"], ["KEY"]):
            yield "it renames the table"
        elif "PRIMARY" in words[:3] and words[:1] in (["DROP"], ["ADD"]):
            yield "it changes the primary key, which the tool's triggers use"


def table_refusal(cursor: Any, database: str, table: str) -> str | None:
    """Why the tool cannot change ``table`` safely; None when it can."""
    cursor.execute(
        "SELECT s.index_name, MAX(c.is_nullable = 'YES') FROM information_schema.statistics s"
        " JOIN information_schema.columns c ON c.table_schema = s.table_schema"
        " AND c.table_name = s.table_name AND c.column_name = s.column_name"
        " WHERE s.table_schema = %s AND s.table_name = %s AND s.non_unique = 0"
        " GROUP BY s.index_name",
        (database, table),
    )
    if not any(not nullable for _, nullable in cursor.fetchall()):
        return (
            "it has no primary key and no unique key on NOT NULL columns, which the tool needs"
            " to copy rows in chunks and to find them again in its triggers"
        )
    cursor.execute(
        "SELECT trigger_name FROM information_schema.triggers"
        " WHERE event_object_schema = %s AND event_object_table = %s",
        (database, table),
    )
    triggers = sorted(str(row[0]) for row in cursor.fetchall())
    if triggers:
        return (
            f"it has triggers of its own ({', '.join(triggers)}), which the tool would"
            " lose with the original table"
        )
    cursor.execute(
        "SELECT DISTINCT table_schema, table_name, referenced_table_name"
        " FROM information_schema.key_column_usage WHERE referenced_table_name IS NOT NULL"
        " AND ((table_schema = %s AND table_name = %s)"
        " OR (referenced_table_schema = %s AND referenced_table_name = %s))",
        (database, table, database, table),
    )
    keys = cursor.fetchall()
    children = sorted(f"{row[0]}.{row[1]}" for row in keys if row[2] == table)
    if children:
        return (
            f"foreign keys of {', '.join(children)} reference it: the runner does not let the"
            " tool rewrite other tables' keys"
        )
    if keys:
        return (
            "it has foreign keys, which the tool's copy would get under other names"
            " (`fk` becomes `_fk`), so the schema would no longer match the revision"
        )
    return None


def definition_digest(cursor: Any, table: str) -> str:
    """A digest of the table's definition, without its AUTO_INCREMENT counter."""
    cursor.execute(f"SHOW CREATE TABLE {quoted(table)}")
    definition = re.sub(r" AUTO_INCREMENT=\d+", "", str(cursor.fetchone()[1]))
    return hashlib.sha256(definition.encode()).hexdigest()


def existing(cursor: Any, database: str, names: list[str]) -> list[str]:
    """Which of ``names`` are tables of the database."""
    cursor.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"  # noqa: S608
        f" AND table_name IN ({', '.join(['%s'] * len(names))})",
        (database, *names),
    )
    return sorted(str(row[0]) for row in cursor.fetchall())


def triggers_left(cursor: Any, database: str, table: str) -> list[str]:
    names = trigger_names(database, table)
    cursor.execute(
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s"  # noqa: S608
        f" AND trigger_name IN ({', '.join(['%s'] * len(names))})",
        (database, *names),
    )
    return sorted(str(row[0]) for row in cursor.fetchall())


def swapped(cursor: Any, database: str, table: str, digest_before: str) -> bool:
    """Whether the tool swapped its copy in: the copy is gone, and the table's definition
    is no longer the one it had before the change."""
    if existing(cursor, database, [copy_name(table)]):
        return False  # the swap renames the copy to the table in the same statement
    if not existing(cursor, database, [table]):
        return False
    return definition_digest(cursor, table) != digest_before


def remove_leftovers(cursor: Any, database: str, table: str) -> list[str]:
    """Drop the tool's triggers, then its copy and the swapped-out original; what was
    dropped. Triggers first: while they exist, a write to the table also writes the copy."""
    removed = []
    for trigger in triggers_left(cursor, database, table):
        cursor.execute(f"DROP TRIGGER IF EXISTS {quoted(trigger)}")
        removed.append(f"trigger {trigger}")
    for name in existing(cursor, database, [copy_name(table), old_name(table)]):
        cursor.execute(f"DROP TABLE IF EXISTS {quoted(name)}")
        removed.append(f"table {name}")
    return removed


def probe_privileges(cursor: Any) -> None:
    """Create, then drop, a table with a trigger, as the tool will: AccessDenied naming the
    privilege or setting the server asks for. Commits, as DDL does."""
    probe = f"_migrator_probe_{uuid.uuid4().hex[:8]}"
    try:
        cursor.execute(f"CREATE TABLE {quoted(probe)} (id INT PRIMARY KEY)")
        try:
            cursor.execute(
                f"CREATE TRIGGER {quoted(probe + '_t')} AFTER INSERT ON {quoted(probe)}"
                " FOR EACH ROW SET @migrator_probe = 1"
            )
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {quoted(probe)}")
    except pymysql.err.MySQLError as error:
        code = error.args[0] if error.args else None
        message = str(error.args[1]) if len(error.args) > 1 else str(error)
        if code == ER.BINLOG_CREATE_ROUTINE_NEED_SUPER:
            raise AccessDenied(
                "MIGRATE_BLOCKING_DDL=online: pt-online-schema-change creates triggers, and with"
                " binary logging on the server allows that only to a user with SUPER or when"
                f" log_bin_trust_function_creators=1 ({code}: {message}); nothing was run:"
                " grant it or set it (see the README's Grants), or use another policy"
            ) from None
        if code in PRIVILEGE_ERRORS:
            raise AccessDenied(
                "MIGRATE_BLOCKING_DDL=online: pt-online-schema-change needs CREATE, DROP,"
                f" ALTER and TRIGGER on the database ({code}: {message}); nothing was run"
            ) from None
        raise
