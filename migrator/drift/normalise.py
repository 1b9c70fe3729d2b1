"""A schema in one spelling, whatever the server or its version printed.

Both sides of a drift comparison pass through here, so what only differs in how a
server prints it is never drift: integer display widths (``int(11)``), ``utf8``
against ``utf8mb3``, quoting in defaults (MariaDB quotes string defaults, MySQL
does not), ``current_timestamp()`` against ``CURRENT_TIMESTAMP``, the order of
indexes (kept by name, never by position), MariaDB's ``JSON`` (a ``LONGTEXT`` with a
``json_valid`` CHECK), and a view's or a foreign key's own database name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from migrator.db.marker import BOOKKEEPING_TABLES
from migrator.drift.snapshot import RawSchema, Row

# A part of an index: a column name or a normalised expression, descending, prefix length.
Part = tuple[str, bool, "int | None"]

_LITERAL = re.compile(r"'(?:[^'\\]|''|\\.)*'")
_INTRODUCER = re.compile(r"(?<![\w$])_[a-z0-9]+(?=')", re.IGNORECASE)
_DISPLAY_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|bigint|year)\(\d+\)")
_NOW = re.compile(r"\b(?:current_timestamp|now|localtimestamp|localtime)(?:\(\)|(?=\W|$))")
_NOW_PRECISION = re.compile(r"\b(?:current_timestamp|now|localtimestamp|localtime)\((\d)\)")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)
_BIT_OR_HEX = re.compile(r"[bx]'[0-9a-f]*'|0x[0-9a-f]+", re.IGNORECASE)
_NUMERIC_TYPES = frozenset(
    {"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit"}
)
_RULES = {"NO ACTION": "RESTRICT"}  # the same to InnoDB; MySQL 8 prints one, MariaDB the other


@dataclass(frozen=True)
class Default:
    """A column default: a literal value, or an expression (normalised)."""

    expression: bool
    value: str  # the literal's value unquoted, or the normalised expression
    shown: str = field(compare=False)  # as a person reads it in SQL


@dataclass(frozen=True)
class Column:
    type: str  # normalised: lower case outside literals, no display width
    nullable: bool
    default: Default | None
    on_update: str | None
    charset: str | None
    collation: str | None
    generated: tuple[str, str] | None  # (VIRTUAL or STORED, normalised expression)
    comment: str
    auto_increment: bool
    invisible: bool
    generated_shown: str = field(default="", compare=False)

    def type_shown(self) -> str:
        """The type as SQL is usually written: ``VARCHAR(200)``, ``ENUM('a','B')``."""
        return _outside_literals(self.type, str.upper)


@dataclass(frozen=True)
class Index:
    parts: tuple[Part, ...]
    unique: bool
    kind: str  # BTREE, FULLTEXT, SPATIAL, HASH
    visible: bool
    parts_shown: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    referenced_schema: str | None  # None: the database itself
    referenced_table: str
    referenced_columns: tuple[str, ...]
    on_update: str
    on_delete: str


@dataclass(frozen=True)
class Check:
    clause: str  # normalised
    shown: str = field(compare=False)


@dataclass(frozen=True)
class TableOptions:
    engine: str | None
    row_format: str | None
    collation: str | None
    comment: str


@dataclass(frozen=True)
class Table:
    options: TableOptions
    columns: dict[str, Column]
    primary_key: tuple[tuple[str, int | None], ...] | None
    indexes: dict[str, Index]
    foreign_keys: dict[str, ForeignKey]
    checks: dict[str, Check]


@dataclass(frozen=True)
class View:
    definition: str  # normalised
    check_option: str
    shown: str = field(compare=False)


@dataclass(frozen=True)
class Trigger:
    table: str
    timing: str
    event: str


@dataclass(frozen=True)
class Schema:
    """A database's schema as drift compares it."""

    tables: dict[str, Table]
    views: dict[str, View]
    triggers: dict[str, Trigger]


def text(value: Any) -> str:
    """information_schema text, which some servers return as bytes."""
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _outside_literals(source: str, change: Any) -> str:
    """``source`` with ``change`` applied to every part outside quoted literals."""
    pieces: list[str] = []
    position = 0
    for literal in _LITERAL.finditer(source):
        pieces.append(change(source[position : literal.start()]))
        pieces.append(literal.group())
        position = literal.end()
    pieces.append(change(source[position:]))
    return "".join(pieces)


def _compact(part: str) -> str:
    part = part.replace("`", "").lower()
    # Spaces only matter between two words ("is null"); elsewhere servers differ.
    part = re.sub(r"(?<=\w)\s+(?=\w)", " ", part)
    return re.sub(r"\s+", lambda space: " " if space.group() == " " else "", part)


def normalise_expression(source: str, database: str | None = None) -> str:
    """One spelling per expression (defaults, generated columns, CHECKs, views, indexes):
    no backquotes, the database's own name, charset introducers, outer parentheses or
    spaces but between words; lower case outside string literals."""
    if database is not None:
        source = source.replace(f"`{database.replace('`', '``')}`.", "")
    source = _INTRODUCER.sub("", source.replace("\\'", "'"))
    result = _outside_literals(source, _compact).strip()
    result = _NOW_PRECISION.sub(r"current_timestamp(\1)", result)
    result = _NOW.sub("current_timestamp", result)
    while result.startswith("(") and result.endswith(")") and _balanced(result[1:-1]):
        result = result[1:-1]
    return result


def _balanced(source: str) -> bool:
    depth = 0
    for character in _LITERAL.sub("''", source):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return False
    return depth == 0


def normalise_type(column_type: str) -> str:
    """``int(11) unsigned`` → ``int unsigned``; enum values keep their case."""
    lowered = _outside_literals(column_type.strip(), str.lower)
    if "zerofill" in lowered:  # the width means something there
        return lowered
    return _DISPLAY_WIDTH.sub(r"\1", lowered)


def normalise_charset(name: Any) -> str | None:
    """``utf8`` and ``utf8mb3`` are one character set; collations alike."""
    if name is None:
        return None
    value = text(name).lower()
    if value == "utf8":
        return "utf8mb3"
    return "utf8mb3_" + value[5:] if value.startswith("utf8_") else value


def _default(row: Row, mariadb: bool, data_type: str) -> Default | None:
    raw = row["column_default"]
    if raw is None:
        return None
    value = text(raw)
    extra = text(row["extra"]).upper()
    if mariadb:
        if value == "NULL":
            return None
        if len(value) >= 2 and value[0] == value[-1] == "'":
            return _literal(value[1:-1].replace("''", "'"), data_type)
        if _NUMBER.fullmatch(value) or _BIT_OR_HEX.fullmatch(value):
            return _literal(value, data_type)
    elif "DEFAULT_GENERATED" not in extra:
        return _literal(value, data_type)
    expression = normalise_expression(value)
    shown = expression.upper() if expression.startswith("current_timestamp") else f"({value})"
    return Default(True, expression, shown)


def _literal(value: str, data_type: str) -> Default:
    numeric = data_type in _NUMERIC_TYPES or _BIT_OR_HEX.fullmatch(value) is not None
    shown = value if numeric else "'" + value.replace("'", "''") + "'"
    return Default(False, value, shown)


def _on_update(extra: str) -> str | None:
    found = re.search(r"on update (\S+)", extra, re.IGNORECASE)
    return normalise_expression(found.group(1)) if found else None


def _generated(row: Row, extra: str, database: str) -> tuple[tuple[str, str] | None, str]:
    expression = text(row["generation_expression"])
    if "GENERATED" not in extra or not expression:
        return None, ""
    kind = "VIRTUAL" if "VIRTUAL" in extra else "STORED"  # MariaDB once said PERSISTENT
    shown = expression.replace(f"`{database}`.", "")
    return (kind, normalise_expression(expression, database)), shown


def _column(row: Row, mariadb: bool, database: str) -> Column:
    extra = text(row["extra"]).upper()
    data_type = text(row["data_type"]).lower()
    generated, generated_shown = _generated(row, extra, database)
    return Column(
        type=normalise_type(text(row["column_type"])),
        nullable=text(row["is_nullable"]).upper() == "YES",
        default=_default(row, mariadb, data_type),
        on_update=_on_update(text(row["extra"])),
        charset=normalise_charset(row["character_set_name"]),
        collation=normalise_charset(row["collation_name"]),
        generated=generated,
        comment=text(row["column_comment"]),
        auto_increment="AUTO_INCREMENT" in extra,
        invisible="INVISIBLE" in extra,
        generated_shown=generated_shown,
    )


def _indexes(
    rows: list[Row], database: str
) -> tuple[dict[str, Index], tuple[tuple[str, int | None], ...] | None]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        upper = {key.upper(): value for key, value in row.items()}
        grouped.setdefault(text(upper["INDEX_NAME"]), []).append(upper)
    indexes: dict[str, Index] = {}
    primary_key = None
    for name, parts in grouped.items():
        parts.sort(key=lambda part: int(part["SEQ_IN_INDEX"]))
        if name == "PRIMARY":
            primary_key = tuple(
                (text(part["COLUMN_NAME"]), _prefix(part["SUB_PART"])) for part in parts
            )
            continue
        first = parts[0]
        visible = text(first.get("IS_VISIBLE", "YES")).upper() == "YES"
        visible = visible and text(first.get("IGNORED", "NO")).upper() != "YES"
        indexes[name] = Index(
            parts=tuple(_part(part, database) for part in parts),
            unique=not int(first["NON_UNIQUE"]),
            kind=text(first["INDEX_TYPE"]).upper(),
            visible=visible,
            parts_shown=tuple(_part_shown(part, database) for part in parts),
        )
    return indexes, primary_key


def _prefix(sub_part: Any) -> int | None:
    return int(sub_part) if sub_part else None


def _part(part: Row, database: str) -> Part:
    column = part["COLUMN_NAME"]
    what = (
        text(column)
        if column is not None
        else normalise_expression(text(part.get("EXPRESSION")), database)
    )
    return what, text(part["COLLATION"]) == "D", _prefix(part["SUB_PART"])


def _part_shown(part: Row, database: str) -> str:
    column = part["COLUMN_NAME"]
    what = text(column) if column is not None else f"({text(part.get('EXPRESSION'))})"
    prefix = _prefix(part["SUB_PART"])
    return (
        what.replace(f"`{database}`.", "")
        + (f"({prefix})" if prefix else "")
        + (" DESC" if text(part["COLLATION"]) == "D" else "")
    )


def _foreign_keys(rows: list[Row], database: str) -> dict[str, ForeignKey]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(text(row["constraint_name"]), []).append(row)
    keys = {}
    for name, parts in grouped.items():
        parts.sort(key=lambda part: int(part["ordinal_position"]))
        first = parts[0]
        schema = text(first["referenced_table_schema"])
        keys[name] = ForeignKey(
            columns=tuple(text(part["column_name"]) for part in parts),
            referenced_schema=None if schema == database else schema,
            referenced_table=text(first["referenced_table_name"]),
            referenced_columns=tuple(text(part["referenced_column_name"]) for part in parts),
            on_update=_rule(first["update_rule"]),
            on_delete=_rule(first["delete_rule"]),
        )
    return keys


def _rule(rule: Any) -> str:
    value = text(rule).upper()
    return _RULES.get(value, value)


def _by_table(rows: list[Row], key: str = "table_name") -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(text(row[key]), []).append(row)
    return grouped


def normalise(raw: RawSchema) -> Schema:
    """``raw`` in one spelling, without the runner's bookkeeping tables."""
    database = raw.database
    columns = _by_table(raw.columns)
    statistics = _by_table(raw.statistics)
    foreign_keys = _by_table(raw.foreign_keys)
    checks = _by_table(raw.checks)
    tables: dict[str, Table] = {}
    for row in raw.tables:
        name = text(row["table_name"])
        if text(row["table_type"]).upper() != "BASE TABLE" or name in BOOKKEEPING_TABLES:
            continue
        table_columns = {
            text(column["column_name"]): _column(column, raw.mariadb, database)
            for column in columns.get(name, [])
        }
        table_checks = {
            text(check["constraint_name"]): Check(
                normalise_expression(text(check["check_clause"]), database),
                text(check["check_clause"]).replace(f"`{database}`.", ""),
            )
            for check in checks.get(name, [])
        }
        if raw.mariadb:
            _json_columns(table_columns, table_checks)
        indexes, primary_key = _indexes(statistics.get(name, []), database)
        tables[name] = Table(
            options=TableOptions(
                engine=text(row["engine"]) or None,
                row_format=text(row["row_format"]).upper() or None,
                collation=normalise_charset(row["table_collation"]),
                comment=text(row["table_comment"]),
            ),
            columns=table_columns,
            primary_key=primary_key,
            indexes=indexes,
            foreign_keys=_foreign_keys(foreign_keys.get(name, []), database),
            checks=table_checks,
        )
    views = {
        text(row["table_name"]): View(
            normalise_expression(text(row["view_definition"]), database),
            text(row["check_option"]).upper(),
            text(row["view_definition"]).replace(f"`{database}`.", ""),
        )
        for row in raw.views
    }
    triggers = {
        text(row["trigger_name"]): Trigger(
            text(row["event_object_table"]),
            text(row["action_timing"]).upper(),
            text(row["event_manipulation"]).upper(),
        )
        for row in raw.triggers
        if text(row["event_object_table"]) not in BOOKKEEPING_TABLES
    }
    return Schema(tables, views, triggers)


def _json_columns(columns: dict[str, Column], checks: dict[str, Check]) -> None:
    """MariaDB's JSON: a LONGTEXT with a CHECK named after it, ``json_valid(column)``."""
    for name, column in list(columns.items()):
        check = checks.get(name)
        if (
            column.type == "longtext"
            and check is not None
            and check.clause == f"json_valid({name.lower()})"
        ):
            del checks[name]
            columns[name] = replace(column, type="json", charset=None, collation=None)
