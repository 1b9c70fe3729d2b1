"""The release is named once: --version, pyproject.toml, the Makefile's tag, the changelog."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from migrator import __version__
from tests.support.docs import document
from tests.support.project import ENTRYPOINT, PROJECT_ROOT


def test_the_version_is_a_semantic_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_version_prints_it() -> None:
    shown = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "--version"], capture_output=True, text=True, check=True
    )

    assert shown.stdout.split() == ["migrator", __version__]


def test_pyproject_takes_it_from_the_package_and_names_no_other() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())

    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "migrator.__version__"}


def test_the_dockerfile_names_no_version_of_its_own() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()

    assert "ARG VERSION=unknown" in dockerfile
    assert 'org.opencontainers.image.version="${VERSION}"' in dockerfile


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_image_labels_and_tags_the_image_with_it() -> None:
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "image", "IMAGE=migrator:probe"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert f"--build-arg VERSION={__version__}" in planned
    assert f"-t migrator:{__version__}" in planned


def test_the_changelog_starts_with_it() -> None:
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text()

    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.MULTILINE)
    assert releases[0] == __version__


def test_the_license_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())

    assert project["project"]["license"] == "MIT"
    assert (PROJECT_ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_kubernetes_docs_name_this_releases_jobs() -> None:
    kubernetes = document("docs/kubernetes.md")
    release = __version__.replace(".", "-")

    assert f"`app-migrate-{release}`" in kubernetes
    assert f"`game-migrate-{release}`" in kubernetes
