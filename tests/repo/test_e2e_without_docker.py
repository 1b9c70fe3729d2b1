"""Without a Docker engine, the e2e suite skips with a reason (and fails only with CI=true)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.project import run_in_project


def run_e2e(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update(settings)
    return run_in_project(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests/e2e"], env
    )


def test_no_engine_skips_every_e2e_test_with_the_reason() -> None:
    result = run_e2e(DOCKER="/nonexistent/docker")

    assert result.returncode == 0, result.stdout
    assert " skipped" in result.stdout
    assert "error" not in result.stdout.lower().replace("stderr", "")
    assert "no Docker engine reachable" in result.stdout


def test_no_engine_fails_with_ci_true() -> None:
    result = run_e2e(DOCKER="/nonexistent/docker", CI="true")

    assert result.returncode != 0
    assert "no Docker engine reachable" in result.stdout
