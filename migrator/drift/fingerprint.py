"""A schema's fingerprint, also the one the runner stored when it last migrated a database.

The fingerprint is a SHA-256 of the normalised schema, so two databases with the same
schema have the same one on any server version that prints it alike. The stored one
lives in the runner's bookkeeping table ``migrator_schema_fingerprint``, one row,
written with the driver alone (the no-op upgrade reads it without SQLAlchemy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any, NamedTuple

import pymysql
from pymysql.constants import ER

from migrator.db.marker import FINGERPRINT_TABLE
from migrator.drift.quick_print import quick_print

if TYPE_CHECKING:
    from datetime import datetime

    from migrator.drift.normalise import Schema

# Bumped whenever normalisation changes: a fingerprint of another format is not compared.
FORMAT = 1

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (
    id TINYINT NOT NULL,
    revision VARCHAR(255) NOT NULL,
    format SMALLINT NOT NULL,
    fingerprint CHAR(64) NOT NULL,
    quick_print CHAR(64) NOT NULL,
    stored_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
)"""
_COLUMNS = "revision, format, fingerprint, quick_print, stored_at"
_READ = f"SELECT {_COLUMNS} FROM {FINGERPRINT_TABLE} WHERE id = 1"  # noqa: S608 - constants


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _compared_fields(kind: type) -> tuple[str, ...] | None:
    """The fields of a dataclass that comparisons look at; None for any other type."""
    if kind not in _FIELDS:
        _FIELDS[kind] = (
            tuple(item.name for item in dataclasses.fields(kind) if item.compare)
            if dataclasses.is_dataclass(kind)
            else None
        )
    return _FIELDS[kind]


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data, with only the fields a comparison looks at.

    A fleet's drift runs this once per database, on every object of its schema: the
    field lists are looked up once per type."""
    if value is None or isinstance(value, str | int | float):
        return value
    names = _compared_fields(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def fingerprint(schema: Schema) -> str:
    """The SHA-256 (hex) of ``schema``: equal fingerprints, equal schemas."""
    canonical = json.dumps(_plain(schema), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def live_fingerprint(connection: pymysql.Connection[Any], database: str) -> tuple[Schema, str]:
    """``database``'s normalised schema as it is now, and its fingerprint."""
    # Imported here: MIGRATE_DRIFT's check on the no-op path needs them only when the
    # quick print differs, and normalising's patterns cost milliseconds to compile.
    from migrator.drift.normalise import normalise
    from migrator.drift.snapshot import read_raw_schema

    schema = normalise(read_raw_schema(connection, database))
    return schema, fingerprint(schema)


class StoredFingerprint(NamedTuple):
    """What the runner recorded: the schema's fingerprint at a revision."""

    revision: str  # alembic_version's rows, comma-separated
    format: int  # how the schema was normalised (FORMAT when this runner stored it)
    fingerprint: str
    quick_print: str  # this server's print of the same schema, see quick_print.py
    stored_at: datetime


def read_stored(connection: pymysql.Connection[Any]) -> StoredFingerprint | None:
    """The stored fingerprint; None when there is none (or no table). Ends its transaction."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(_READ)
            row = cursor.fetchone()
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        row = None
    finally:
        connection.rollback()
    if row is None:
        return None
    return StoredFingerprint(str(row[0]), int(row[1]), str(row[2]), str(row[3]), row[4])


def store(connection: pymysql.Connection[Any], database: str, revision: str, value: str) -> None:
    """Record ``value`` as the schema's fingerprint at ``revision``, with this server's quick
    print of the schema, replacing any other."""
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_TABLE)
    printed = quick_print(connection, database)
    with connection.cursor() as cursor:
        cursor.execute(
            f"REPLACE INTO {FINGERPRINT_TABLE}"  # noqa: S608 - a constant name
            " (id, revision, format, fingerprint, quick_print, stored_at)"
            " VALUES (1, %s, %s, %s, %s, UTC_TIMESTAMP(6))",
            (revision, FORMAT, value, printed),
        )
    connection.commit()
