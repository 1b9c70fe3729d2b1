"""What `status` read of one database, of a target's shards side by side, and what it exits with.

The exit status has one owner, :class:`Verdict`, for one database, a target's
shards and several targets alike: each level words why, and the rule that turns
that into the exit status is written once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrator.db.connection import ConnectionSettings
from migrator.errors import (
    ExitStatus,
    MigrationFailed,
    MigratorError,
    PendingRevisions,
    ShardsFailed,
)
from migrator.fleet.threads import worst
from migrator.process.logs import fields_for_context, get_logger
from migrator.settings.target import Project

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from migrator.alembic_support.scripts import Status
    from migrator.db.marker import RunMarker

log = get_logger()


@dataclass(frozen=True)
class Verdict:
    """What `status` exits with, in the words of the level that read: what failed (a
    database that could not be read, a target's own verdict) decides first, by its
    status; then, with --exit-code only, a revision left partly applied (6); then
    revisions pending or being applied (10); otherwise 0."""

    failed: MigratorError | None = None
    partly_applied: str | None = None  # why the exit status is 6
    behind: str | None = None  # why it is 10

    def settle(self, *, exit_code: bool) -> None:
        """Raise what `status` exits with; return when that is 0."""
        if self.failed is not None:
            raise self.failed
        if exit_code and self.partly_applied is not None:
            raise MigrationFailed(self.partly_applied)
        if exit_code and self.behind is not None:
            raise PendingRevisions(self.behind)


def several_failed(
    failures: Sequence[tuple[str, MigratorError]], count: int, what: str
) -> ShardsFailed | None:
    """One error for the failures of several databases or targets, each named by its
    label; the worst decides the exit status. None when nothing failed."""
    if not failures:
        return None
    return ShardsFailed(
        f"{len(failures)} of {count} {what} failed: "
        + "; ".join(f"{label}: {failure.message}" for label, failure in failures),
        _worst_of([failure for _, failure in failures]),
    )


def _worst_of(errors: Sequence[MigratorError]) -> ExitStatus:
    return worst([int(error.exit_status) for error in errors])


@dataclass(frozen=True)
class DatabaseStatus:
    """What `status` read of one database: where it is, and the run marker it found."""

    current: Status
    running: RunMarker | None  # a revision being applied, or one left partly applied
    interrupted: bool  # ``running`` was left behind by a run that is gone

    @property
    def partly_applied(self) -> bool:
        return self.running is not None and self.interrupted

    @property
    def behind(self) -> bool:
        """Revisions are pending or being applied."""
        return bool(self.current.pending) or self.running is not None

    def verdict(self) -> Verdict:
        """One database's: its run marker's remedy (6), or how far behind it is (10)."""
        running = self.running
        in_progress = f", revision {running.revision} in progress" if running is not None else ""
        return Verdict(
            partly_applied=(
                f"{running.describe()}: {running.remedy()}"
                if running is not None and self.partly_applied
                else None
            ),
            behind=(
                f"{len(self.current.pending)} revision(s) pending{in_progress}"
                if self.behind
                else None
            ),
        )


def read_status(
    project: Project,
    database: ConnectionSettings,
    *,
    use_lock: bool,
    script: ScriptDirectory | None = None,
) -> DatabaseStatus:
    """Read one database's status (``script``: the scripts the caller already loaded)."""
    from migrator.core import inspection

    return DatabaseStatus(*inspection.status(project, database, use_lock=use_lock, script=script))


@dataclass(frozen=True)
class ShardStatus:
    position: int
    url: str  # password masked
    read: DatabaseStatus | None  # None when it could not be read
    error: MigratorError | None = None

    @property
    def revision(self) -> str:
        """The revision as the table shows it: "base" for none, "error" when unread."""
        if self.read is None:
            return "error"
        return ", ".join(self.read.current.current) or "base"

    @property
    def note(self) -> str:
        if self.read is None:
            return str(self.error)
        if self.read.partly_applied:
            return "interrupted"
        if self.read.running is not None:
            return f"applying {self.read.running.revision}"
        return f"{len(self.read.current.pending)} pending"


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
        counts = Counter(s.revision for s in self.shards if s.read is not None)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def verdict(self) -> Verdict:
        """Unreadable shards fail the target; then one left partly applied, then pending."""
        counts = self.revision_counts()
        if len(counts) > 1:
            log.warning("shards disagree", extra={"revisions": [r for r, _ in counts]})
        errors = [s.error for s in self.shards if s.error is not None]
        read = [(s.position, s.read) for s in self.shards if s.read is not None]
        interrupted = [position for position, status in read if status.partly_applied]
        behind = sum(status.behind for _, status in read)
        return Verdict(
            failed=(
                ShardsFailed(f"{len(errors)} shard(s) could not be read", _worst_of(errors))
                if errors
                else None
            ),
            partly_applied=(
                f"{len(interrupted)} shard(s) have a revision left partly applied"
                f" (shards {', '.join(map(str, interrupted))}): see `status --shard N`"
                if interrupted
                else None
            ),
            behind=f"{behind} shard(s) have pending revisions" if behind else None,
        )


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

    script = load_scripts(project)
    head = ", ".join(script.get_heads()) or "none"

    def read(position: int) -> ShardStatus:
        database = shards[position]
        url = database.target.redacted_url()
        fields = {"target_name": target, "shard": position, "target": url}
        try:
            with fields_for_context(fields):  # what it logs names the shard
                status = read_status(project, database, use_lock=use_lock, script=script)
        except MigratorError as error:
            return ShardStatus(position, url, None, error)
        return ShardStatus(position, url, status)

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="migrator-status") as pool:
        statuses = list(pool.map(read, range(len(shards))))
    return FleetStatus(target, head, statuses)
