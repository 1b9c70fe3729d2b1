"""Whether a column's new type may fail to hold a value of its old type: the one judgement
that `plan` shares with the review of a generated revision.

Types are compared as MySQL spells them (``varchar(40)``, ``int unsigned``,
``decimal(10,2)``, ``enum('a','b')``), which is what ``information_schema``
reports and what SQLAlchemy types compile to. A change is a narrowing when some
value of the old type is cut, rounded, refused or rewritten by the new one; a
change this module cannot judge (say, text to a number) counts as narrowing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bytes per character assumed for CHAR/VARCHAR against the byte-sized TEXT types: utf8mb4.
BYTES_PER_CHARACTER = 4

_INTEGER_BYTES = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8}
_TEXT_BYTES = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
_BLOB_BYTES = {"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}
# Digits in the mantissa: an integer of up to this many bits converts exactly.
_FLOAT_BITS = {"float": 24, "double": 53}
_ALIASES = {
    "integer": "int",
    "int4": "int",
    "int8": "bigint",
    "middleint": "mediumint",
    "bool": "tinyint",
    "boolean": "tinyint",
    "real": "double",
    "double precision": "double",
    "numeric": "decimal",
    "dec": "decimal",
    "fixed": "decimal",
    "character varying": "varchar",
    "character": "char",
    "long varchar": "mediumtext",
    "long": "mediumtext",
    "nvarchar": "varchar",
    "nchar": "char",
}
_TYPE = re.compile(r"\s*([a-z]+(?: precision| varying| varchar)?)\s*(?:\((.*)\))?(.*)", re.S)
_ENUM_VALUE = re.compile(r"'((?:[^'\\]|''|\\.)*)'")


@dataclass(frozen=True)
class ColumnType:
    kind: str
    arguments: tuple[str, ...]
    unsigned: bool


def parse(column_type: str) -> ColumnType | None:
    """``column_type`` taken apart; None when it is not a type this module knows how to read."""
    match = _TYPE.match(column_type.lower())
    if match is None:
        return None
    kind, raw_arguments, rest = match.groups()
    kind = _ALIASES.get(kind, kind)
    if kind in {"enum", "set"}:
        arguments = tuple(_ENUM_VALUE.findall(raw_arguments or ""))
    else:
        arguments = tuple(part.strip() for part in (raw_arguments or "").split(",") if part.strip())
    if match.group(1) in {"bool", "boolean"}:
        arguments = ("1",)
    if kind == "float" and len(arguments) == 1:
        # FLOAT(p): MySQL stores p > 24 as DOUBLE.
        kind, arguments = ("double" if int(arguments[0]) > 24 else "float"), ()
    return ColumnType(kind, arguments, "unsigned" in rest.split())


def narrows(old: str, new: str) -> bool:
    """True when some value of column type ``old`` may not survive ``new`` unchanged."""
    before, after = parse(old), parse(new)
    if before is None or after is None:
        return old.strip().lower() != new.strip().lower()
    if before == after:
        return False
    for judge in (_integers, _exact_numbers, _floats, _strings, _binaries, _choices, _times):
        verdict = judge(before, after)
        if verdict is not None:
            return verdict
    return True  # a change of kind this module cannot judge


def _integer_range(column: ColumnType) -> tuple[int, int]:
    bits = 8 * _INTEGER_BYTES[column.kind]
    if column.unsigned:
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _decimal(column: ColumnType) -> tuple[int, int]:
    """Digits before and after the point."""
    precision = int(column.arguments[0]) if column.arguments else 10
    scale = int(column.arguments[1]) if len(column.arguments) > 1 else 0
    return precision - scale, scale


def _integers(before: ColumnType, after: ColumnType) -> bool | None:
    if before.kind not in _INTEGER_BYTES:
        return None
    low, high = _integer_range(before)
    if after.kind in _INTEGER_BYTES:
        new_low, new_high = _integer_range(after)
        return low < new_low or high > new_high
    if after.kind == "decimal":
        whole, _ = _decimal(after)
        return len(str(high)) > whole or (low < 0 and after.unsigned)
    if after.kind in _FLOAT_BITS and not after.arguments:
        return max(high, -low).bit_length() > _FLOAT_BITS[after.kind]
    return True


def _exact_numbers(before: ColumnType, after: ColumnType) -> bool | None:
    if before.kind != "decimal":
        return None
    if after.kind != "decimal":
        return True  # a float rounds, an integer cuts the fraction
    whole, scale = _decimal(before)
    new_whole, new_scale = _decimal(after)
    return new_whole < whole or new_scale < scale or (after.unsigned and not before.unsigned)


def _floats(before: ColumnType, after: ColumnType) -> bool | None:
    if before.kind not in _FLOAT_BITS:
        return None
    if after.kind not in _FLOAT_BITS or (after.unsigned and not before.unsigned):
        return True
    if after.arguments:  # FLOAT(M,D) rounds to D decimals
        return before.arguments == () or _decimal(after) < _decimal(before)
    return _FLOAT_BITS[after.kind] < _FLOAT_BITS[before.kind]


def _characters(column: ColumnType) -> tuple[int, int] | None:
    """The most characters and the most bytes a character column holds."""
    if column.kind in {"char", "varchar"}:
        length = int(column.arguments[0]) if column.arguments else 1
        return length, length * BYTES_PER_CHARACTER
    if column.kind in _TEXT_BYTES:
        size = _TEXT_BYTES[column.kind]
        if column.arguments:  # TEXT(n): the smallest kind that holds n characters
            needed = int(column.arguments[0]) * BYTES_PER_CHARACTER
            size = min((s for s in _TEXT_BYTES.values() if s >= needed), default=size)
        return size, size
    if column.kind == "json":  # MariaDB's JSON is LONGTEXT with a check
        return _TEXT_BYTES["longtext"], _TEXT_BYTES["longtext"]
    return None


def _strings(before: ColumnType, after: ColumnType) -> bool | None:
    old = _characters(before)
    if old is None:
        return None
    new = _characters(after)
    if new is None or after.kind == "json" != before.kind:
        return True  # JSON refuses text that is not JSON
    if after.kind == "char" and before.kind != "char":
        return True  # CHAR drops trailing spaces
    return new[0] < old[0] or new[1] < old[1]


def _binaries(before: ColumnType, after: ColumnType) -> bool | None:
    def size(column: ColumnType) -> int | None:
        if column.kind in {"binary", "varbinary"}:
            return int(column.arguments[0]) if column.arguments else 1
        return _BLOB_BYTES.get(column.kind)

    old = size(before)
    if old is None:
        return None
    new = size(after)
    if new is None or (after.kind == "binary" and before.kind != "binary"):
        return True  # BINARY pads with zero bytes
    return new < old


def _choices(before: ColumnType, after: ColumnType) -> bool | None:
    if before.kind not in {"enum", "set"}:
        return None
    if after.kind == before.kind:
        return not set(before.arguments) <= set(after.arguments)
    if before.kind == "enum":
        longest = max((len(value) for value in before.arguments), default=0)
    else:  # every member, comma-separated
        longest = sum(len(value) + 1 for value in before.arguments)
    return _strings(ColumnType("varchar", (str(longest),), False), after)


_DATE_TIME_RANGE = {"date": 0, "timestamp": 1, "datetime": 2}


def _fraction(column: ColumnType) -> int:
    return int(column.arguments[0]) if column.arguments else 0


def _times(before: ColumnType, after: ColumnType) -> bool | None:
    if before.kind in {"time", "bit"}:  # TIME(fsp), BIT(n)
        return after.kind != before.kind or _fraction(after) < _fraction(before)
    if before.kind not in _DATE_TIME_RANGE:
        return None
    if after.kind not in _DATE_TIME_RANGE or (before.kind, after.kind) == ("date", "timestamp"):
        return True  # TIMESTAMP starts in 1970
    if before.kind == "date":
        return False
    # DATE loses the time of day; TIMESTAMP's range (1970-2038) fits in DATETIME's only.
    return _DATE_TIME_RANGE[after.kind] < _DATE_TIME_RANGE[before.kind] or _fraction(
        after
    ) < _fraction(before)
