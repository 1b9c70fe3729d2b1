"""The `drift` verb: each database compared with what its migrations make at its recorded revision.

Every database is logged in to once and its schema read from information_schema
once, then reduced to a fingerprint; identical schemas are kept once. The migrations
are replayed on a shadow database once per distinct recorded revision (never once
per shard), and only the schemas whose fingerprint differs from the replay's are
compared in detail. The live databases are only read, unless ``record`` asks to
store the fingerprint of a database found clean (MIGRATE_DRIFT is on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pymysql

from migrator.db import marker
from migrator.db.connection import (
    ACCESS_ERRORS,
    ConnectionSettings,
    error_code,
    error_text,
    io_bound,
    session_errors,
    wait_for_database,
)
from migrator.db.lock import left_behind
from migrator.drift.compare import compare
from migrator.drift.fingerprint import FORMAT, fingerprint, read_stored, store
from migrator.drift.normalise import Schema, normalise
from migrator.drift.quick_print import quick_print
from migrator.drift.report import DatabaseDrift
from migrator.drift.snapshot import database_defaults, read_raw_schema
from migrator.errors import (
    AccessDenied,
    MigrationFailed,
    MigratorError,
    PendingRevisions,
    UnknownRevision,
)
from migrator.process.logs import get_logger
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from migrator.db.connection import DriverConnection

log = get_logger()

SCHEMA_READ_TIMEOUT = 120.0  # seconds one information_schema query may take on a big schema


@dataclass(frozen=True)
class Compared:
    """One database `drift` covers: where it is, and where its shadow may be made."""

    target: str
    shard: int | None  # None when the target has one database
    project: Project
    database: ConnectionSettings
    shadow_server: ConnectionSettings | None = None  # None: next to the database


@dataclass
class _Live:
    """What one database's single read gave: its revision, its defaults, its schema's print."""

    compared: Compared
    revision: tuple[str, ...]
    defaults: tuple[str, str]
    fingerprint: str


@dataclass
class DriftRun:
    """Every database's verdict, and the databases that could not be compared."""

    results: list[DatabaseDrift] = field(default_factory=list)
    failures: list[tuple[Compared, MigratorError]] = field(default_factory=list)


def drift(
    databases: Sequence[Compared],
    options: RunOptions,
    *,
    parallel: int = 4,
    record: bool = False,
) -> DriftRun:
    """Compare each database with what its migrations produce at its recorded revision.

    ``record`` stores the fingerprint of each database found clean, for
    MIGRATE_DRIFT's check at pod start. Raises a database's error when there is only
    one database; with several, its error is kept in the run's failures.
    """
    run = DriftRun()
    schemas: dict[str, Schema] = {}  # one normalised schema per distinct fingerprint
    lives: list[_Live] = []

    def read(compared: Compared) -> tuple[_Live, Schema]:
        return _read_live(compared, use_lock=options.use_lock)

    for compared, outcome in _each(databases, read, parallel):
        if isinstance(outcome, MigratorError):
            if len(databases) == 1:
                raise outcome
            run.failures.append((compared, outcome))
            continue
        live, schema = outcome
        schemas.setdefault(live.fingerprint, schema)
        lives.append(live)
    replays: dict[tuple[Any, ...], tuple[str, Schema] | MigratorError] = {}
    scripts: dict[Project, ScriptDirectory] = {}
    verdicts: dict[tuple[Any, ...], list[Any]] = {}  # (replay key, fingerprint): differences
    for live in lives:
        key = _replay_key(live)
        if key not in replays:
            replays[key] = _replayed(live, scripts, options)
        replayed = replays[key]
        if isinstance(replayed, MigratorError):
            if len(databases) == 1:
                raise replayed
            run.failures.append((live.compared, replayed))
            continue
        wanted_print, wanted = replayed
        if live.fingerprint == wanted_print:
            differences: list[Any] = []
        else:
            verdict = (key, live.fingerprint)
            if verdict not in verdicts:
                verdicts[verdict] = compare(schemas[live.fingerprint], wanted)
            differences = verdicts[verdict]
        compared = live.compared
        run.results.append(
            DatabaseDrift(
                compared.database.target.database,
                compared.target,
                compared.shard,
                ",".join(live.revision) or None,
                differences,
            )
        )
        if record and not differences:
            _record(compared, live)
    return run


def _each(
    databases: Sequence[Compared],
    work: Callable[[Compared], tuple[_Live, Schema]],
    parallel: int,
) -> Iterator[tuple[Compared, tuple[_Live, Schema] | MigratorError]]:
    """``work`` on every database, ``parallel`` at a time, yielded in the databases' order
    as each is done (so that equal schemas are kept once, not once per database)."""

    def guarded(compared: Compared) -> tuple[_Live, Schema] | MigratorError:
        try:
            return work(compared)
        except MigratorError as error:
            return error
        except pymysql.err.MySQLError as error:  # this database's alone: the others go on
            return MigratorError(f"could not read the schema: {error_text(error)}")

    if len(databases) == 1:
        yield databases[0], guarded(databases[0])
        return
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        yield from zip(databases, pool.map(guarded, databases), strict=True)


def _read_live(compared: Compared, *, use_lock: bool) -> tuple[_Live, Schema]:
    """One login, the recorded revision and the schema, in one read of information_schema."""
    settings = compared.database
    name = settings.target.database
    with (
        closing(wait_for_database(settings)) as connection,
        session_errors(settings.target),
        io_bound(connection, max(settings.connect_timeout, SCHEMA_READ_TIMEOUT)),
    ):
        revision, running = marker.read_with_version(connection)
        if running is not None:
            _refuse_running(connection, name, running, use_lock=use_lock)
        defaults = database_defaults(connection, name)
        schema = normalise(read_raw_schema(connection, name))
    return _Live(compared, revision or (), defaults, fingerprint(schema)), schema


def _refuse_running(
    connection: DriverConnection, database: str, running: marker.RunMarker, *, use_lock: bool
) -> None:
    """A revision half-applied has no schema to compare with: exit 6, or 10 while it runs."""
    left = True
    if use_lock:
        try:
            left = left_behind(connection, database, running)
        except pymysql.err.MySQLError:
            left = False
    if left:
        raise MigrationFailed(f"{running.describe()}: {running.remedy()}")
    raise PendingRevisions(
        f"revision {running.revision} is being applied by {running.runner}: drift once it is done"
    )


def _replay_key(live: _Live) -> tuple[Any, ...]:
    """What decides the schema the migrations produce: the project, the revision, and the
    database's default character set and collation, which tables without their own take."""
    return (live.compared.project, live.revision, live.defaults)


def _replayed(
    live: _Live, scripts: dict[Project, ScriptDirectory], options: RunOptions
) -> tuple[str, Schema] | MigratorError:
    """The schema the migrations produce at the live database's revision, and its print."""
    from migrator.alembic_support.scripts import load_scripts

    project = live.compared.project
    try:
        if project not in scripts:
            scripts[project] = load_scripts(project, single_head=False)
        script = scripts[project]
        for revision in live.revision:
            _require_known(script, revision, project)
        schema = replay(live.compared, script, live.revision, live.defaults, options)
    except MigratorError as error:
        return error
    return fingerprint(schema), schema


def _require_known(script: ScriptDirectory, revision: str, project: Project) -> None:
    from migrator.alembic_support.scripts import known

    if not known(script, revision):
        raise UnknownRevision(
            f"the database is at revision {revision}, which the migrations in"
            f" {project.migrations_dir} do not contain: drift cannot rebuild it"
        )


def replay(
    compared: Compared,
    script: ScriptDirectory,
    revision: tuple[str, ...],
    defaults: tuple[str, str],
    options: RunOptions,
) -> Schema:
    """Build what the migrations produce at exactly ``revision`` on a shadow database
    (with the live database's default character set and collation), and read it."""
    from migrator.autogenerate.confined import confined
    from migrator.autogenerate.shadow import quote_identifier, shadow_database
    from migrator.core.apply import run_steps
    from migrator.db.engine import driver_connection, open_connection

    database = compared.database
    with shadow_database(compared.shadow_server or database) as shadow:
        if shadow is None:
            pattern = database.target.database.replace("_", "\\_") + "\\_shadow\\_%"
            raise AccessDenied(
                "drift builds what the migrations produce in a shadow database, and the user"
                f" may not create one: GRANT ALL ON `{pattern}`.* to it"
            )
        name = shadow.target.database
        with open_connection(shadow) as connection:
            driver = driver_connection(connection)
            charset, collation = defaults
            with driver.cursor() as cursor:
                cursor.execute(
                    f"ALTER DATABASE {quote_identifier(name)}"
                    f" CHARACTER SET {charset} COLLATE {collation}"
                )
            with confined(driver, live=database.target.database, shadow=name):
                for head in revision:
                    run_steps(
                        compared.project,
                        script,
                        connection,
                        head,
                        upgrade=True,
                        runner=options.runner,
                        ddl_lock_timeout=options.ddl_lock_timeout,
                        shadow=name,
                    )
            with io_bound(driver, max(database.connect_timeout, SCHEMA_READ_TIMEOUT)):
                return normalise(read_raw_schema(driver, name))


def _record(compared: Compared, live: _Live) -> None:
    """Store a clean database's fingerprint for MIGRATE_DRIFT, unless it is stored already."""
    settings = compared.database
    revision = ",".join(live.revision)
    try:
        with closing(wait_for_database(settings)) as connection:
            stored = read_stored(connection)
            name = settings.target.database
            if stored is not None and (
                stored.revision,
                stored.format,
                stored.fingerprint,
                stored.quick_print,
            ) == (revision, FORMAT, live.fingerprint, quick_print(connection, name)):
                return
            store(connection, name, revision, live.fingerprint)
    except pymysql.err.MySQLError as error:
        if error_code(error) not in ACCESS_ERRORS:
            raise
        log.warning(
            "could not store the schema's fingerprint for MIGRATE_DRIFT: the user may not"
            f" write the database ({error_text(error)})",
            extra={"database": settings.target.redacted_url()},
        )
        return
    log.info(
        "stored the schema's fingerprint: MIGRATE_DRIFT compares with it at pod start",
        extra={"database": settings.target.redacted_url(), "revision": revision or "base"},
    )


def label(compared: Compared) -> str:
    """The database as an error line names it, password masked."""
    position = "" if compared.shard is None else f"[{compared.shard}]"
    return f"{compared.target}{position} {compared.database.target.redacted_url()}"
