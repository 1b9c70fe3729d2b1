"""The commands as the command line invokes them: one plain function each, given typed values.

Each takes a :class:`Context` (the settings, the targets they configure, where
output goes) and the command's own arguments, resolves which database or shards
it is about, and hands them to the core: :mod:`migrator.core.upgrade`,
:mod:`migrator.fleet.threads`, the verb modules of :mod:`migrator.core`. Heavy modules (SQLAlchemy,
Alembic) are imported inside the commands that need them, so `wait` and a no-op
`upgrade` stay light.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

from migrator.errors import ConfigError, MigratorError
from migrator.process.logs import get_logger
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.declarations import Settings
from migrator.settings.target import DatabaseTarget, Project
from migrator.settings.targets import (
    Target,
    declared_names,
    discover,
    select,
    slice_for_pod,
)

if TYPE_CHECKING:
    from migrator.db.connection import ConnectionSettings

log = get_logger()

# Process isolation: each child runs exactly the shard it is given.
_POD_SLICE_VARIABLES = ("MIGRATE_SHARD_INDEX", "MIGRATE_SHARD_COUNT", "JOB_COMPLETION_INDEX")


@dataclass(frozen=True)
class Context:
    """What every command is given: the settings, which target and shard the command
    line named, the environment named targets are declared in, and where output goes."""

    settings: Settings
    environ: Mapping[str, str]
    target_name: str | None
    shard: int | None
    stdout: TextIO
    report: RunReport
    add_secret: Callable[[str], None]  # masks a password in every later line
    # Which of ``environ``'s variables came from `.env`, for messages about targets.
    origins: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def targets(self) -> list[Target]:
        """Every configured target, read once; their passwords join the secrets to mask."""
        default = self.settings.database_target() if self.settings.has_database() else None
        declared = declared_names(self.settings.targets)
        targets = discover(self.environ, default, self.default_project, declared, self.origins)
        for target in targets:
            for shard in target.shards:
                self.add_secret(shard.password.get_secret_value())
        return targets

    @property
    def default_project(self) -> Project:
        return Project(self.settings.migrations_dir, self.settings.schema_ref)

    def target(self) -> Target:
        return select(self.targets, self.target_name)

    def project(self) -> Project:
        if self.target_name is None:  # no database needed to know the default project
            return self.default_project
        return self.target().project

    def database(self) -> ConnectionSettings:
        """The connection settings; only commands that talk to the server ask for them."""
        target = self.target()
        if self.shard is None and len(target.shards) > 1:
            raise ConfigError(
                f"target {target.name} has {len(target.shards)} shards: name one with --shard"
            )
        return self.connection(target.shard(self.shard or 0))

    def connection(self, shard: DatabaseTarget) -> ConnectionSettings:
        from migrator.db.connection import ConnectionSettings

        self.add_secret(shard.password.get_secret_value())
        return ConnectionSettings(
            target=shard,
            wait_timeout=self.settings.wait_timeout,
            connect_timeout=self.settings.connect_timeout,
        )

    def options(self) -> RunOptions:
        return RunOptions(
            runner=f"{self.settings.runner_name(socket.gethostname())} pid {os.getpid()}",
            lock_timeout=self.settings.lock_timeout,
            ddl_lock_timeout=self.settings.ddl_lock_timeout,
            on_unknown_revision=self.settings.on_unknown_revision,
            use_lock=self.use_lock,
            blocking_ddl=self.settings.blocking_ddl,
            blocking_ddl_min_rows=self.settings.blocking_ddl_min_rows,
            progress_interval=self.settings.progress_interval,
            drift=self.settings.drift,
            online_tool=self.online_tool(),
        )

    def online_tool(self) -> str | None:
        """pt-online-schema-change's path under MIGRATE_BLOCKING_DDL=online: exit 2 without it."""
        if self.settings.blocking_ddl != "online":
            return None
        from migrator.ddl.online_tool import find_tool

        return find_tool()

    @property
    def use_lock(self) -> bool:
        return self.settings.lock_mode == "get_lock"

    def shadow_server(self, database: ConnectionSettings) -> ConnectionSettings | None:
        """Where autogenerate and plan create their shadow database; None: next to ``database``."""
        shadow = self.settings.shadow_target()
        return replace(database, target=shadow) if shadow is not None else None

    def print(self, *lines: object) -> None:
        for line in lines:
            print(line, file=self.stdout)


def wait(context: Context, *, head: bool) -> None:
    """Wait for every database the command covers, one after the other."""
    databases = _databases(context)
    for covered in databases:
        if head:
            from migrator.core import inspection

            inspection.wait_for_head(
                covered.target.project,
                covered.database,
                context.options(),
                context.settings.head_timeout,
            )
            continue
        from migrator.db.connection import wait_for_database

        wait_for_database(covered.database).close()
        log.info("the database accepts logins", extra=covered.fields(len(databases)))


@dataclass(frozen=True)
class _Covered:
    """One database a command covers: its target, its position there, how to reach it."""

    target: Target
    position: int
    database: ConnectionSettings

    def label(self) -> str:
        return f"{self.target.name} {self.database.target.redacted_url()}"

    def fields(self, count: int) -> dict[str, object]:
        """The log fields that say which database a line is about, when there are several."""
        if count == 1:
            return {}
        return {
            "target_name": self.target.name,
            "shard": self.position,
            "database": self.database.target.redacted_url(),
        }


def _databases(context: Context) -> list[_Covered]:
    """The databases `check` and `wait` cover: the --shard given, else every shard of the
    --target given, else of every target, as `upgrade` migrates them (and `status` shows
    them)."""
    if context.target_name is None and context.shard is None:
        targets = context.targets
        if not targets:
            select(targets, None)  # raises: nothing is configured
    else:
        targets = [context.target()]
    if context.shard is not None:
        shard = targets[0].shard(context.shard)
        return [_Covered(targets[0], context.shard, context.connection(shard))]
    return [
        _Covered(target, position, context.connection(shard))
        for target in targets
        for position, shard in enumerate(target.shards)
    ]


def upgrade(context: Context, revision: str) -> None:
    fleet = _fleet(context)
    if fleet is not None:
        _upgrade_fleet(context, fleet, revision)
        return
    database = context.database()  # configuration errors first, before the heavy imports
    from migrator.core.upgrade import ProjectScripts, upgrade_database

    scripts = ProjectScripts(context.project(), revision)
    upgrade_database(scripts, database, context.options(), revision, context.report)


def _fleet(context: Context) -> list[tuple[Target, list[int]]] | None:
    """Which shards of which targets `upgrade` takes; None for a single database."""
    if context.shard is not None:
        return None
    targets = [context.target()] if context.target_name else context.targets
    if not targets:
        select(targets, None)  # raises: nothing is configured
    pods = context.settings.pod_slice()
    if pods is None and len(targets) == 1 and len(targets[0].shards) == 1:
        return None
    return [
        (
            target,
            list(range(len(target.shards)))
            if pods is None
            else slice_for_pod(len(target.shards), *pods),
        )
        for target in targets
    ]


def _upgrade_fleet(context: Context, plan: list[tuple[Target, list[int]]], revision: str) -> None:
    from migrator.fleet.threads import Shard, TargetShards, upgrade_fleet

    targets = [
        TargetShards(
            target.name,
            target.project,
            [
                Shard(
                    target.name,
                    position,
                    context.connection(target.shards[position]),
                    sharded=len(target.shards) > 1,
                )
                for position in positions
            ],
        )
        for target, positions in plan
    ]
    settings = context.settings
    stop = settings.on_shard_failure == "stop"
    if settings.shard_isolation == "process":
        from migrator.fleet.processes import upgrade_fleet_in_processes

        # The pod's termination message is the parent's; each child's goes to the
        # parent (fleet_processes), which reads what the child applied from it.
        children = dict(context.environ)
        for name in _POD_SLICE_VARIABLES:
            children.pop(name, None)
        upgrade_fleet_in_processes(
            targets,
            revision,
            children,
            parallel=settings.parallel,
            stop_on_failure=stop,
            progress_interval=settings.progress_interval,
        )
        return
    upgrade_fleet(
        targets,
        context.options(),
        revision,
        context.report,
        parallel=settings.parallel,
        stop_on_failure=stop,
    )


def downgrade(context: Context, revision: str) -> None:
    database = context.database()  # configuration errors first, before the heavy imports
    from migrator.core import migrate

    migrate.downgrade(context.project(), database, context.options(), revision, context.report)


def stamp(context: Context, revision: str) -> None:
    database = context.database()  # configuration errors first, before the heavy imports
    from migrator.core import stamping

    stamping.stamp(context.project(), database, context.options(), revision)


def baseline(context: Context, revision: str, *, replace_foreign: bool) -> None:
    database = context.database()
    from migrator.core import stamping

    stamping.baseline(
        context.project(), database, context.options(), revision, replace_foreign=replace_foreign
    )


def resolve(context: Context, revision: str, *, applied: bool) -> None:
    database = context.database()
    from migrator.core import stamping

    stamping.resolve(context.project(), database, context.options(), revision, applied=applied)


def check(context: Context) -> None:
    """Check every database the command covers; the worst failure decides the exit status."""
    databases = _databases(context)
    from migrator.core import inspection

    if len(databases) == 1:
        inspection.check(
            databases[0].target.project, databases[0].database, use_lock=context.use_lock
        )
        return
    failures: list[tuple[str, MigratorError]] = []
    for covered in databases:
        fields = covered.fields(len(databases))
        try:
            inspection.check(covered.target.project, covered.database, use_lock=context.use_lock)
        except MigratorError as error:  # the other databases are still checked
            log.error(error.message, extra={**fields, "exit_code": int(error.exit_status)})
            failures.append((covered.label(), error))
    from migrator.fleet.status import several_failed

    failed = several_failed(failures, len(databases), "databases")
    if failed is not None:
        raise failed


def drift(context: Context, *, output_format: str) -> None:
    """Compare every database the command covers with what its migrations produce at its
    recorded revision; exit 12 when any differs, the worst failure's status when some
    could not be compared."""
    databases = _databases(context)
    from migrator.core.drift import Compared, drift, label
    from migrator.drift.report import summary, write_json, write_text
    from migrator.errors import ExitStatus, SchemaDrift, ShardsFailed

    compared = [
        Compared(
            covered.target.name,
            covered.position if len(covered.target.shards) > 1 else None,
            covered.target.project,
            covered.database,
            context.shadow_server(covered.database),
        )
        for covered in databases
    ]
    run = drift(
        compared,
        context.options(),
        parallel=context.settings.parallel,
        record=context.settings.drift != "off",
    )
    for failed, error in run.failures:
        log.error(
            error.message, extra={"database": label(failed), "exit_code": int(error.exit_status)}
        )
    if output_format == "json":
        write_json(run.results, context.stdout)
    else:
        write_text(run.results, context.stdout, len(run.failures))
    drifted = [result for result in run.results if result.drifted]
    line = summary(run.results, len(run.failures))
    if run.failures:
        from migrator.fleet.threads import worst

        codes = [int(error.exit_status) for _, error in run.failures]
        raise ShardsFailed(line, worst(codes + ([ExitStatus.SCHEMA_DRIFT] if drifted else [])))
    if drifted:
        raise SchemaDrift(line)
    log.info(line)


def autogenerate(context: Context, message: str) -> None:
    database = context.database()
    from migrator.core import authoring

    path = authoring.autogenerate(
        context.project(), database, context.options(), message, context.shadow_server(database)
    )
    if path is not None:
        context.print(path)


def plan(context: Context, revision: str, *, output_format: str) -> None:
    database = context.database()
    from migrator.core import authoring

    result = authoring.plan(
        context.project(), database, context.options(), revision, context.shadow_server(database)
    )
    if output_format == "json":
        context.print(result.as_json())
    else:
        result.write_text(context.stdout)


def revision(context: Context, message: str) -> None:
    from migrator.core import authoring

    context.print(authoring.revision(context.project(), message))


def status(context: Context, *, exit_code: bool) -> None:
    """The status of the named target, or of every target `upgrade` migrates."""
    if context.target_name is not None or len(context.targets) <= 1:
        targets = context.targets if context.target_name is None else []
        _status_of(context, targets[0] if targets else context.target(), exit_code=exit_code)
        return
    failures: list[tuple[str, MigratorError]] = []
    for target in context.targets:
        context.print(f"== target {target.name}")
        try:
            _status_of(context, target, exit_code=exit_code)
        except MigratorError as error:  # the other targets are still shown
            log.error(error.message, extra={"target": target.name})
            failures.append((target.name, error))
    from migrator.fleet.status import Verdict, several_failed

    Verdict(several_failed(failures, len(context.targets), "targets")).settle(exit_code=exit_code)


def _status_of(context: Context, target: Target, *, exit_code: bool) -> None:
    if context.shard is None and len(target.shards) > 1:
        _status_of_shards(context, target, exit_code=exit_code)
        return
    database = context.connection(target.shard(context.shard or 0))
    from migrator.core import inspection
    from migrator.fleet.status import read_status

    status = read_status(target.project, database, use_lock=context.use_lock)
    current, running = status.current, status.running
    context.print(
        f"database: {database.target.redacted_url()}",
        f"current:  {', '.join(current.current) or 'base (empty)'}",
        f"head:     {', '.join(current.heads) or 'none (no revisions)'}",
        f"pending:  {' '.join(current.pending) or 'none'}",
    )
    if running is not None and (online := inspection.online_change_left(database)) is not None:
        left_behind = status.partly_applied
        state = "; left behind: the next upgrade removes it or finds it done" if left_behind else ""
        context.print(f"online change: {online.describe()}{state}")
    if running is not None and status.partly_applied:
        context.print(f"interrupted: {running.describe()}")
    elif running is not None:
        context.print(f"in progress: revision {running.revision}, by {running.runner}")
    status.verdict().settle(exit_code=exit_code)


def _status_of_shards(context: Context, target: Target, *, exit_code: bool) -> None:
    from migrator.fleet.status import read_fleet_status

    fleet = read_fleet_status(
        target.name,
        target.project,
        [context.connection(shard) for shard in target.shards],
        use_lock=context.use_lock,
        parallel=context.settings.parallel,
    )
    context.print(*fleet.lines())
    fleet.verdict().settle(exit_code=exit_code)


def history(context: Context) -> None:
    from migrator.core import authoring

    authoring.history(context.project(), context.stdout)


def heads(context: Context) -> None:
    from migrator.core import authoring

    authoring.heads(context.project(), context.stdout)


def sql(context: Context, revision_range: str) -> None:
    from migrator.core import authoring

    authoring.sql(context.project(), revision_range, context.stdout)
