"""Where every shard of a target stands, read side by side on a bounded pool of threads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from migrator.db.connection import ConnectionSettings
from migrator.errors import MigrationFailed, MigratorError, PendingRevisions, ShardsFailed
from migrator.fleet.threads import worst
from migrator.process.logs import fields_for_context, get_logger
from migrator.settings.target import Project

log = get_logger()


@dataclass(frozen=True)
class ShardStatus:
    position: int
    url: str  # password masked
    revision: str  # "base" for none, "error" when it could not be read
    note: str
    pending: bool = False
    interrupted: bool = False
    error: MigratorError | None = None


@dataclass(frozen=True)
class FleetStatus:
    target: str
    head: str
    shards: list[ShardStatus]

    def lines(self) -> list[str]:
        """The table `status` prints: a header, a line per shard, then the tallies."""
        width = max(len(shard.url) for shard in self.shards)
        lines = [f"target {self.target}: {len(self.shards)} shards, head {self.head}"]
        lines += [
            f"{s.position:>4}  {s.url:<{width}}  {s.revision:<14}  {s.note}" for s in self.shards
        ]
        counts = self.revision_counts()
        if len(counts) > 1:
            lines.append(f"shards disagree: {len(counts)} different revisions")
        tallies = [
            f"{count} at {revision}" + (" (head)" if revision == self.head else "")
            for revision, count in counts
        ]
        lines.append("revisions: " + (", ".join(tallies) or "no shard could be read"))
        return lines

    def revision_counts(self) -> list[tuple[str, int]]:
        """How many readable shards are at each revision, the most common first."""
        counts = Counter(s.revision for s in self.shards if s.error is None)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def verdict(self, *, exit_code: bool) -> None:
        """Raise what `status` exits with: unreadable shards always; with ``exit_code``,
        a revision left partly applied (6), then pending revisions (10)."""
        counts = self.revision_counts()
        if len(counts) > 1:
            log.warning("shards disagree", extra={"revisions": [r for r, _ in counts]})
        errors = [s.error for s in self.shards if s.error is not None]
        if errors:
            raise ShardsFailed(
                f"{len(errors)} shard(s) could not be read",
                worst([int(error.exit_status) for error in errors]),
            )
        interrupted = [s.position for s in self.shards if s.interrupted]
        if exit_code and interrupted:
            raise MigrationFailed(
                f"{len(interrupted)} shard(s) have a revision left partly applied"
                f" (shards {', '.join(map(str, interrupted))}): see `status --shard N`"
            )
        pending = sum(s.pending for s in self.shards)
        if exit_code and pending:
            raise PendingRevisions(f"{pending} shard(s) have pending revisions")


def read_fleet_status(
    target: str,
    project: Project,
    shards: Sequence[ConnectionSettings],
    *,
    use_lock: bool,
    parallel: int,
) -> FleetStatus:
    """Read every shard's revision and run marker, ``parallel`` at a time."""
    from migrator.alembic_support.scripts import load_scripts
    from migrator.core import runner

    script = load_scripts(project)
    head = ", ".join(script.get_heads()) or "none"

    def read(position: int) -> ShardStatus:
        database = shards[position]
        url = database.target.redacted_url()
        fields = {"target_name": target, "shard": position, "target": url}
        try:
            with fields_for_context(fields):  # what it logs names the shard
                current, running, interrupted = runner.status(
                    project, database, use_lock=use_lock, script=script
                )
        except MigratorError as error:
            return ShardStatus(position, url, "error", str(error), error=error)
        revision = ", ".join(current.current) or "base"
        if running is not None and interrupted:
            note = "interrupted"
        elif running is not None:
            note = f"applying {running.revision}"
        else:
            note = f"{len(current.pending)} pending"
        return ShardStatus(
            position,
            url,
            revision,
            note,
            pending=bool(current.pending) or running is not None,
            interrupted=running is not None and interrupted,
        )

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="migrator-status") as pool:
        statuses = list(pool.map(read, range(len(shards))))
    return FleetStatus(target, head, statuses)
