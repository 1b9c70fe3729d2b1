"""Many databases from one process: each target's shards upgraded on a bounded pool of threads.

Python, SQLAlchemy, Alembic and the revision scripts are loaded once; each shard
still gets everything a single database gets: its own session, its own
migration lock, its own run marker and its own exit status. The worst status
becomes the run's. A shard at head costs one login and one read (the fast path).

Threads suit the work: a shard's time is spent waiting on its server, and
Alembic's module-level proxies are made per thread (:mod:`migrator.alembic_support.proxies`).
A revision with process-wide side effects can ask for a process per shard
instead (:mod:`migrator.fleet.processes`): another way of running one shard,
inside the same loop (:func:`run_fleet`), with the same lines and summary.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from migrator.core.upgrade import ProjectScripts, upgrade_database
from migrator.db.connection import ConnectionSettings
from migrator.errors import ExitStatus, Interrupted, ShardsFailed
from migrator.process import interrupts
from migrator.process.logs import (
    fields_for_context,
    get_logger,
    log_failure,
    shard_details_at_debug,
)
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.target import Project

log = get_logger()

NOT_STARTED = -1
JOIN_SLICE = 0.1  # how often the coordinating thread looks up from waiting
SLOWEST_SHOWN = 3
FAILED_LABELS_SHOWN = 10

# Which shard's status becomes the run's exit status: the first of these found.
SEVERITY = (
    ExitStatus.INTERNAL_ERROR,
    ExitStatus.MIGRATION_FAILED,
    ExitStatus.SCRIPT_ERROR,
    ExitStatus.UNKNOWN_REVISION,
    ExitStatus.BLOCKING_DDL_REFUSED,
    ExitStatus.ACCESS_DENIED,
    ExitStatus.CONFIG_ERROR,
    ExitStatus.LOCK_TIMEOUT,
    ExitStatus.DATABASE_UNREACHABLE,
    ExitStatus.DRIFT_DETECTED,
    ExitStatus.SCHEMA_DRIFT,
    ExitStatus.PENDING_REVISIONS,
    ExitStatus.INTERRUPTED_SIGTERM,
    ExitStatus.INTERRUPTED_SIGINT,
)


INTERRUPTED = frozenset({ExitStatus.INTERRUPTED_SIGTERM, ExitStatus.INTERRUPTED_SIGINT})


@dataclass(frozen=True)
class Shard:
    """One database of a target."""

    target: str
    position: int
    database: ConnectionSettings

    sharded: bool = True  # False: the target's only database, named without a position

    @property
    def label(self) -> str:
        """The database as log lines name it, password masked."""
        position = f"[{self.position}]" if self.sharded else ""
        return f"{self.target}{position} {self.database.target.redacted_url()}"

    @property
    def fields(self) -> dict[str, object]:
        """What every log line about the shard carries: which target, which position, and
        (as a single database's lines name it) its URL, password masked."""
        return {
            "target_name": self.target,
            "shard": self.position,
            "target": self.database.target.redacted_url(),
        }


@dataclass(frozen=True)
class TargetShards:
    """A target's project and the shards of it this run migrates."""

    name: str
    project: Project
    shards: Sequence[Shard]


@dataclass(frozen=True)
class Outcome:
    shard: Shard
    exit_code: int  # NOT_STARTED for a shard skipped after another failed or a signal
    duration: float

    @property
    def label(self) -> str:
        return self.shard.label


def log_shard_finished(outcome: Outcome, applied: int | None) -> None:
    """The one line at INFO about a shard that changed or failed: a shard that
    changed nothing is no news in a fleet of a thousand at head. ``applied``: how many
    revisions it applied, None when unknown (a child process that left no report)."""
    changed_or_failed = bool(applied) or outcome.exit_code != 0
    log.log(
        logging.INFO if changed_or_failed else logging.DEBUG,
        "shard finished",
        extra={
            **outcome.shard.fields,
            "exit_code": outcome.exit_code,
            "applied": applied,
            "duration_s": round(outcome.duration, 3),
        },
    )


def worst(codes: Sequence[int]) -> ExitStatus:
    for status in SEVERITY:
        if status in codes:
            return status
    return (
        ExitStatus.SUCCESS
        if all(code in {0, NOT_STARTED} for code in codes)
        else ExitStatus.INTERNAL_ERROR
    )


class FleetProgress:
    """Counts finished shards and says how far the fleet is, every ``interval`` seconds."""

    def __init__(self, total: int, interval: float) -> None:
        self.total = total
        self.interval = interval
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0
        self._next_line = self.started + interval
        self._counting = threading.Lock()

    def finished(self, outcome: Outcome) -> None:
        with self._counting:
            self.done += 1
            self.failed += outcome.exit_code not in {0, NOT_STARTED}

    def log_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_line:
            return
        self._next_line = now + self.interval
        with self._counting:
            done, failed = self.done, self.failed
        if done >= self.total:
            return  # the last shard ended between two checks: the summary says the rest
        elapsed = now - self.started
        eta = elapsed / done * (self.total - done) if done else None
        log.info(
            f"{done}/{self.total} databases done, {failed} failed"
            + (f", ETA {eta:.0f} s" if eta is not None else ""),
            extra={
                "done": done,
                "failed": failed,
                "total": self.total,
                "eta_s": round(eta, 1) if eta is not None else None,
            },
        )


class ShardRunner(Protocol):
    """A way of running one shard: on a thread of this process, or in a child process."""

    def for_target(self, target: TargetShards) -> Callable[[Shard], Outcome]:
        """What upgrades one of ``target``'s shards, from a worker thread, and says how
        it ended (having logged its one line, as :func:`log_shard_finished` words it)."""
        ...


def upgrade_fleet(
    targets: Sequence[TargetShards],
    options: RunOptions,
    revision: str,
    report: RunReport,
    *,
    parallel: int,
    stop_on_failure: bool,
) -> list[Outcome]:
    """Upgrade every shard of every target on threads of this process: :func:`run_fleet`."""
    return run_fleet(
        targets,
        _ShardUpgrades(options, revision, report),
        parallel=parallel,
        stop_on_failure=stop_on_failure,
        progress_interval=options.progress_interval,
    )


def run_fleet(
    targets: Sequence[TargetShards],
    runner: ShardRunner,
    *,
    parallel: int,
    stop_on_failure: bool,
    progress_interval: float,
) -> list[Outcome]:
    """Upgrade every shard of every target, the targets one after another, in order,
    each shard the ``runner``'s way; progress every ``progress_interval`` seconds.

    Raises ShardsFailed with the worst shard's status when any shard failed, and
    Interrupted on SIGTERM or SIGINT once the revisions in flight have finished.
    """
    progress = FleetProgress(sum(len(t.shards) for t in targets), progress_interval)
    outcomes: list[Outcome] = []
    for target in targets:
        if interrupts.stop_requested() or (
            stop_on_failure and any(o.exit_code not in {0, NOT_STARTED} for o in outcomes)
        ):
            outcomes += [Outcome(shard, NOT_STARTED, 0.0) for shard in target.shards]
            continue
        log.info(
            "migrating target",
            extra={"target_name": target.name, "shards": len(target.shards), "parallel": parallel},
        )
        outcomes += run_shards(
            target.shards,
            runner.for_target(target),
            parallel,
            stop_on_failure=stop_on_failure,
            progress=progress,
        )
    finish(outcomes, time.monotonic() - progress.started)
    return outcomes


def run_shards(
    shards: Sequence[Shard],
    work: Callable[[Shard], Outcome],
    parallel: int,
    *,
    stop_on_failure: bool,
    progress: FleetProgress,
) -> list[Outcome]:
    """Run ``work`` on every shard, at most ``parallel`` at a time; outcomes in the
    shards' order. On a signal, cut the sessions that only wait, let the revisions in
    flight finish, and return: the shards not started say NOT_STARTED."""
    queue = deque(enumerate(shards))
    results: dict[int, Outcome] = {}
    stop = threading.Event()
    taking = threading.Lock()

    def worker() -> None:
        while not stop.is_set() and not interrupts.stop_requested():
            with taking:
                if not queue:
                    return
                position, shard = queue.popleft()
            outcome = work(shard)
            results[position] = outcome
            progress.finished(outcome)
            if outcome.exit_code != 0 and stop_on_failure:
                stop.set()

    workers = [
        threading.Thread(target=worker, name=f"migrator-shard-{number}", daemon=True)
        for number in range(min(parallel, len(shards)))
    ]
    try:
        for thread in workers:
            thread.start()
        for thread in workers:
            while thread.is_alive():
                thread.join(JOIN_SLICE)
                progress.log_if_due()
    except Interrupted:
        with interrupts.held():
            interrupts.cut_waiting_sessions()
            log.warning("signal received: finishing the revisions in flight, starting no more")
            for thread in workers:
                thread.join()
    return _in_order(shards, results)


def _in_order(shards: Sequence[Shard], results: dict[int, Outcome]) -> list[Outcome]:
    return [
        results.get(position, Outcome(shard, NOT_STARTED, 0.0))
        for position, shard in enumerate(shards)
    ]


@dataclass
class _ShardUpgrades:
    """Each shard upgraded on a thread of this process: what the shards share, and what
    the fleet collects from them."""

    options: RunOptions
    revision: str
    report: RunReport  # the fleet's: every shard's applied revisions, the slowest statement
    _collecting: threading.Lock = field(default_factory=threading.Lock, init=False)

    def for_target(self, target: TargetShards) -> Callable[[Shard], Outcome]:
        scripts = ProjectScripts(target.project, self.revision)
        return lambda shard: self.upgrade(shard, scripts)

    def upgrade(self, shard: Shard, scripts: ProjectScripts) -> Outcome:
        started = time.monotonic()
        report = RunReport(command="upgrade")
        # Every line the shard's run logs says which shard it is about; its steps, at
        # INFO for a single database, are details here: the fleet logs one line per shard.
        with fields_for_context(shard.fields), shard_details_at_debug():
            try:
                upgrade_database(
                    scripts, shard.database, self.options, self.revision, report, quiet=True
                )
                code = int(ExitStatus.SUCCESS)
            except Interrupted as interrupted:
                code = int(interrupted.exit_status)
            except BaseException as error:  # one shard's failure is its outcome, not the run's
                code = _failure(error)
            finally:
                interrupts.forget_session()
                self._collect(report)
        outcome = Outcome(shard, code, time.monotonic() - started)
        log_shard_finished(outcome, len(report.applied))
        return outcome

    def _collect(self, report: RunReport) -> None:
        """A shard's applied revisions join the fleet's; its slowest statement is the
        fleet's when it took longer than any seen so far (the first of equals)."""
        with self._collecting:
            self.report.applied.extend(report.applied)
            slowest = self.report.slowest
            if report.slowest is not None and (
                slowest is None or report.slowest.duration_s > slowest.duration_s
            ):
                self.report.slowest = report.slowest


def _failure(error: BaseException) -> int:
    """The exit status of a shard's failure, logged once, as a single run logs it."""
    if interrupts.was_cut() and interrupts.stop_requested():
        # Its session was cut by the signal while it waited: interrupted, not failed.
        return int(interrupts.interrupted().exit_status)
    return int(log_failure(error, traceback=log.isEnabledFor(logging.DEBUG)))


def finish(outcomes: Sequence[Outcome], duration: float) -> None:
    """Log what became of the shards; raise for a signal, then for the worst failure."""
    interrupted = [o for o in outcomes if o.exit_code in INTERRUPTED]
    failed = [o for o in outcomes if o.exit_code not in {0, NOT_STARTED, *INTERRUPTED}]
    skipped = [o for o in outcomes if o.exit_code == NOT_STARTED]
    # Failed and interrupted shards have had their line (shard finished); those never
    # started are counted in the summary: a fleet stopped early would list hundreds.
    for outcome in skipped:
        log.debug("shard not started", extra=outcome.shard.fields)
    succeeded = len(outcomes) - len(failed) - len(skipped) - len(interrupted)
    summary = (
        f"{len(outcomes)} database(s): {succeeded} succeeded, {len(failed)} failed,"
        f" {len(skipped)} not started"
        + (f", {len(interrupted)} interrupted" if interrupted else "")
    )
    fields = {"duration_s": round(duration, 3), **_slowest_shards(outcomes)}
    if interrupts.stop_requested():
        log.warning(summary, extra=fields)
        raise interrupts.interrupted()
    status = worst([outcome.exit_code for outcome in outcomes])
    if status != ExitStatus.SUCCESS:
        unfinished = failed + interrupted
        labels = [o.label for o in unfinished[:FAILED_LABELS_SHOWN]]
        more = len(unfinished) - len(labels)
        raise ShardsFailed(
            summary + ": " + "; ".join(labels) + (f"; and {more} more" if more else ""), status
        )
    log.info(summary, extra=fields)


def _slowest_shards(outcomes: Sequence[Outcome]) -> dict[str, object]:
    """The slowest shards, when some took much longer than the rest."""
    durations = [o.duration for o in outcomes if o.exit_code != NOT_STARTED]
    if len(durations) < 2:
        return {}
    typical = statistics.median(durations)
    slow = sorted(
        (o for o in outcomes if o.duration >= max(1.0, 2 * typical)),
        key=lambda o: o.duration,
        reverse=True,
    )[:SLOWEST_SHOWN]
    if not slow:
        return {}
    return {
        "median_shard_s": round(typical, 3),
        "slowest_shards": [f"{o.label} {o.duration:.1f}s" for o in slow],
    }
