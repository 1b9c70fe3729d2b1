"""Alembic's, SQLAlchemy's and PyMySQL's private internals are touched in the compat modules only.

Each touch there has a docstring and a smoke test (test_alembic_compat.py,
test_driver_compat.py); a touch anywhere else would have neither.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from migrator.settings.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "migrator"
COMPAT_MODULES = frozenset(
    {
        PACKAGE / "alembic_support" / "compat.py",
        PACKAGE / "autogenerate" / "compat.py",
        PACKAGE / "db" / "driver_compat.py",
    }
)
LIBRARIES = frozenset({"alembic", "sqlalchemy", "pymysql"})
OWN_OBJECTS = frozenset({"self", "cls"})


def _private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not name.startswith("__")


def private_names(module: Path) -> set[str]:
    """The private names a module reaches into other objects for: attributes (not its
    own object's), keyword arguments, names imported from the libraries, and strings
    that name one (for getattr)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in OWN_OBJECTS):
                found.add(node.attr)
        elif isinstance(node, ast.keyword) and _private(node.arg):
            found.add(str(node.arg))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            found.update(alias.name for alias in node.names if _private(alias.name))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _private(node.value)
            and node.value.isidentifier()
        ):
            found.add(node.value)
    return found


def _touched_in_compat() -> set[str]:
    return set().union(*(private_names(module) for module in COMPAT_MODULES))


@pytest.mark.parametrize("module", sorted(COMPAT_MODULES), ids=lambda path: path.name)
def test_each_compat_module_exists_and_touches_something(module: Path) -> None:
    assert private_names(module)


@pytest.mark.parametrize(
    "module",
    sorted(set(PACKAGE.rglob("*.py")) - COMPAT_MODULES),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_no_other_module_touches_a_private_internal(module: Path) -> None:
    tree = ast.parse(module.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES
        for alias in node.names
        if _private(alias.name)
    }
    assert imported == set()
    assert private_names(module) & _touched_in_compat() == set()
