"""Shared by every suite: run the entrypoint as a real process and read what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = PROJECT_ROOT / "entrypoint.py"


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


def finish(process: subprocess.Popen[str], started: float, timeout: float = 180) -> Result:
    stdout, stderr = process.communicate(timeout=timeout)
    return Result(process.returncode, stdout, stderr, time.monotonic() - started)


def run_entrypoint(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
) -> Result:
    started = time.monotonic()
    return finish(start_entrypoint(args, env, cwd), started, timeout)


RunEntrypoint = Callable[..., Result]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunEntrypoint:
    """Run the entrypoint with only the given settings, from an empty directory (no .env)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, **settings: str) -> Result:
        return run_entrypoint(args, runner_env(**settings), workdir)

    return run
