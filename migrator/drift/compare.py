"""The differences of a live schema from the migrations' one, each worded as a person reads it.

Every difference names its object (``table``, ``table.column``, ``table.index``, …),
whether the live database lacks it (``missing``), has it beyond the migrations
(``extra``) or has it otherwise (``changed``), and both sides as SQL-like text:
``users.email: VARCHAR(200) live, VARCHAR(255) by the migrations``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from migrator.drift.normalise import (
    Check,
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    TableOptions,
    Trigger,
    View,
)

Kind = Literal["missing", "extra", "changed"]
T = TypeVar("T")


@dataclass(frozen=True)
class Difference:
    """One object that is not as the migrations made it."""

    object: str
    kind: Kind
    live: str | None
    migrations: str | None
    line: str = field(compare=False)  # the text line
    brief: str = field(compare=False)  # the words in a fleet's summary

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "kind": self.kind,
            "live": self.live,
            "migrations": self.migrations,
        }


@dataclass(frozen=True)
class Noun(Generic[T]):
    """How one kind of object reads: its word, its full definition, the words after its
    name in a line, and both sides of a change."""

    word: str
    full: Callable[[T], str]
    detail: Callable[[T], str]
    changes: Callable[[T, T], tuple[str, str]]


def _one_sided(
    kind: Kind, obj: str, noun: Noun[T], name: str, table: str | None, *, value: T
) -> Difference:
    """A missing or extra object: ``orders: extra index ix_orders_created (created_at)``."""
    full, detail = noun.full(value), noun.detail(value)
    named = noun.word if noun is _PRIMARY_KEY else f"{noun.word} {name}"
    words = f"{kind} {named} {detail}".rstrip()
    line = f"{table}: {words}" if table else words
    brief = f"{kind} {named} on {table}" if table else f"{kind} {named}"
    live, migrations = (full, None) if kind == "extra" else (None, full)
    return Difference(obj, kind, live, migrations, line, brief)


def _changed(obj: str, live: str, migrations: str) -> Difference:
    line = f"{obj}: {live} live, {migrations} by the migrations"
    brief = f"{obj} {live} live, {migrations} by the migrations"
    return Difference(obj, "changed", live, migrations, line, brief)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- How each kind of object reads ------------------------------------------------------


def _column_attributes(column: Column, table_collation: str | None) -> dict[str, str]:
    """Each compared attribute of a column as SQL text, in the order a definition has them."""
    collated = column.collation is not None and column.collation != table_collation
    return {
        "type": column.type_shown(),
        "nullable": "NULL" if column.nullable else "NOT NULL",
        "default": f"DEFAULT {column.default.shown}" if column.default else "no default",
        "on_update": f"ON UPDATE {column.on_update.upper()}"
        if column.on_update
        else "no ON UPDATE",
        "charset": f"CHARACTER SET {column.charset}" if column.charset else "no character set",
        "collation": f"COLLATE {column.collation}" if column.collation else "no collation",
        "generated": f"GENERATED ALWAYS AS ({column.generated_shown}) {column.generated[0]}"
        if column.generated
        else "not generated",
        "auto_increment": "AUTO_INCREMENT" if column.auto_increment else "no AUTO_INCREMENT",
        "comment": f"COMMENT {_quoted(column.comment)}" if column.comment else "no comment",
        "invisible": "INVISIBLE" if column.invisible else "VISIBLE",
        "_collated": "yes" if collated else "",
    }


# What a full column definition leaves out when it holds the usual value.
_USUAL = {
    "no default",
    "no ON UPDATE",
    "not generated",
    "no AUTO_INCREMENT",
    "no comment",
    "VISIBLE",
    "no character set",
    "no collation",
}


def _column_definition(column: Column, table_collation: str | None) -> str:
    attributes = _column_attributes(column, table_collation)
    shown = []
    for name, value in attributes.items():
        if name.startswith("_") or value in _USUAL:
            continue
        if name in {"charset", "collation"} and not attributes["_collated"]:
            continue  # the table's own: not worth a word
        shown.append(value)
    return " ".join(shown)


def _column_changes(
    live: Column, wanted: Column, live_table: str | None, table: str | None
) -> tuple[str, str]:
    ours = _column_attributes(live, live_table)
    theirs = _column_attributes(wanted, table)
    differing = [name for name in ours if not name.startswith("_") and ours[name] != theirs[name]]
    if "charset" in differing and "collation" not in differing:
        differing.append("collation")
    return " ".join(ours[n] for n in differing), " ".join(theirs[n] for n in differing)


def _index_definition(index: Index) -> str:
    words = {"BTREE": "", "HASH": ""}.get(index.kind, index.kind + " ")
    unique = "UNIQUE " if index.unique else ""
    hidden = " INVISIBLE" if not index.visible else ""
    return f"{unique}{words}INDEX ({', '.join(index.parts_shown)}){hidden}"


def _reference(key: ForeignKey) -> str:
    table = (
        f"{key.referenced_schema}.{key.referenced_table}"
        if key.referenced_schema
        else key.referenced_table
    )
    return f"({', '.join(key.columns)}) REFERENCES {table} ({', '.join(key.referenced_columns)})"


def _foreign_key_detail(key: ForeignKey) -> str:
    rules = "".join(
        f" ON {action} {rule}"
        for action, rule in (("DELETE", key.on_delete), ("UPDATE", key.on_update))
        if rule != "RESTRICT"
    )
    return _reference(key) + rules


def _foreign_key_changes(live: ForeignKey, wanted: ForeignKey) -> tuple[str, str]:
    pairs = []
    if (_reference(live), live.referenced_schema) != (_reference(wanted), wanted.referenced_schema):
        pairs.append((_reference(live), _reference(wanted)))
    if live.on_delete != wanted.on_delete:
        pairs.append((f"ON DELETE {live.on_delete}", f"ON DELETE {wanted.on_delete}"))
    if live.on_update != wanted.on_update:
        pairs.append((f"ON UPDATE {live.on_update}", f"ON UPDATE {wanted.on_update}"))
    return " ".join(p[0] for p in pairs), " ".join(p[1] for p in pairs)


def _primary_key(columns: tuple[tuple[str, int | None], ...]) -> str:
    parts = ", ".join(f"{name}({prefix})" if prefix else name for name, prefix in columns)
    return f"PRIMARY KEY ({parts})"


def _options(options: TableOptions) -> dict[str, str]:
    return {
        "engine": f"ENGINE={options.engine}",
        "row_format": f"ROW_FORMAT={options.row_format}",
        "collation": f"COLLATE={options.collation}",
        "comment": f"COMMENT={_quoted(options.comment)}" if options.comment else "no comment",
    }


def _table_summary(table: Table) -> str:
    columns = ", ".join(f"{name} {column.type_shown()}" for name, column in table.columns.items())
    return f"TABLE ({columns})"


def _trigger(trigger: Trigger) -> str:
    return f"TRIGGER {trigger.timing} {trigger.event} ON {trigger.table}"


# --- The comparison ------------------------------------------------------------------


def _whole(full: Callable[[T], str]) -> Callable[[T, T], tuple[str, str]]:
    return lambda ours, theirs: (full(ours), full(theirs))


def _index_detail(index: Index) -> str:
    return f"({', '.join(index.parts_shown)})" + ("" if index.visible else " INVISIBLE")


def _check(check: Check) -> str:
    return f"CHECK ({check.shown})"


def _view(view: View) -> str:
    option = "" if view.check_option in {"", "NONE"} else f" WITH {view.check_option} CHECK OPTION"
    return f"AS {view.shown}{option}"


def _columns_noun(live: str | None, wanted: str | None) -> Noun[Column]:
    """Columns read against their table's collation (a column's own is worth a word)."""
    return Noun(
        "column",
        lambda column: _column_definition(column, wanted),
        lambda column: _column_definition(column, wanted),
        lambda ours, theirs: _column_changes(ours, theirs, live, wanted),
    )


PrimaryKey = tuple[tuple[str, int | None], ...]
_PRIMARY_KEY: Noun[PrimaryKey] = Noun(
    "primary key",
    _primary_key,
    lambda key: _primary_key(key)[len("PRIMARY KEY ") :],
    _whole(_primary_key),
)
_INDEX: Noun[Index] = Noun("index", _index_definition, _index_detail, _whole(_index_definition))
_FOREIGN_KEY: Noun[ForeignKey] = Noun(
    "foreign key",
    lambda key: f"FOREIGN KEY {_foreign_key_detail(key)}",
    _foreign_key_detail,
    _foreign_key_changes,
)
_CHECK: Noun[Check] = Noun("check", _check, _check, _whole(_check))
_TABLE: Noun[Table] = Noun(
    "table",
    _table_summary,
    lambda table: _table_summary(table)[len("TABLE ") :],
    _whole(_table_summary),
)
_VIEW: Noun[View] = Noun("view", lambda view: f"VIEW {_view(view)}", lambda _: "", _whole(_view))
_TRIGGER: Noun[Trigger] = Noun(
    "trigger", _trigger, lambda trigger: f"({trigger.timing} {trigger.event})", _whole(_trigger)
)


def _each(
    table: str | None,
    noun: Noun[T],
    live: Mapping[str, T],
    wanted: Mapping[str, T],
    qualify: Callable[[str, T], tuple[str, str | None]] | None = None,
) -> list[Difference]:
    """The differences between two sets of named objects of one kind.

    ``qualify`` gives an object's name in the differences and the table it is on
    (default: ``table.name`` on ``table``, or ``name`` alone without a table)."""
    found = []
    for name in sorted(set(live) | set(wanted)):
        ours, theirs = live.get(name), wanted.get(name)
        either = ours if ours is not None else theirs
        assert either is not None
        if qualify is not None:
            obj, on = qualify(name, either)
        else:
            obj, on = (f"{table}.{name}" if table else name), table
        if ours is None and theirs is not None:
            found.append(_one_sided("missing", obj, noun, name, on, value=theirs))
        elif theirs is None and ours is not None:
            found.append(_one_sided("extra", obj, noun, name, on, value=ours))
        elif ours is not None and theirs is not None and ours != theirs:
            found.append(_changed(obj, *noun.changes(ours, theirs)))
    return found


def compare_tables(name: str, live: Table, wanted: Table) -> list[Difference]:
    """How one table that both sides have differs."""
    found: list[Difference] = []
    ours, theirs = _options(live.options), _options(wanted.options)
    differing = [option for option in ours if ours[option] != theirs[option]]
    if differing:
        found.append(
            _changed(
                name, " ".join(ours[o] for o in differing), " ".join(theirs[o] for o in differing)
            )
        )
    columns = _columns_noun(live.options.collation, wanted.options.collation)
    found += _each(name, columns, live.columns, wanted.columns)
    found += _each(
        name,
        _PRIMARY_KEY,
        {"PRIMARY": live.primary_key} if live.primary_key else {},
        {"PRIMARY": wanted.primary_key} if wanted.primary_key else {},
        lambda key, _: (f"{name}.{key}", name),
    )
    found += _each(name, _INDEX, live.indexes, wanted.indexes)
    found += _each(name, _FOREIGN_KEY, live.foreign_keys, wanted.foreign_keys)
    found += _each(name, _CHECK, live.checks, wanted.checks)
    return found


def compare(live: Schema, wanted: Schema) -> list[Difference]:
    """Every difference between the live schema and what the migrations produce."""
    found: list[Difference] = []
    for name in sorted(set(live.tables) | set(wanted.tables)):
        ours, theirs = live.tables.get(name), wanted.tables.get(name)
        if ours is not None and theirs is not None:
            if ours != theirs:
                found += compare_tables(name, ours, theirs)
        else:
            found += _each(
                None, _TABLE, {name: ours} if ours else {}, {name: theirs} if theirs else {}
            )
    found += _each(None, _VIEW, live.views, wanted.views)
    found += _each(
        None,
        _TRIGGER,
        live.triggers,
        wanted.triggers,
        lambda trigger_name, trigger: (f"{trigger.table}.{trigger_name}", trigger.table),
    )
    return found
