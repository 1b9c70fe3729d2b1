"""MIGRATE_DRIFT at pod start: the live schema's fingerprint against the one stored last time.

Driver-only, so that the no-op upgrade stays free of SQLAlchemy, Alembic and
pydantic. A stored fingerprint is trusted only when the runner stored it on a schema
it had found as the migrations made it: after `drift` found the database clean, or
after an upgrade that started from such a schema (or from an empty database).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrator.db import marker
from migrator.drift.fingerprint import (
    FORMAT,
    StoredFingerprint,
    live_fingerprint,
    read_stored,
    store,
)
from migrator.drift.quick_print import quick_print
from migrator.errors import SchemaDrift
from migrator.process.logs import get_logger

if TYPE_CHECKING:
    import pymysql

    from migrator.settings.config import DriftPolicy

log = get_logger()

REMEDY = (
    "run `drift` to see what differs; then write a revision that makes it official,"
    " or revert the manual change"
)


def check_at_start(connection: pymysql.Connection[Any], database: str, policy: DriftPolicy) -> bool:
    """Compare the live schema with the stored fingerprint before anything runs.

    Returns whether the schema is known to be what the migrations made (so that the
    fingerprint may be stored again once they have run). Under ``warn`` a mismatch is
    one warning line; under ``fail`` it raises SchemaDrift (exit 12).
    """
    if policy == "off":
        return False
    current, running = marker.read_with_version(connection)
    if running is not None:
        return False  # the full path says what to do about a revision half-applied
    revision = ",".join(current or ())
    stored = read_stored(connection)
    if (
        stored is not None
        and (stored.format, stored.revision) == (FORMAT, revision)
        and stored.quick_print == quick_print(connection, database)
    ):
        # The same rows as when the print was stored: the same schema, for one query.
        log.debug(
            "MIGRATE_DRIFT: the schema is as the runner left it", extra={"revision": revision}
        )
        return True
    return _compare_in_full(connection, database, policy, stored, revision)


def _compare_in_full(
    connection: pymysql.Connection[Any],
    database: str,
    policy: DriftPolicy,
    stored: StoredFingerprint | None,
    revision: str,
) -> bool:
    """The schema read and normalised in full, against the stored fingerprint: the quick
    print differed, or none was stored, and a server upgrade may print an unchanged
    schema differently."""
    schema, live = live_fingerprint(connection, database)
    if stored is None:
        # An empty database is what the migrations make from nothing.
        return (not revision and not (schema.tables or schema.views or schema.triggers)) or _say(
            "MIGRATE_DRIFT: no schema fingerprint is stored for this database (it was last"
            " migrated without MIGRATE_DRIFT): run `drift` once with MIGRATE_DRIFT set to"
            " compare it with its migrations and store one",
            revision,
        )
    if stored.format != FORMAT or stored.revision != revision:
        return _say(
            "MIGRATE_DRIFT: the stored schema fingerprint is for another revision or runner"
            f" release ({stored.revision or 'base'}), so it was not compared: run `drift` with"
            " MIGRATE_DRIFT set to store a new one",
            revision,
        )
    if stored.fingerprint == live:
        log.debug(
            "MIGRATE_DRIFT: the schema is as the runner left it", extra={"revision": revision}
        )
        return True
    message = (
        f"the live schema changed since the runner last migrated it at revision"
        f" {revision or 'base'} ({stored.stored_at:%Y-%m-%d %H:%M:%S} UTC): {REMEDY}"
    )
    if policy == "fail":
        raise SchemaDrift(message + " (MIGRATE_DRIFT=fail)")
    return _say(message, revision)


def _say(message: str, revision: str) -> bool:
    """One warning line; the schema is then not known to be the migrations' own."""
    log.warning(message, extra={"revision": revision or "base"})
    return False


def store_after_migration(connection: pymysql.Connection[Any], database: str) -> None:
    """Store the fingerprint of the schema the revisions just produced (the caller knows
    that they started from a trusted one); nothing while a revision is half-applied."""
    current, running = marker.read_with_version(connection)
    if running is not None:
        return
    _, live = live_fingerprint(connection, database)
    store(connection, database, ",".join(current or ()), live)
