"""The Alembic side: a Config built in code, the revision scripts, the schema module.

Everything here works on the scripts and on a connection handed in; nothing
reads the environment or decides policy.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

import sqlalchemy
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.migration import RevisionStep
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from migrator.alembic_support import compat, environment, proxies
from migrator.db import marker
from migrator.errors import ConfigError, MigratorError, ScriptError, UnknownRevision
from migrator.process.logs import restore_logging
from migrator.settings.target import Project, shown

# Before any migration runs: a fleet migrates shards from several threads.
proxies.enable()

# What user code (revision files, env.py, the schema module) may raise. Its
# sys.exit() is a failure like any other: only the command line ends the run.
USER_CODE_ERRORS = (Exception, SystemExit, KeyboardInterrupt)
_RUNNER_PACKAGE = Path(__file__).resolve().parents[1]

# Date first, so a versions/ listing reads in the order revisions were written.
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


@dataclass(frozen=True)
class Status:
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return not self.pending


def alembic_config(
    project: Project,
    *,
    connection: sqlalchemy.Connection | None = None,
    stdout: TextIO | None = None,
) -> Config:
    """An Alembic Config built in code: no ini file, no credentials anywhere on disk."""
    config = Config(stdout=stdout) if stdout is not None else Config()
    # ConfigParser interpolation: a literal "%" in a path must be doubled.
    config.set_main_option("script_location", str(project.migrations_dir).replace("%", "%%"))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("truncate_slug_length", "40")
    config.set_main_option("path_separator", "os")
    if importlib.util.find_spec("ruff") is not None:
        # Where ruff is installed (development, not the image), written revisions
        # come out formatted, with sorted and only used imports.
        config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
        for hook, options in (
            ("ruff_fix", "check --fix --quiet --select I,F401 REVISION_SCRIPT_FILENAME"),
            ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
        ):
            config.set_section_option("post_write_hooks", f"{hook}.type", "module")
            config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
            config.set_section_option("post_write_hooks", f"{hook}.options", options)
    if connection is not None:
        config.attributes[environment.CONNECTION] = connection
    return config


def load_scripts(project: Project, *, single_head: bool = True) -> ScriptDirectory:
    """Load every revision file up front, so a broken script fails before any DDL runs."""
    try:
        has_env = (project.migrations_dir / "env.py").is_file()
    except OSError as error:  # e.g. a path too long for the file system
        raise ConfigError(
            f"MIGRATE_MIGRATIONS_DIR{project.variable_suffix}={shown(project.migrations_dir)}:"
            f" {error.strerror}"
        ) from None
    if not has_env:
        raise ConfigError(
            f"MIGRATE_MIGRATIONS_DIR{project.variable_suffix}={shown(project.migrations_dir)}:"
            " not an Alembic migrations"
            " directory (no env.py)"
        )
    try:
        script = ScriptDirectory.from_config(alembic_config(project))
        heads = script.get_heads()
    except USER_CODE_ERRORS as error:
        raise ScriptError(f"the migration scripts cannot be loaded: {describe(error)}") from None
    finally:
        restore_logging()  # the revision files import what they like
    if single_head and len(heads) > 1:
        raise ScriptError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}):"
            " write a merge revision (alembic merge) so there is one head"
        )
    return script


def load_metadata(schema_ref: str, variable: str = "MIGRATE_SCHEMA") -> sqlalchemy.MetaData:
    """Import the schema module named by MIGRATE_SCHEMA (``module:attribute``)."""
    module_name, _, attribute = schema_ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except USER_CODE_ERRORS as error:
        raise ScriptError(
            f"the schema module {module_name!r} ({variable}) cannot be imported: {describe(error)}"
        ) from None
    finally:
        restore_logging()  # an application's models may configure logging as they load
    metadata: object = module
    for name in attribute.split("."):  # `Base.metadata` of a declarative base
        metadata = getattr(metadata, name, None)
    if not isinstance(metadata, sqlalchemy.MetaData):
        raise ScriptError(
            f"{variable}={schema_ref}: {module_name}.{attribute} is not a SQLAlchemy MetaData"
        )
    return metadata


def revision_metadata(project: Project) -> sqlalchemy.MetaData | None:
    """The schema module's MetaData for running revisions, as Alembic's own env.py gives it:
    its naming convention names the constraints that `op.create_table` builds (the CHECK
    of a Boolean, say). None when there is no such module: migrations without models.
    """
    module_name = project.schema_ref.partition(":")[0]
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError as missing:
        if f"{module_name}.".startswith(f"{missing.name}."):  # its package is missing too
            return None
    except USER_CODE_ERRORS:
        pass  # a package that fails to import: load_metadata says how
    return load_metadata(project.schema_ref, f"MIGRATE_SCHEMA{project.variable_suffix}")


@contextmanager
def running_env_py(project: Project) -> Iterator[None]:
    """Around an Alembic command that runs env.py: what env.py itself raises is exit 9.

    Database errors, the runner's own errors, and errors raised inside the runner's
    code that env.py called keep their meaning.
    """
    import pymysql
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except (MigratorError, CommandError, DBAPIError, pymysql.err.MySQLError, BrokenPipeError):
        raise
    except USER_CODE_ERRORS as error:
        culprit = _raised_by(error.__traceback__, project.migrations_dir)
        if culprit is None and not isinstance(error, SystemExit | KeyboardInterrupt):
            raise
        where = culprit.name if culprit is not None else "a migration script"
        raise ScriptError(f"{where} failed: {describe(error)}") from None
    finally:
        restore_logging()


def _raised_by(trace: TracebackType | None, directory: Path) -> Path | None:
    """The file of ``directory`` whose code raised: its innermost frame, unless that
    frame was calling the runner's own code when the error arose."""
    frames = []
    while trace is not None:
        # Alembic runs the files by the path it was given, relative or through a link.
        frames.append(Path(os.path.realpath(trace.tb_frame.f_code.co_filename)))
        trace = trace.tb_next
    directory = directory.resolve()
    mine = [i for i, path in enumerate(frames) if path.is_relative_to(directory)]
    if not mine or any(path.is_relative_to(_RUNNER_PACKAGE) for path in frames[mine[-1] + 1 :]):
        return None
    return frames[mine[-1]]


def describe(error: BaseException) -> str:
    """One line about an exception from user code (revision files, schema module)."""
    if isinstance(error, SyntaxError):
        where = f"{error.filename}, line {error.lineno}" if error.filename else "?"
        return f"SyntaxError in {where}: {error.msg}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def current_heads(connection: sqlalchemy.Connection) -> tuple[str, ...]:
    heads = MigrationContext.configure(connection).get_current_heads()
    # End the implicit transaction: Alembic must start from a clean connection.
    connection.commit()
    return heads


def known(script: ScriptDirectory, revision: str) -> bool:
    try:
        script.get_revision(revision)
    except CommandError:
        return False
    return True


def require_known(
    script: ScriptDirectory,
    current: Iterable[str],
    project: Project,
    connection: sqlalchemy.Connection,
) -> None:
    """Raise UnknownRevision for a revision the scripts lack, telling a newer release of
    these migrations (the runner has migrated the database) from foreign ones."""
    for revision in current:
        if known(script, revision):
            continue
        where = (
            f"the database is at revision {revision}, which the migrations in"
            f" {project.migrations_dir}"
        )
        if marker.table_exists(connection):
            raise UnknownRevision(
                f"{where} do not contain; this runner has migrated the database before, so"
                " the revision comes from a newer release of these migrations: deploy that"
                " release or one that contains the revision"
            )
        raise UnknownRevision(
            f"{where} have never had, and this runner has never migrated the database:"
            " its alembic_version comes from other migrations. To adopt the database,"
            " check that its schema matches a revision of these migrations, then run"
            " `baseline REVISION --replace-foreign` (README: Adopting an existing database)"
        )


def pending_steps(
    script: ScriptDirectory, destination: str, current: tuple[str, ...], *, upgrade: bool
) -> list[RevisionStep]:
    try:
        if upgrade:
            return compat.upgrade_steps(script, destination, current)
        return compat.downgrade_steps(script, destination, current)
    except CommandError as error:
        raise ConfigError(f"cannot go to revision {destination!r}: {error}") from None


def read_status(
    script: ScriptDirectory, connection: sqlalchemy.Connection, project: Project
) -> Status:
    current = current_heads(connection)
    require_known(script, current, project, connection)
    pending = pending_steps(script, "heads", current, upgrade=True)
    return Status(
        current=current,
        heads=tuple(script.get_heads()),
        pending=tuple(step.revision.revision for step in pending),
    )


def revisions(heads: Iterable[str]) -> str:
    """Revision ids for a log line; "base" for none."""
    return ",".join(heads) or "base"
