"""The verbs that change only the record of revisions, under the lock: stamp, baseline, resolve."""

from __future__ import annotations

import sqlalchemy
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from migrator.alembic_support import compat
from migrator.alembic_support.scripts import (
    alembic_config,
    current_heads,
    known,
    load_scripts,
    require_known,
    revisions,
    running_env_py,
)
from migrator.core.inspection import user_tables
from migrator.core.session import LockedSession
from migrator.db import marker
from migrator.db.connection import ConnectionSettings
from migrator.db.engine import driver_connection
from migrator.errors import ConfigError, MigrationFailed
from migrator.process.logs import get_logger
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

log = get_logger()


def stamp(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    revision: str,
) -> None:
    """Record ``revision`` as applied without running any migration."""
    script = load_scripts(project, single_head=False)
    try:  # before the login: Alembic would create alembic_version, then fail
        script.get_revisions(revision)
    except CommandError as error:
        raise ConfigError(f"cannot stamp {revision!r}: {error}") from None
    with (
        LockedSession.login(connection_settings, options) as session,
        session.sqlalchemy() as connection,
    ):
        session.acquire()
        before = current_heads(connection)
        try:
            with running_env_py(project):
                command.stamp(alembic_config(project, connection=connection), revision)
        except CommandError as error:
            raise ConfigError(f"cannot stamp {revision!r}: {error}") from None
        after = current_heads(connection)
    log.info("stamped", extra={"from": revisions(before), "to": revisions(after)})


def baseline(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    revision: str,
    *,
    replace_foreign: bool,
) -> None:
    """Adopt an existing database: record ``revision`` as the one its schema already has.

    Only for a database with tables and no revision these migrations know; a
    foreign alembic_version (from other migrations) is replaced only when
    ``replace_foreign`` says so. `check` then proves that the schema matches.
    Every check comes before the one write, so a refusal leaves the database as it was.
    """
    script = load_scripts(project, single_head=False)
    adopted = _baseline_revisions(script, revision)  # before any login: a typo is only a typo
    with (
        LockedSession.login(connection_settings, options) as session,
        session.sqlalchemy() as connection,
    ):
        session.acquire()
        current = current_heads(connection)
        _refuse_baseline(script, current, project, connection, replace_foreign=replace_foreign)
        _record_baseline(connection, adopted)
    log.info(
        "recorded the baseline: run `check` to confirm that the schema matches the schema module",
        extra={"revision": revisions(adopted), "replaced": revisions(current)},
    )


def _baseline_revisions(script: ScriptDirectory, revision: str) -> tuple[str, ...]:
    """The revision ids ``revision`` names (an id, a prefix, `head`, `heads`)."""
    try:
        named = script.get_revisions(revision)
    except CommandError as error:
        raise ConfigError(f"cannot baseline at {revision!r}: {error}") from None
    # A relative name that reaches past the first revision (`-2` of two) resolves to the
    # string 'base': no revision to adopt.
    adopted = tuple(sorted(found.revision for found in named if isinstance(found, Script)))
    if not adopted:
        raise ConfigError(
            f"cannot baseline at {revision!r}: name the revision the schema matches"
            " (base adopts nothing; upgrade builds an empty database)"
        )
    return adopted


def _refuse_baseline(
    script: ScriptDirectory,
    current: tuple[str, ...],
    project: Project,
    connection: sqlalchemy.Connection,
    *,
    replace_foreign: bool,
) -> None:
    """Raise unless the database is one to adopt; reads only."""
    ours = [head for head in current if known(script, head)]
    if ours:
        raise ConfigError(
            f"the database is already at {revisions(ours)}, a revision of these migrations:"
            " there is nothing to adopt (upgrade migrates it; stamp moves its record)"
        )
    if current and marker.table_exists(connection):
        # This runner's own record, from a newer release: --replace-foreign would rewind it.
        require_known(script, current, project, connection)
    if current and not replace_foreign:
        raise ConfigError(
            f"the database's alembic_version holds {revisions(current)}, which these"
            " migrations have never had: make sure this is the database you mean, then"
            f" run `baseline REVISION --replace-foreign` to replace it"
        )
    interrupted = marker.read(driver_connection(connection))
    if interrupted is not None:  # under the lock: left by a gone runner
        raise MigrationFailed(f"{interrupted.describe()}: {interrupted.remedy()}")
    if not user_tables(connection):
        raise ConfigError(
            "the database has no tables: there is nothing to adopt; upgrade builds it"
            " from the migrations"
        )


def _record_baseline(connection: sqlalchemy.Connection, adopted: tuple[str, ...]) -> None:
    """The baseline's only write: the marker table (from now on, this runner's database),
    then alembic_version's rows replaced in one transaction.

    Through Alembic's MigrationContext rather than `alembic stamp`, which runs env.py
    and deletes the old rows before it resolves the revision.
    """
    marker.ensure_table(connection)
    # DDL: commits on its own, like the marker table.
    version = compat.ensure_version_table(MigrationContext.configure(connection))
    connection.commit()
    connection.execute(version.delete())
    connection.execute(version.insert(), [{"version_num": revision} for revision in adopted])
    connection.commit()


def resolve(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    revision: str,
    *,
    applied: bool,
) -> None:
    """Clear an interrupted revision's marker once a person has checked the schema.

    ``applied`` says that the revision's changes are all there, and the database is
    stamped as having it; otherwise as not having it. After an interrupted upgrade,
    "not applied" leaves the stamp as it was and the next upgrade runs the revision
    again; after an interrupted downgrade, "applied" does.
    """
    load_scripts(project, single_head=False)
    with (
        LockedSession.login(connection_settings, options) as session,
        session.sqlalchemy() as connection,
    ):
        session.acquire()
        interrupted = marker.read(driver_connection(connection))
        if interrupted is None:
            raise ConfigError("no interrupted revision is recorded: nothing to resolve")
        if interrupted.revision != revision:
            raise ConfigError(f"the interrupted revision is {interrupted.revision}, not {revision}")
        stamp_as = interrupted.resolution(applied=applied)
        if stamp_as is not None:
            config = alembic_config(project, connection=connection)
            with running_env_py(project):
                command.stamp(config, stamp_as.split(",") if stamp_as else "base", purge=True)
        marker.clear(connection)
        connection.commit()
        now = revisions(current_heads(connection))
    log.info(
        "resolved the interrupted revision",
        extra={"revision": revision, "applied": applied, "stamped": now},
    )
