"""What `kubectl apply -k` would apply: a kustomization rendered by kubectl itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.unavailable import unavailable


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k directory` would apply."""
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed (.ci/run installs it)")
    built = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc is not None]
