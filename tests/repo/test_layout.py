"""Every module of the runner is short, says its one purpose, and DEVELOPING.md lists it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.docs import section, table_rows
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


def test_the_developers_layout_names_every_package_and_module() -> None:
    layout = table_rows(section("DEVELOPING.md", "## Layout"))
    rows = {row.split(" | ", 1)[0].removeprefix("| ").strip("`"): row for row in layout}

    missing = []
    for module in sorted(PACKAGE.rglob("*.py")):
        package = module.parent.relative_to(PROJECT_ROOT).as_posix() + "/"
        if module.parent != PACKAGE and module.name == "__init__.py":
            named = package in rows  # a package is named by its own row
        else:
            named = f"`{module.name}`" in rows.get(package, "")
        if not named:
            missing.append(str(module.relative_to(PACKAGE)))

    assert missing == []


LONGEST_MODULE = 450  # lines: a longer module holds more than one concern


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_is_at_most_450_lines(module: Path) -> None:
    lines = len(module.read_text().splitlines())

    assert lines <= LONGEST_MODULE, f"{module.relative_to(PACKAGE)}: {lines} lines"


def test_the_package_holds_at_most_four_plain_modules_besides_its_subpackages() -> None:
    # `__init__`, `__main__`, `errors`, and one more if argued: the rest lives by concern.
    plain = sorted(path.name for path in PACKAGE.glob("*.py"))

    assert len(plain) <= 4, plain
