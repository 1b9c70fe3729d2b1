"""The differences between a live schema and the migrations' one, each worded as a person reads it.

Every difference names its object (``table``, ``table.column``, ``table.index``, …),
whether the live database lacks it (``missing``), has it beyond the migrations
(``extra``) or has it otherwise (``changed``), and both sides as SQL-like text:
``users.email: VARCHAR(200) live, VARCHAR(255) by the migrations``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

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


def _one_sided(
    kind: Kind, noun: str, name: str, table: str | None, full: str, detail: str, obj: str
) -> Difference:
    """A missing or extra object: ``orders: extra index ix_orders_created (created_at)``."""
    named = f"{noun} {name}" if name else noun
    words = f"{kind} {named} {detail}".rstrip()
    line = f"{table}: {words}" if table else words
    brief = f"{kind} {named} on {table}" if table else f"{kind} {named}"
    live, migrations = (full, None) if kind == "extra" else (None, full)
    return Difference(obj, kind, live, migrations, line, brief)


def _changed(obj: str, live: str, migrations: str) -> Difference:
    line = f"{obj}: {live} live, {migrations} by the migrations"
    return Difference(obj, "changed", live, migrations, line, line)


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


def _column_changes(live: Column, wanted: Column, live_table: str | None, table: str | None) -> tuple[str, str]:
    ours = _column_attributes(live, live_table)
    theirs = _column_attributes(wanted, table)
    differing = [
        name
        for name in ours
        if not name.startswith("_") and ours[name] != theirs[name]
    ]
    if "charset" in differing and "collation" not in differing:
        differing.append("collation")
    return " ".join(ours[n] for n in differing), " ".join(theirs[n] for n in differing)


def _index_definition(index: Index) -> str:
    words = {"BTREE": "", "HASH": ""}.get(index.kind, index.kind + " ")
    unique = "UNIQUE " if index.unique else ""
    hidden = " INVISIBLE" if not index.visible else ""
    return f"{unique}{words}INDEX ({', '.join(index.parts_shown)}){hidden}"


def _reference(key: ForeignKey) -> str:
    table = f"{key.referenced_schema}.{key.referenced_table}" if key.referenced_schema else key.referenced_table
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


def _primary_key(columns: tuple[tuple[str, int | None], ...] | None) -> str:
    if columns is None:
        return "no primary key"
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


def _pairs(live: Mapping[str, T], wanted: Mapping[str, T]) -> Iterable[tuple[str, T | None, T | None]]:
    for name in sorted(set(live) | set(wanted)):
        yield name, live.get(name), wanted.get(name)


def _each(
    table: str,
    noun: str,
    live: Mapping[str, T],
    wanted: Mapping[str, T],
    full: Callable[[T], str],
    detail: Callable[[T], str],
    changes: Callable[[T, T], tuple[str, str]],
) -> list[Difference]:
    found = []
    for name, ours, theirs in _pairs(live, wanted):
        obj = f"{table}.{name}"
        if ours is None and theirs is not None:
            found.append(_one_sided("missing", noun, name, table, full(theirs), detail(theirs), obj))
        elif theirs is None and ours is not None:
            found.append(_one_sided("extra", noun, name, table, full(ours), detail(ours), obj))
        elif ours != theirs and ours is not None and theirs is not None:
            found.append(_changed(obj, *changes(ours, theirs)))
    return found


def _whole(full: Callable[[T], str]) -> Callable[[T, T], tuple[str, str]]:
    return lambda ours, theirs: (full(ours), full(theirs))


def compare_tables(name: str, live: Table, wanted: Table) -> list[Difference]:
    """How one table that both sides have differs."""
    found: list[Difference] = []
    ours, theirs = _options(live.options), _options(wanted.options)
    differing = [option for option in ours if ours[option] != theirs[option]]
    if differing:
        found.append(
            _changed(name, " ".join(ours[o] for o in differing), " ".join(theirs[o] for o in differing))
        )
    live_collation, collation = live.options.collation, wanted.options.collation
    found += _each(
        name,
        "column",
        live.columns,
        wanted.columns,
        lambda column: _column_definition(column, collation),
        lambda column: _column_definition(column, collation),
        lambda a, b: _column_changes(a, b, live_collation, collation),
    )
    if live.primary_key != wanted.primary_key:
        obj = f"{name}.PRIMARY"
        if live.primary_key is None:
            found.append(_one_sided("missing", "primary key", "", name, _primary_key(wanted.primary_key), _primary_key(wanted.primary_key), obj))
        elif wanted.primary_key is None:
            found.append(_one_sided("extra", "primary key", "", name, _primary_key(live.primary_key), _primary_key(live.primary_key), obj))
        else:
            found.append(_changed(obj, _primary_key(live.primary_key), _primary_key(wanted.primary_key)))
    found += _each(name, "index", live.indexes, wanted.indexes, _index_definition, _index_detail, _whole(_index_definition))
    found += _each(
        name,
        "foreign key",
        live.foreign_keys,
        wanted.foreign_keys,
        lambda key: f"FOREIGN KEY {_foreign_key_detail(key)}",
        _foreign_key_detail,
        _foreign_key_changes,
    )
    found += _each(name, "check", live.checks, wanted.checks, _check, _check, _whole(_check))
    return found


def _index_detail(index: Index) -> str:
    return f"({', '.join(index.parts_shown)})" + ("" if index.visible else " INVISIBLE")


def _check(check: Check) -> str:
    return f"CHECK ({check.shown})"


def _view(view: View) -> str:
    option = "" if view.check_option in {"", "NONE"} else f" WITH {view.check_option} CHECK OPTION"
    return f"AS {view.shown}{option}"


def compare(live: Schema, wanted: Schema) -> list[Difference]:
    """Every difference between the live schema and what the migrations produce."""
    found: list[Difference] = []
    for name, ours, theirs in _pairs(live.tables, wanted.tables):
        if ours is None and theirs is not None:
            found.append(_one_sided("missing", "table", name, None, _table_summary(theirs), _table_summary(theirs)[6:], name))
        elif theirs is None and ours is not None:
            found.append(_one_sided("extra", "table", name, None, _table_summary(ours), _table_summary(ours)[6:], name))
        elif ours is not None and theirs is not None and ours != theirs:
            found += compare_tables(name, ours, theirs)
    for name, ours_view, theirs_view in _pairs(live.views, wanted.views):
        if ours_view is None and theirs_view is not None:
            found.append(_one_sided("missing", "view", name, None, f"VIEW {_view(theirs_view)}", "", name))
        elif theirs_view is None and ours_view is not None:
            found.append(_one_sided("extra", "view", name, None, f"VIEW {_view(ours_view)}", "", name))
        elif ours_view != theirs_view and ours_view is not None and theirs_view is not None:
            found.append(_changed(name, _view(ours_view), _view(theirs_view)))
    for name, ours_trigger, theirs_trigger in _pairs(live.triggers, wanted.triggers):
        table = (ours_trigger or theirs_trigger).table  # type: ignore[union-attr]
        obj = f"{table}.{name}"
        if ours_trigger is None and theirs_trigger is not None:
            found.append(_one_sided("missing", "trigger", name, table, _trigger(theirs_trigger), f"({theirs_trigger.timing} {theirs_trigger.event})", obj))
        elif theirs_trigger is None and ours_trigger is not None:
            found.append(_one_sided("extra", "trigger", name, table, _trigger(ours_trigger), f"({ours_trigger.timing} {ours_trigger.event})", obj))
        elif ours_trigger != theirs_trigger and ours_trigger is not None and theirs_trigger is not None:
            found.append(_changed(obj, _trigger(ours_trigger), _trigger(theirs_trigger)))
    return found
