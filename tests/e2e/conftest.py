"""End-to-end fixtures: a real Docker engine, the image built from this checkout, compose.

Image names come from PYTHON_IMAGE and MYSQL_IMAGE (default: the official
images; `make offline-images` builds stand-ins on machines without a
registry). The compose tests run once per database image: MYSQL_IMAGE and
MYSQL97_IMAGE (default migrator-standin/mysql:9.7, real MySQL 9.7 built by
tests/e2e/offline-images.sh). DOCKER names the CLI (the docker.io package's CLI
builds with BuildKit where a newer CLI lacks buildx). Without an engine, or
without a database image that can be neither found nor pulled, these tests are
skipped, and with CI=true they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from migrator import __version__
from tests.conftest import PROJECT_ROOT, free_port, unavailable

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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("e2e measurements")
        for name, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{name}: {value}")


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


DATABASE_IMAGES = [
    pytest.param(image, id=database_image_id(image)) for image in (MYSQL_IMAGE, MYSQL97_IMAGE)
]


@pytest.fixture(scope="session")
def engine() -> None:
    try:
        available = docker("info", check=False, timeout=30).returncode == 0
    except FileNotFoundError:
        available = False
    if not available:
        unavailable(f"no Docker engine reachable with {DOCKER!r}")


@pytest.fixture(scope="session", params=DATABASE_IMAGES)
def database_image(request: pytest.FixtureRequest, engine: None) -> str:
    """The db service's image, one per parameter: present locally, or pulled once."""
    image: str = request.param
    require_image(image)
    MEASUREMENTS[f"database image {database_image_id(image)}"] = (
        f"{image}, {megabytes(int(inspect(image)['Size']))}"
    )
    return image


def require_image(image: str) -> None:
    """``image`` is present, or pulled now; otherwise the tests that need it cannot run."""
    if docker("image", "inspect", image, check=False, timeout=30).returncode == 0:
        return
    if image.startswith(STANDIN_PREFIX):
        unavailable(f"no image {image}: build it with `bash tests/e2e/offline-images.sh`")
    pull = docker("pull", image, check=False)
    if pull.returncode != 0:
        unavailable(f"no image {image} and it cannot be pulled: {pull.stderr.strip()}")


@pytest.fixture(scope="session")
def image(engine: None) -> Iterator[str]:
    """The image built from this checkout, its size printed at the end of the run; it and
    every variant the tests build are removed afterwards."""
    require_image(PYTHON_IMAGE)
    started = time.monotonic()
    built = build_image(IMAGE, PROJECT_ROOT, check=False)
    if built.returncode != 0 and "buildx component is missing" in built.stderr:
        unavailable(
            f"{DOCKER!r} cannot build with BuildKit (no buildx): run the tests through make,"
            " which picks the docker.io package's CLI"
        )
    if built.returncode != 0:
        pytest.fail(f"the image does not build:\n{built.stderr}")
    MEASUREMENTS["image build (cached layers allowed)"] = f"{time.monotonic() - started:.1f} s"
    size = int(inspect(IMAGE)["Size"])
    base = int(inspect(PYTHON_IMAGE)["Size"])
    MEASUREMENTS["image"] = f"{IMAGE} on {PYTHON_IMAGE}"
    MEASUREMENTS["image size"] = megabytes(size)
    MEASUREMENTS["size added over the base image"] = megabytes(size - base)
    yield IMAGE
    for tag in BUILT:
        docker("image", "rm", "--force", tag, check=False, timeout=120)


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


@pytest.fixture
def compose_project(tmp_path: Path, image: str, database_image: str) -> Iterator[Compose]:
    """The repository's docker-compose.yml with this checkout's image, once per database image."""
    password_file = tmp_path / "mysql_password"
    password_file.write_text("e2e-Pw@:/%#-canary\n")
    password_file.chmod(0o644)  # the runner reads it as UID 10001
    compose = Compose(
        directory=PROJECT_ROOT,
        settings={
            "MYSQL_IMAGE": database_image,
            "PYTHON_IMAGE": PYTHON_IMAGE,
            "MIGRATOR_IMAGE": image,
            "MYSQL_PASSWORD_FILE": str(password_file),
            "MYSQL_PORT": str(free_port()),
        },
    )
    yield compose
    compose("down", "--volumes", "--timeout", "5")


def run_image(
    *args: str, image: str = IMAGE, options: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --read-only` on the host network, where the test server listens."""
    return docker(
        "run", "--rm", "--read-only", "--network", "host", *options, image, *args, check=False
    )
