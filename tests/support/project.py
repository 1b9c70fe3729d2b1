"""Where the project is, and commands run in its root (make, a nested pytest)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ENTRYPOINT = PROJECT_ROOT / "entrypoint.py"


def run_in_project(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A command run in the project's root (make, a nested pytest), its output captured."""
    return subprocess.run(
        list(argv),
        cwd=PROJECT_ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
