"""The runner as a real process: its environment, its start, its stderr read line by line,
its end, and what its JSON log lines say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.project import ENTRYPOINT


@dataclass(frozen=True)
class Result:
    """A finished runner process."""

    code: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON: a traceback or stray print fails the parse."""
        entries = []
        for line in self.stderr.splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"stderr line is not a JSON log line: {line!r}\n{self.stderr}")
        return entries

    def messages(self) -> list[str]:
        return [entry["message"] for entry in self.logs]

    @property
    def error(self) -> dict[str, Any]:
        """The one error line of a failed run."""
        errors = [entry for entry in self.logs if entry["level"] == "error"]
        assert len(errors) == 1, f"expected one error line, got {errors}"
        return errors[0]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def runner_env(**settings: str) -> dict[str, str]:
    """A minimal environment: no settings leak in from the developer's shell."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MIGRATE_LOG_FORMAT": "json",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(settings)
    return env


def start_entrypoint(
    args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str) -> str:
    """Read the runner's stderr up to the first line containing ``text``."""
    assert process.stderr is not None
    while line := process.stderr.readline():
        if text in line:
            return line
    raise AssertionError(f"the runner exited (status {process.wait()}) before logging {text!r}")


def wait_for_lines(process: subprocess.Popen[str], text: str, count: int) -> list[str]:
    """Read the runner's stderr up to the ``count``-th line containing ``text``; every line
    read is returned."""
    assert process.stderr is not None
    lines, found = [], 0
    while found < count and (line := process.stderr.readline()):
        lines.append(line)
        found += text in line
    if found < count:
        raise AssertionError(f"the runner exited (status {process.wait()}) before {count}"
                             f" lines with {text!r}")  # fmt: skip
    return lines


def finish(process: subprocess.Popen[str], started: float, timeout: float = 180) -> Result:
    stdout, stderr = process.communicate(timeout=timeout)
    return Result(process.returncode, stdout, stderr, time.monotonic() - started)


def kill_hard(process: subprocess.Popen[str]) -> str:
    """SIGKILL, as when a pod is killed or runs out of memory: what it wrote to stderr."""
    process.kill()
    return process.communicate(timeout=30)[1] or ""


def applied_revisions(*results: Result) -> Counter[str]:
    """How often each revision was applied, counted over the logs of several runs."""
    return Counter(
        entry["revision"]
        for result in results
        for entry in result.logs
        if entry["message"] == "applied revision"
    )


def run_entrypoint(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
) -> Result:
    started = time.monotonic()
    return finish(start_entrypoint(args, env, cwd), started, timeout)


RunEntrypoint = Callable[..., Result]
