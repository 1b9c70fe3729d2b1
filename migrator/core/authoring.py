"""The verbs about revision files: autogenerate, plan, revision, history, heads, sql."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy
from alembic import command
from alembic.script import Script
from alembic.util import CommandError

from migrator.alembic_support import environment
from migrator.alembic_support.scripts import (
    alembic_config,
    current_heads,
    load_metadata,
    load_scripts,
    read_status,
    revision_metadata,
    running_env_py,
)
from migrator.autogenerate.confined import confined
from migrator.autogenerate.ordering import runnable
from migrator.autogenerate.review import Operation, summarize
from migrator.autogenerate.shadow import shadow_database
from migrator.autogenerate.shapes import metadata_shape, reflected_shape
from migrator.core.apply import run_steps
from migrator.core.inspection import require_head, require_settled, user_tables
from migrator.core.plan import LiveTables, Plan, measure
from migrator.db.connection import ConnectionSettings
from migrator.db.engine import driver_connection, open_connection
from migrator.errors import AccessDenied, ConfigError
from migrator.process.logs import get_logger
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

log = get_logger()


def autogenerate(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    message: str,
    shadow_server: ConnectionSettings | None = None,
) -> Path | None:
    """Write a revision with the differences between the migrations and the schema module.

    The migrations are applied to a temporary shadow database (on
    ``shadow_server``, default the target's server), so the live database's
    state does not matter. Without the privilege to create databases, the
    target database is compared instead, and must be at head.
    """
    script = load_scripts(project)
    metadata = load_metadata(project.schema_ref, f"MIGRATE_SCHEMA{project.variable_suffix}")
    # A revision written next to a half-applied one would build on a schema nobody has.
    with open_connection(connection_settings) as connection:
        require_settled(connection, connection_settings, options.use_lock, "autogenerate")
    with shadow_database(shadow_server or connection_settings) as shadow:
        if shadow is None:
            log.warning(
                "the user may not create databases, so there is no shadow database:"
                " comparing with the target database, which must be at head"
            )
            with open_connection(connection_settings) as connection:
                require_head(read_status(script, connection, project), "autogenerate")
                return _write_revision(project, connection, metadata, message)
        database = connection_settings.target.database
        with (
            open_connection(shadow) as connection,
            confined(driver_connection(connection), live=database, shadow=shadow.target.database),
        ):
            run_steps(
                project,
                script,
                connection,
                "heads",
                upgrade=True,
                runner=options.runner,
                ddl_lock_timeout=options.ddl_lock_timeout,
                shadow=shadow.target.database,
            )
            return _write_revision(project, connection, metadata, message)


def plan(
    project: Project,
    connection_settings: ConnectionSettings,
    options: RunOptions,
    destination: str,
    shadow_server: ConnectionSettings | None = None,
) -> Plan:
    """What upgrading to ``destination`` would run, statement by statement, with the
    algorithm and lock the server will take for each; the live database is only read."""
    script = load_scripts(project)
    database = connection_settings.target.database
    with open_connection(connection_settings) as connection:
        require_settled(connection, connection_settings, options.use_lock, "plan")
        stamped = current_heads(connection)
        live = LiveTables.read(driver_connection(connection), versions=stamped)
    current = ",".join(stamped) or None
    result = Plan(database, current, destination)
    with shadow_database(shadow_server or connection_settings) as shadow:
        if shadow is None:
            pattern = database.replace("_", "\\_") + "\\_shadow\\_%"
            raise AccessDenied(
                "plan runs the revisions on an empty copy of the tables in a shadow database,"
                f" and the user may not create one: GRANT ALL ON `{pattern}`.* to it"
            )
        result.statements = measure(
            project, script, live, destination, shadow=shadow, options=options
        )
    return result


def _write_revision(
    project: Project,
    connection: sqlalchemy.Connection,
    metadata: sqlalchemy.MetaData,
    message: str,
) -> Path | None:
    config = alembic_config(project, connection=connection)
    config.attributes[environment.TARGET_METADATA] = metadata
    operations: list[Operation] = []

    def review(context: Any, revision: Any, directives: list[Any]) -> None:
        # Passed to command.revision() directly: the cookbook's env.py variant
        # reads config.cmd_opts, which is None when Alembic is driven from Python.
        if directives and directives[0].upgrade_ops.is_empty():
            directives[:] = []  # no empty revisions
        elif directives:
            script = directives[0]
            live = reflected_shape(connection, user_tables(connection))
            script.upgrade_ops.ops = runnable(script.upgrade_ops.ops, live)
            script.downgrade_ops.ops = runnable(script.downgrade_ops.ops, metadata_shape(metadata))
            operations.extend(summarize(script.upgrade_ops))

    with _alembic_chatter_silenced(), running_env_py(project):
        path = _written_path(
            command.revision(
                config, message=message, autogenerate=True, process_revision_directives=review
            )
        )
    if path is None:
        log.info("no changes detected: no revision written")
        return None
    destructive = [operation for operation in operations if operation.destructive]
    log.info(
        "revision written",
        extra={
            "path": str(path),
            "operations": len(operations),
            "destructive": len(destructive),
            "may_block_writes": sum(1 for operation in operations if operation.copies_table),
        },
    )
    for operation in operations:
        if operation.destructive:
            log.warning(f"destructive: {operation.description}: review it before merging")
        else:
            log.info(f"operation: {operation.description}")
        if operation.copies_table:
            log.warning(f"may block writes: {operation.description}: {operation.copies_table}")
    return path


def revision(project: Project, message: str) -> Path:
    """Write an empty revision for hand-written operations (data migrations, renames)."""
    load_scripts(project)
    with _alembic_chatter_silenced():
        path = _written_path(command.revision(alembic_config(project), message=message))
    assert path is not None  # an empty revision is always written
    log.info("revision written", extra={"path": str(path)})
    return path


def history(project: Project, stdout: TextIO) -> None:
    load_scripts(project, single_head=False)
    command.history(alembic_config(project, stdout=stdout))


def heads(project: Project, stdout: TextIO) -> None:
    load_scripts(project, single_head=False)
    command.heads(alembic_config(project, stdout=stdout))


def sql(project: Project, revision_range: str, stdout: TextIO) -> None:
    """Print the DDL of a revision range (``head`` means from the first revision) offline."""
    load_scripts(project)
    config = alembic_config(project, stdout=stdout)
    config.output_buffer = stdout
    config.attributes[environment.TARGET_METADATA] = revision_metadata(project)
    try:
        with running_env_py(project):
            command.upgrade(config, revision_range, sql=True)
    except CommandError as error:
        raise ConfigError(f"cannot render {revision_range!r}: {error}") from None


@contextmanager
def _alembic_chatter_silenced() -> Iterator[None]:
    # Alembic announces generated files and post-write hooks on stdout, which
    # carries only the written path; the runner logs the same on stderr.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _written_path(written: Script | list[Script | None] | None) -> Path | None:
    if isinstance(written, list):
        written = written[0] if written else None
    return Path(written.path) if written is not None else None
