"""Many databases at once: one runner process per shard, a bounded number at a time.

Each shard runs in a child process of its own (Alembic keeps module-global
state, so threads are out) with its own connection, lock and exit status; one
shard failing never hides another's result. SIGTERM and SIGINT are passed on
to the children, which stop at their next revision boundary.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from migrator.errors import ExitStatus, Interrupted
from migrator.logs import get_logger

log = get_logger()

POLL_INTERVAL = 0.05
NOT_STARTED = -1

# Which shard's status becomes the run's exit status: the first of these found.
SEVERITY = (
    ExitStatus.INTERNAL_ERROR,
    ExitStatus.MIGRATION_FAILED,
    ExitStatus.SCRIPT_ERROR,
    ExitStatus.UNKNOWN_REVISION,
    ExitStatus.ACCESS_DENIED,
    ExitStatus.CONFIG_ERROR,
    ExitStatus.LOCK_TIMEOUT,
    ExitStatus.DATABASE_UNREACHABLE,
    ExitStatus.DRIFT_DETECTED,
    ExitStatus.PENDING_REVISIONS,
    ExitStatus.INTERRUPTED_SIGTERM,
    ExitStatus.INTERRUPTED_SIGINT,
)


@dataclass(frozen=True)
class Job:
    label: str  # the shard, password masked
    argv: list[str]


@dataclass(frozen=True)
class Outcome:
    label: str
    exit_code: int  # NOT_STARTED for a shard skipped after another failed
    duration: float


def worst(codes: Sequence[int]) -> ExitStatus:
    for status in SEVERITY:
        if status in codes:
            return status
    return (
        ExitStatus.SUCCESS
        if all(code in {0, NOT_STARTED} for code in codes)
        else (ExitStatus.INTERNAL_ERROR)
    )


def run_jobs(
    jobs: Sequence[Job],
    parallel: int,
    *,
    stop_on_failure: bool,
    spawn: Callable[[list[str]], subprocess.Popen[bytes]],
) -> list[Outcome]:
    """Run the jobs, at most ``parallel`` at a time; outcomes in the jobs' order."""
    pending = list(enumerate(jobs))
    running: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    outcomes: dict[int, Outcome] = {}
    failed = False
    try:
        while pending or running:
            while pending and len(running) < parallel and not (failed and stop_on_failure):
                position, job = pending.pop(0)
                running[position] = (spawn(job.argv), time.monotonic())
            if failed and stop_on_failure and not running:
                break
            for position, (process, started) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[position]
                job = jobs[position]
                outcomes[position] = Outcome(job.label, code, time.monotonic() - started)
                failed = failed or code != 0
                log.info(
                    "shard finished",
                    extra={"shard": job.label, "exit_code": code,
                           "duration_s": round(time.monotonic() - started, 3)},
                )  # fmt: skip
            time.sleep(POLL_INTERVAL)
    except Interrupted as interrupted:
        # Pass the signal on, then wait: each child stops at a revision boundary.
        for process, _ in running.values():
            process.send_signal(interrupted.signum)
        for process, _ in running.values():
            process.wait()
        raise
    for position, job in pending:
        outcomes[position] = Outcome(job.label, NOT_STARTED, 0.0)
    return [outcomes[position] for position in sorted(outcomes)]
