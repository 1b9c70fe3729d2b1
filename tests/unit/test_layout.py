"""Every module of the runner has one purpose, said in one sentence, and the README lists it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

MODULES = sorted(
    path for path in (PROJECT_ROOT / "migrator").glob("*.py") if path.name != "__main__.py"
)


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_a_module_says_its_purpose_in_one_sentence_without_an_and(module: Path) -> None:
    docstring = ast.get_docstring(ast.parse(module.read_text())) or ""
    purpose = docstring.split("\n\n", 1)[0].replace("\n", " ")

    assert purpose.endswith("."), purpose
    assert " and " not in f" {purpose} ", purpose


def test_the_readme_layout_names_every_module() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    layout = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]

    missing = [m.name for m in MODULES if m.name != "__init__.py" and f"`{m.name}`" not in layout]

    assert missing == []
