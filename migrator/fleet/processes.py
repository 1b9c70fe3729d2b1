"""Many databases under MIGRATE_SHARD_ISOLATION=process: one child runner process per shard.

For revisions with process-wide side effects (a module-level cache, a
monkeypatch, a C extension that is not thread-safe): each shard pays for its own
Python, SQLAlchemy and Alembic, and nothing one shard does can reach another.
SIGTERM and SIGINT are passed on to the children, which stop at their next
revision boundary.
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from migrator.errors import Interrupted
from migrator.fleet.threads import (
    NOT_STARTED,
    FleetProgress,
    Outcome,
    Shard,
    TargetShards,
    finish,
    log_shard_finished,
)
from migrator.process.logs import get_logger
from migrator.settings.config import PROJECT_ROOT

log = get_logger()

POLL_INTERVAL = 0.05
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_when_orphaned() -> None:
    """In the child, before exec: SIGTERM when the parent dies.

    A parent killed outright (SIGKILL, the OOM killer) cannot pass a signal on; the
    kernel does, so each child stops at its next revision boundary instead of going
    on unwatched, with nobody left to report its outcome.
    """
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def upgrade_fleet_in_processes(
    targets: Sequence[TargetShards],
    revision: str,
    environment: Mapping[str, str],
    *,
    parallel: int,
    stop_on_failure: bool,
    progress_interval: float,
) -> list[Outcome]:
    """Upgrade every shard in a child `entrypoint.py upgrade`, the targets in order.

    ``environment`` is the children's: the run's own settings, without the pod's
    slice of shards (each child runs exactly the shard it is given).
    """
    progress = FleetProgress(sum(len(t.shards) for t in targets), progress_interval)
    # A child logs its steps at DEBUG (--shard-of-fleet): this process logs its outcome.
    command = [
        sys.executable,
        str(PROJECT_ROOT / "entrypoint.py"),
        "upgrade",
        revision,
        "--shard-of-fleet",
    ]
    outcomes: list[Outcome] = []
    for target in targets:
        jobs = [
            (shard, [*command, "--target", target.name, "--shard", str(shard.position)])
            for shard in target.shards
        ]
        if stop_on_failure and any(o.exit_code not in {0, NOT_STARTED} for o in outcomes):
            outcomes += [Outcome(shard, NOT_STARTED, 0.0) for shard, _ in jobs]
            continue
        log.info(
            "migrating target",
            extra={"target_name": target.name, "shards": len(jobs), "parallel": parallel},
        )
        outcomes += run_children(
            jobs,
            parallel,
            stop_on_failure=stop_on_failure,
            environment=environment,
            progress=progress,
        )
    finish(outcomes, time.monotonic() - progress.started)
    return outcomes


def run_children(
    jobs: Sequence[tuple[Shard, list[str]]],
    parallel: int,
    *,
    stop_on_failure: bool,
    environment: Mapping[str, str],
    progress: FleetProgress,
) -> list[Outcome]:
    """Run the (shard, argv) jobs, at most ``parallel`` at a time; outcomes in order."""
    with tempfile.TemporaryDirectory(prefix="migrator-shards-") as reports:
        return _run_children(
            jobs,
            parallel,
            stop_on_failure=stop_on_failure,
            environment=environment,
            progress=progress,
            reports=Path(reports),
        )


def _run_children(
    jobs: Sequence[tuple[Shard, list[str]]],
    parallel: int,
    *,
    stop_on_failure: bool,
    environment: Mapping[str, str],
    progress: FleetProgress,
    reports: Path,
) -> list[Outcome]:
    pending = list(enumerate(jobs))
    running: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    outcomes: dict[int, Outcome] = {}
    failed = False
    try:
        while pending or running:
            while pending and len(running) < parallel and not (failed and stop_on_failure):
                position, (_, argv) = pending.pop(0)
                # Each child's termination message tells this process what it applied.
                report = {"MIGRATE_TERMINATION_LOG": str(reports / f"{position}.json")}
                process = subprocess.Popen(
                    argv,
                    env={**environment, **report},
                    preexec_fn=_stop_when_orphaned if sys.platform == "linux" else None,  # noqa: PLW1509 - no threads here
                )
                running[position] = (process, time.monotonic())
            if failed and stop_on_failure and not running:
                break
            for position, (process, started) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[position]
                outcome = Outcome(jobs[position][0], code, time.monotonic() - started)
                outcomes[position] = outcome
                failed = failed or code != 0
                log_shard_finished(outcome, _applied(reports / f"{position}.json"))
                progress.finished(outcome)
            progress.log_if_due()
            time.sleep(POLL_INTERVAL)
    except Interrupted as interrupted:
        # Pass the signal on, then wait: each child stops at a revision boundary.
        for process, _ in running.values():
            process.send_signal(interrupted.signum)
        for process, _ in running.values():
            process.wait()
        raise
    for position, (shard, _) in pending:
        outcomes[position] = Outcome(shard, NOT_STARTED, 0.0)
    return [outcomes[position] for position in sorted(outcomes)]


def _applied(termination_message: Path) -> int | None:
    """How many revisions a child applied, from its termination message; None without one."""
    try:
        applied = json.loads(termination_message.read_text(encoding="utf-8")).get("applied")
    except (OSError, ValueError, AttributeError):
        return None
    return applied if isinstance(applied, int) else None
