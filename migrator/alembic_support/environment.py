"""What migrations/env.py hands to Alembic: one place for every context option.

The runner puts the live connection, the target metadata and its callbacks in
``Config.attributes``; env.py reads them through these helpers and stays thin.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy
from alembic.autogenerate import render
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.plugins import Plugin
from alembic.util import CommandError, DispatchPriority, PriorityDispatchResult

from migrator.alembic_support import compat
from migrator.autogenerate import indexes
from migrator.db.marker import FINGERPRINT_TABLE, MARKER_TABLE
from migrator.db.online_marker import ONLINE_TABLE
from migrator.process.logs import restore_logging

CONNECTION = "connection"
TARGET_METADATA = "target_metadata"
ON_VERSION_APPLY = "on_version_apply"


def connection(config: Config) -> sqlalchemy.Connection:
    """The runner's connection; env.py never builds an engine of its own."""
    live = config.attributes.get(CONNECTION)
    if not isinstance(live, sqlalchemy.Connection):
        raise CommandError(
            "this env.py takes its connection from the migration runner:"
            " run `python entrypoint.py COMMAND` instead of the alembic CLI"
        )
    return live


def context_options(config: Config) -> dict[str, Any]:
    """Options for ``context.configure``, shared by online and offline runs."""
    restore_logging()  # env.py has imported what it imports by now
    return {
        "target_metadata": config.attributes.get(TARGET_METADATA),
        # Alembic leaves server defaults out of comparisons unless asked.
        "compare_type": compare_type,
        "compare_server_default": compare_server_default,
        # MySQL DDL commits implicitly; one transaction per revision makes the
        # version row advance with each revision rather than once at the end.
        "transaction_per_migration": True,
        # A revision's own imports may reconfigure logging: undone before its line.
        "on_version_apply": [_restore_logging, *config.attributes.get(ON_VERSION_APPLY, ())],
        "include_name": include_name,
        "autogenerate_plugins": ["alembic.autogenerate.*", MYSQL_PLUGIN],
    }


def _restore_logging(**_: Any) -> None:
    restore_logging()


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """ENUMs differ when their values or their order differ (Alembic ignores the order),
    integers when their signedness differs, floats when the server stores them with
    another precision, times when their fractional seconds differ. None leaves the rest
    to Alembic's comparison.
    """
    stored = _stored_type(metadata_type)
    stored_differently = _stored_differently(inspected_type, stored)
    if stored_differently is not None:
        return stored_differently
    if isinstance(inspected_type, sqlalchemy.Enum) and isinstance(metadata_type, sqlalchemy.Enum):
        return list(inspected_type.enums) != list(metadata_type.enums)
    if isinstance(inspected_type, sqlalchemy.Integer) and isinstance(
        metadata_type, sqlalchemy.Integer
    ):
        # Alembic compares integer kinds but not signedness (a generic Integer is signed).
        unsigned = getattr(inspected_type, "unsigned", False)
        if unsigned != getattr(metadata_type, "unsigned", False):
            return True
    if isinstance(metadata_type, sqlalchemy.String) and _collation_differs(
        context, inspected_column, metadata_type
    ):
        return True
    return None


def _stored_type(type_: Any) -> Any:
    """What a TypeDecorator stores; other types are their own."""
    if isinstance(type_, sqlalchemy.TypeDecorator):
        return type_.impl_instance
    return type_


def _stored_differently(inspected_type: Any, stored: Any) -> bool | None:
    """Floats, BLOBs and times compared as the server stores them; None when unsure."""
    if isinstance(inspected_type, sqlalchemy.Float) and isinstance(stored, sqlalchemy.Float):
        return _compare_floats(inspected_type, stored)
    blob = _blob_stored_as(stored)
    if blob is not None and compat.is_binary(inspected_type):
        return type(inspected_type).__name__ != blob
    if type(stored) in {sqlalchemy.Text, sqlalchemy.TEXT} and stored.length:
        return _text_stored_differently(type(inspected_type).__name__, stored.length)
    live_digits, wanted_digits = _fractional_seconds(inspected_type), _fractional_seconds(stored)
    if None not in {live_digits, wanted_digits} and live_digits != wanted_digits:
        return True
    return None


# MySQL stores BLOB(M) as the smallest kind that holds M bytes.
_BLOB_KINDS = ((2**8 - 1, "TINYBLOB"), (2**16 - 1, "BLOB"), (2**24 - 1, "MEDIUMBLOB"))


def _blob_stored_as(type_: Any) -> str | None:
    """The kind of BLOB the server makes of a generic ``LargeBinary(length)``."""
    if type(type_) not in {sqlalchemy.LargeBinary, sqlalchemy.BLOB} or not type_.length:
        return None
    return next((kind for limit, kind in _BLOB_KINDS if type_.length <= limit), "LONGBLOB")


_TEXT_KINDS = ["TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"]


def _text_stored_differently(live_kind: str, length: int) -> bool | None:
    """MySQL stores TEXT(M) as the smallest kind that holds M characters, 1 to 4 bytes
    each depending on the character set: any kind in that range is the same."""
    if live_kind not in _TEXT_KINDS:
        return None

    def kind(size: int) -> int:
        return next((i for i, (limit, _) in enumerate(_BLOB_KINDS) if size <= limit), 3)

    return not kind(length) <= _TEXT_KINDS.index(live_kind) <= kind(4 * length)


def _compare_floats(inspected_type: Any, metadata_type: Any) -> bool | None:
    """MySQL stores `FLOAT(p)` as `FLOAT` up to 24 bits of precision and as `DOUBLE`
    above, so `Float(precision=53)` comes back as `DOUBLE`; None when unsure."""
    if _stores_double(inspected_type) != _stores_double(metadata_type):
        return True
    if not getattr(metadata_type, "scale", None):
        return False  # a binary precision, or REAL, names the storage, which is the same
    return None


def _stores_double(type_: Any) -> bool:
    if isinstance(type_, sqlalchemy.Double | sqlalchemy.REAL):
        return True
    binary_precision = type(type_) in {sqlalchemy.Float, sqlalchemy.FLOAT}
    return binary_precision and (type_.precision or 0) > _FLOAT_BITS


_FLOAT_BITS = 24


def _fractional_seconds(type_: Any) -> int | None:
    """A DATETIME, TIMESTAMP or TIME column's fractional seconds digits (0 to 6).

    Alembic ignores type arguments when one side has none, so DATETIME against
    DATETIME(6) looks equal to it; None for other types.
    """
    if isinstance(type_, sqlalchemy.DateTime | sqlalchemy.Time):
        return int(getattr(type_, "fsp", None) or 0)
    return None


def _collation_differs(context: Any, inspected_column: Any, metadata_type: Any) -> bool:
    """A column's character set or collation differs from the one the schema module states.

    Alembic compares them only when both sides state them, but MySQL reflects them
    only when they differ from the table's default, so a change from the default is
    invisible to it. The server's own record of the column settles it.
    """
    wanted_charset = getattr(metadata_type, "charset", None)
    wanted_collation = getattr(metadata_type, "collation", None)
    if not (wanted_charset or wanted_collation):
        return False
    row = context.connection.execute(
        sqlalchemy.text(
            "SELECT character_set_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = :table AND column_name = :column"
        ),
        {"table": inspected_column.table.name, "column": inspected_column.name},
    ).first()
    if row is None:
        return False
    charset, collation = (_utf8mb3(value) for value in row)
    wanted_charset, wanted_collation = _utf8mb3(wanted_charset), _utf8mb3(wanted_collation)
    return bool(
        (wanted_charset and wanted_charset.lower() != (charset or "").lower())
        or (wanted_collation and wanted_collation.lower() != (collation or "").lower())
    )


def _utf8mb3(name: str | None) -> str:
    """MySQL reports `utf8` (and `utf8_*` collations) by their real name, utf8mb3."""
    text = (name or "").lower()
    return "utf8mb3" + text[4:] if text == "utf8" or text.startswith("utf8_") else text


_CURRENT_TIMESTAMP = {"current_timestamp", "current_timestamp()", "now()", "localtimestamp"}
_PRECISE_TIMESTAMP = re.compile(r"(?:current_timestamp|now|localtimestamp)\s*\(\s*(\d+)\s*\)")
_BOOLEANS = {"true": "1", "false": "0"}
# A quoted literal, or a run of anything else; quotes inside a literal are doubled.
_LITERAL_OR_CODE = re.compile(r"('(?:[^']|'')*')|([^']+)")
# MySQL 8.0+ writes a character set introducer before string literals in expressions.
_INTRODUCER = re.compile(r"(?:^|(?<=[^\w$]))_[a-z0-9]+$", re.IGNORECASE)


def normalize_default(default: str | None, *, numeric: bool) -> str | None:
    """One spelling per server default: MySQL 8 and MariaDB report the same default as
    `'0'`, `0`, `0.00` or `(0)`, `CURRENT_TIMESTAMP` as `current_timestamp()`, and an
    expression as `(json_array())` or `JSON_ARRAY()`.

    ``numeric`` is for number columns only: `'1.10'` and `'1.1'` are one number but
    two strings.
    """
    if default is None:
        return None
    # `CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP` comes back as one default text.
    parts = re.split(r"\s+on\s+update\s+", default.strip(), flags=re.IGNORECASE)
    if len(parts) > 1:
        return " on update ".join(str(normalize_default(part, numeric=numeric)) for part in parts)
    text = _without_introducers(default.strip())
    while len(text) >= 2 and text[0] == "(" and text[-1] == ")":
        text = text[1:-1].strip()
    # Function names and keywords are case-insensitive, quoted literals are not.
    text = text[1:-1].replace("''", "'") if _is_one_literal(text) else _lowercase_code(text)
    lowered = text.lower()
    if lowered in _CURRENT_TIMESTAMP:
        return "current_timestamp"
    precise = _PRECISE_TIMESTAMP.fullmatch(lowered)
    if precise:  # CURRENT_TIMESTAMP(6), now(6)
        return f"current_timestamp({precise.group(1)})"
    return _normalize_number(_BOOLEANS.get(lowered, text)) if numeric else text


def _normalize_number(text: str) -> str:
    try:
        return str(Decimal(text).normalize()) if text else text
    except InvalidOperation:
        return text


def _is_one_literal(text: str) -> bool:
    match = _LITERAL_OR_CODE.match(text)
    return match is not None and match.group(1) is not None and match.end() == len(text)


def _without_introducers(text: str) -> str:
    """``text`` without the `_utf8mb4` before its literals: `(_utf8mb4'')` is `('')`."""
    return "".join(
        literal if literal else _INTRODUCER.sub("", code) if text[end:].startswith("'") else code
        for literal, code, end in (
            (match.group(1), match.group(2), match.end())
            for match in _LITERAL_OR_CODE.finditer(text)
        )
    )


def _lowercase_code(text: str) -> str:
    """``text`` lowercased outside its quoted literals, with its whitespace collapsed."""
    return "".join(
        literal if literal else re.sub(r"\s+", " ", code.lower())
        for literal, code in _LITERAL_OR_CODE.findall(text)
    )


def _is_numeric(type_: Any) -> bool:
    numbers = (sqlalchemy.Integer, sqlalchemy.Numeric, sqlalchemy.Float, sqlalchemy.Boolean)
    return isinstance(_stored_type(type_), numbers)


def compare_server_default(  # noqa: PLR0917 - the signature is Alembic's
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool:
    """True when the server defaults really differ, after normalising both spellings."""
    numeric = _is_numeric(metadata_column.type)
    wanted = rendered_metadata_default
    if isinstance(getattr(metadata_default, "arg", None), str) and wanted is not None:
        # A plain string server_default is a value, which SQLAlchemy sends as a quoted
        # literal: compare it as one, quotes and case kept.
        wanted = "'" + wanted.replace("'", "''") + "'"
    return normalize_default(inspected_default, numeric=numeric) != normalize_default(
        wanted, numeric=numeric
    )


def compare_autoincrement(  # noqa: PLR0917 - the signature is Alembic's
    autogen_context: Any,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    table_name: str,
    column_name: str,
    inspected_column: sqlalchemy.Column[Any],
    metadata_column: sqlalchemy.Column[Any],
) -> PriorityDispatchResult:
    """AUTO_INCREMENT added or removed: Alembic renders the flag but never compares it."""
    inspected = inspected_column.autoincrement is True
    wanted = (
        compat.is_autoincrement_column(metadata_column) or metadata_column.autoincrement is True
    )
    if inspected != wanted:
        # modify_/existing_ pairs mark a change and are swapped for the downgrade.
        alter_column_op.kw["modify_autoincrement"] = wanted
        alter_column_op.kw["existing_autoincrement"] = inspected
    return PriorityDispatchResult.CONTINUE


def compare_computed_first(  # noqa: PLR0917 - the signature is Alembic's
    autogen_context: Any,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    table_name: str,
    column_name: str,
    inspected_column: sqlalchemy.Column[Any],
    metadata_column: sqlalchemy.Column[Any],
) -> PriorityDispatchResult:
    """Generated columns go to Alembic's computed comparison before the server-default
    callable, which Alembic would otherwise hand a Computed it cannot read (`.arg`)."""
    if isinstance(inspected_column.server_default, sqlalchemy.Computed) or isinstance(
        metadata_column.server_default, sqlalchemy.Computed
    ):
        return compat.compare_computed_default(
            autogen_context,
            alter_column_op,
            schema,
            table_name,
            column_name,
            inspected_column,
            metadata_column,
        )
    return PriorityDispatchResult.CONTINUE


def _render_alter_column(autogen_context: Any, op: ops.AlterColumnOp) -> str:
    # Alembic renders `autoincrement=` from the metadata on every alter_column;
    # for an AUTO_INCREMENT change it must follow the direction of the change.
    if "modify_autoincrement" in op.kw:
        op.kw["autoincrement"] = op.kw["modify_autoincrement"]
    return compat.render_alter_column(autogen_context, op)


MYSQL_PLUGIN = "migrator.mysql"
if not compat.plugin_registered(MYSQL_PLUGIN):
    plugin = Plugin(MYSQL_PLUGIN)
    plugin.add_autogenerate_comparator(
        compare_autoincrement, "column", "autoincrement", priority=DispatchPriority.LAST
    )
    for dialect in ("mysql", "mariadb"):  # a dialect's comparators run before the defaults
        plugin.add_autogenerate_comparator(
            compare_computed_first,
            "column",
            "server_default",
            qualifier=dialect,
            priority=DispatchPriority.FIRST,
        )
    # After Alembic's own index comparison, which they correct.
    plugin.add_autogenerate_comparator(
        indexes.compare_indexes, "table", "indexes", priority=DispatchPriority.LAST
    )
    plugin.add_autogenerate_comparator(
        indexes.compare_primary_key, "table", "primary_key", priority=DispatchPriority.LAST
    )
    render.renderers.dispatch_for(ops.AlterColumnOp, replace=True)(_render_alter_column)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave the runner's own bookkeeping tables out of autogenerate and check."""
    return not (type_ == "table" and name in {MARKER_TABLE, ONLINE_TABLE, FINGERPRINT_TABLE})
