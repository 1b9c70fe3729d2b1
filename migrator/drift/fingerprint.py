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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql
from pymysql.constants import ER

from migrator.db.marker import FINGERPRINT_TABLE
from migrator.drift.normalise import Schema, normalise
from migrator.drift.snapshot import read_raw_schema

if TYPE_CHECKING:
    from datetime import datetime

# Bumped whenever normalisation changes: a fingerprint of another format is not compared.
FORMAT = 1

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (
    id TINYINT NOT NULL,
    revision VARCHAR(255) NOT NULL,
    format SMALLINT NOT NULL,
    fingerprint CHAR(64) NOT NULL,
    stored_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
)"""


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data, with only the fields a comparison looks at."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: _plain(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if item.compare
        }
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
    schema = normalise(read_raw_schema(connection, database))
    return schema, fingerprint(schema)


@dataclass(frozen=True)
class StoredFingerprint:
    """What the runner recorded: the schema's fingerprint at a revision."""

    revision: str  # alembic_version's rows, comma-separated
    format: int  # how the schema was normalised (FORMAT when this runner stored it)
    fingerprint: str
    stored_at: datetime


def read_stored(connection: pymysql.Connection[Any]) -> StoredFingerprint | None:
    """The stored fingerprint; None when there is none (or no table). Ends its transaction."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT revision, format, fingerprint, stored_at FROM {FINGERPRINT_TABLE}"  # noqa: S608
                " WHERE id = 1"
            )
            row = cursor.fetchone()
    except pymysql.err.ProgrammingError as error:
        if error.args[0] != ER.NO_SUCH_TABLE:
            raise
        row = None
    finally:
        connection.rollback()
    return StoredFingerprint(str(row[0]), int(row[1]), str(row[2]), row[3]) if row else None


def store(connection: pymysql.Connection[Any], revision: str, value: str) -> None:
    """Record ``value`` as the schema's fingerprint at ``revision``, replacing any other."""
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_TABLE)
        cursor.execute(
            f"REPLACE INTO {FINGERPRINT_TABLE}"  # noqa: S608 - a constant name
            " (id, revision, format, fingerprint, stored_at)"
            " VALUES (1, %s, %s, %s, UTC_TIMESTAMP(6))",
            (revision, FORMAT, value),
        )
    connection.commit()
