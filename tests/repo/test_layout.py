"""Every module of the runner has one purpose, said in one sentence, and the README lists it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.project import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "migrator"
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__main__.py")


# The structure itself (which package may import which, no cycles) is import-linter's
# to hold, in `make lint`; a module's docstring says what it is for.
@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_says_its_purpose_in_one_sentence(module: Path) -> None:
    docstring = ast.get_docstring(ast.parse(module.read_text())) or ""
    purpose = docstring.split("\n\n", 1)[0].replace("\n", " ")

    assert purpose.endswith("."), purpose


def test_the_readme_layout_names_every_module() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    layout = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]

    missing = [m.name for m in MODULES if m.parent == PACKAGE and m.name != "__init__.py"]
    missing = [name for name in missing if f"`{name}`" not in layout]

    assert missing == []
