"""Docker for the end-to-end tests: the engine's CLI, the images, builds, `docker run`, and
compose projects of the repository's docker-compose.yml.

Image names come from PYTHON_IMAGE and MYSQL_IMAGE (default: the official
images; `make offline-images` builds stand-ins on machines without a
registry), and MYSQL97_IMAGE (default migrator-standin/mysql:9.7, real MySQL 9.7
built by tests/e2e/offline-images.sh). DOCKER names the CLI (the docker.io
package's CLI builds with BuildKit where a newer CLI lacks buildx).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from migrator import __version__
from tests.support.project import PROJECT_ROOT
from tests.support.unavailable import unavailable

DOCKER = os.environ.get("DOCKER", "docker")
PYTHON_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.12-slim-bookworm")
MYSQL_IMAGE = os.environ.get("MYSQL_IMAGE", "mysql:8.4")
MYSQL97_IMAGE = os.environ.get("MYSQL97_IMAGE", "migrator-standin/mysql:9.7")
# Images tests/e2e/offline-images.sh builds: never in a registry, so not pulled.
STANDIN_PREFIX = "migrator-standin/"
STANDIN_IDS = {
    "migrator-standin/mysql:bookworm": "mariadb-standin",
    "migrator-standin/mysql:9.7": "mysql-9.7-standin",
}
IMAGE = "migrator:e2e"
# What goes into the image, for building variants of it from a copy.
BUILD_CONTEXT = ["Dockerfile", ".dockerignore", "entrypoint.py", "requirements.lock",
                 "migrator", "schema", "migrations"]  # fmt: skip

# Figures printed at the end of the run (not asserted), so they can be tracked.
MEASUREMENTS: dict[str, str] = {}


def docker(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def inspect(name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(docker("inspect", name).stdout)
    return data[0]


# Every image tag the tests built, removed at the end of the session.
BUILT: list[str] = []


def build_image(tag: str, context: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    BUILT.append(tag)
    return docker(
        "build", "--quiet", "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}",
        "--build-arg", f"VERSION={__version__}", "-t", tag, str(context), check=check,
    )  # fmt: skip


def copy_build_context(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in BUILD_CONTEXT:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, destination / name)
    return destination


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def database_image_id(image: str) -> str:
    """A test id for a database image: its stand-in's role, else its name."""
    return STANDIN_IDS.get(image) or re.sub(r"[^A-Za-z0-9._]+", "-", image).strip("-")


def require_image(image: str) -> None:
    """``image`` is present, or pulled now; otherwise the tests that need it cannot run."""
    if docker("image", "inspect", image, check=False, timeout=30).returncode == 0:
        return
    if image.startswith(STANDIN_PREFIX):
        unavailable(f"no image {image}: build it with `bash tests/e2e/offline-images.sh`")
    pull = docker("pull", image, check=False)
    if pull.returncode != 0:
        unavailable(f"no image {image} and it cannot be pulled: {pull.stderr.strip()}")


@dataclass
class Compose:
    """One compose project of the repository's docker-compose.yml, torn down afterwards."""

    directory: Path
    settings: dict[str, str]
    project: str = field(default_factory=lambda: f"e2e{uuid.uuid4().hex[:8]}")

    @property
    def command(self) -> list[str]:
        probe = subprocess.run([DOCKER, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [DOCKER, "compose"]
        return ["docker-compose"]

    def __call__(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, "-p", self.project, *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, **self.settings},
        )

    def container(self, service: str) -> dict[str, Any] | None:
        ids = self("ps", "-a", "-q", service).stdout.split()
        return inspect(ids[0]) if ids else None

    def logs(self, service: str) -> str:
        return self("logs", "--no-color", service).stdout


def run_image(
    *args: str, image: str = IMAGE, options: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --read-only` on the host network, where the test server listens."""
    return docker(
        "run", "--rm", "--read-only", "--network", "host", *options, image, *args, check=False
    )
