"""Many databases under MIGRATE_SHARD_ISOLATION=process: each shard upgraded by a child runner.

For revisions with process-wide side effects (a module-level cache, a
monkeypatch, a C extension that is not thread-safe): each shard pays for its own
Python, SQLAlchemy and Alembic, and nothing one shard does can reach another.
Only the way one shard runs differs from threads: the loop over targets and
shards, the progress lines, the line per shard, the summary and
MIGRATE_ON_SHARD_FAILURE are :func:`migrator.fleet.threads.run_fleet`'s. A
worker thread starts each child and waits for it; SIGTERM and SIGINT are passed
on to the children, which stop at their next revision boundary.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from migrator.fleet.threads import (
    Outcome,
    Shard,
    TargetShards,
    log_shard_finished,
    run_fleet,
)
from migrator.process import interrupts
from migrator.settings.config import PROJECT_ROOT

POLL_INTERVAL = 0.05  # how often a worker looks up from waiting for its child
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# A child the signal reached before it could handle one: interrupted all the same.
KILLED_BY = {-signal.SIGTERM: 128 + signal.SIGTERM, -signal.SIGINT: 128 + signal.SIGINT}


def upgrade_fleet_in_processes(
    targets: Sequence[TargetShards],
    revision: str,
    environment: Mapping[str, str],
    *,
    parallel: int,
    stop_on_failure: bool,
    progress_interval: float,
) -> list[Outcome]:
    """Upgrade every shard in a child `python -m migrator upgrade`, in the fleet's loop.

    ``environment`` is the children's: the run's own settings, without the pod's
    slice of shards (each child runs exactly the shard it is given).
    """
    with tempfile.TemporaryDirectory(prefix="migrator-shards-") as reports:
        return run_fleet(
            targets,
            _ShardProcesses(revision, environment, Path(reports)),
            parallel=parallel,
            stop_on_failure=stop_on_failure,
            progress_interval=progress_interval,
        )


def _stop_when_orphaned() -> Callable[[], None] | None:
    """What a child runs before exec: ask for SIGTERM when its parent dies.

    A parent killed outright (SIGKILL, the OOM killer) cannot pass a signal on; the
    kernel does, so each child stops at its next revision boundary instead of going
    on unwatched, with nobody left to report its outcome. The kernel means the
    thread that started the child: the worker, which waits for it to end.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def ask_for_sigterm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return ask_for_sigterm


@dataclass
class _ShardProcesses:
    """Each shard upgraded by a child process, started and awaited by a worker thread."""

    revision: str
    environment: Mapping[str, str]
    reports: Path  # where each child writes its termination message
    _numbers: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _before_exec: Callable[[], None] | None = field(default_factory=_stop_when_orphaned, init=False)

    def for_target(self, target: TargetShards) -> Callable[[Shard], Outcome]:
        # -P: the child's path starts where this process's does (PROJECT_ROOT), not
        # with the working directory, which `python -m` would put first.
        # --shard-of-fleet: a child logs its steps at DEBUG; this process logs its outcome.
        command = [sys.executable, "-P", "-m", "migrator", "upgrade", self.revision]
        command += ["--shard-of-fleet", "--target", target.name]
        return lambda shard: self.upgrade(shard, [*command, "--shard", str(shard.position)])

    def upgrade(self, shard: Shard, argv: list[str]) -> Outcome:
        # Each child's termination message tells this process what it applied.
        report = self.reports / f"{next(self._numbers)}.json"
        # The child imports this very migrator, whatever its working directory.
        path = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), self.environment.get("PYTHONPATH")])
        )
        started = time.monotonic()
        child = subprocess.Popen(
            argv,
            env={**self.environment, "MIGRATE_TERMINATION_LOG": str(report), "PYTHONPATH": path},
            # Between fork and exec only a C function resolved beforehand runs: nothing
            # that takes a lock another thread may hold.
            preexec_fn=self._before_exec,  # noqa: PLW1509
        )
        code = _wait(child)
        outcome = Outcome(shard, KILLED_BY.get(code, code), time.monotonic() - started)
        log_shard_finished(outcome, _applied(report))
        return outcome


def _wait(child: subprocess.Popen[bytes]) -> int:
    """The child's exit status; a signal this process receives meanwhile is passed on,
    once: the child stops at its next revision boundary, or at once if it waits."""
    passed_on = False
    while True:
        with suppress(subprocess.TimeoutExpired):
            return child.wait(POLL_INTERVAL)
        if not passed_on and interrupts.stop_requested():
            child.send_signal(interrupts.interrupted().signum)
            passed_on = True


def _applied(termination_message: Path) -> int | None:
    """How many revisions a child applied, from its termination message; None without one."""
    try:
        applied = json.loads(termination_message.read_text(encoding="utf-8")).get("applied")
    except (OSError, ValueError, AttributeError):
        return None
    return applied if isinstance(applied, int) else None
