"""The commands as the command line invokes them: one plain function each, given typed values.

Each takes a :class:`~migrator.cli.context.Context` (the settings, the targets they
configure, which databases the command covers, where output goes) and the command's
own arguments, and hands them to the core: :mod:`migrator.core.upgrade`,
:mod:`migrator.fleet.threads`, the verb modules of :mod:`migrator.core`. Heavy modules (SQLAlchemy,
Alembic) are imported inside the commands that need them, so `wait` and a no-op
`upgrade` stay light.
"""

from __future__ import annotations

from migrator.cli.context import Context
from migrator.errors import MigratorError
from migrator.process.logs import get_logger
from migrator.settings.targets import Target

log = get_logger()

# Process isolation: each child runs exactly the shard it is given.
_POD_SLICE_VARIABLES = ("MIGRATE_SHARD_INDEX", "MIGRATE_SHARD_COUNT", "JOB_COMPLETION_INDEX")


def wait(context: Context, *, head: bool) -> None:
    """Wait for every database the command covers, one after the other."""
    databases = context.covered()
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


def upgrade(context: Context, revision: str) -> None:
    fleet = context.fleet()
    if fleet is not None:
        _upgrade_fleet(context, fleet, revision)
        return
    database = context.database()  # configuration errors first, before the heavy imports
    from migrator.core.upgrade import ProjectScripts, upgrade_database

    scripts = ProjectScripts(context.project(), revision)
    upgrade_database(scripts, database, context.options(), revision, context.report)


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
    databases = context.covered()
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
    databases = context.covered()
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
