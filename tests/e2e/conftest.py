"""End-to-end fixtures: a real Docker engine, the image built from this checkout, compose
(the helpers behind them are in tests/support/docker.py).

The compose tests run once per database image: MYSQL_IMAGE and MYSQL97_IMAGE.
Without an engine, or without a database image that can be neither found nor
pulled, these tests are skipped, and with CI=true they fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker import (
    BUILT,
    DOCKER,
    IMAGE,
    MEASUREMENTS,
    MYSQL97_IMAGE,
    MYSQL_IMAGE,
    PYTHON_IMAGE,
    Compose,
    build_image,
    database_image_id,
    docker,
    inspect,
    megabytes,
    require_image,
)
from tests.support.network import free_port
from tests.support.project import PROJECT_ROOT
from tests.support.unavailable import unavailable


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("e2e measurements")
        for name, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{name}: {value}")


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
