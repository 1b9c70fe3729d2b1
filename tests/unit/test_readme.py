"""The README's tables stay true to the code: every setting, command and exit code."""

from __future__ import annotations

import re

import pytest

from migrator.cli.main import COMMANDS
from migrator.errors import ExitStatus
from migrator.settings.declarations import declarations, markdown_table
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def table_rows(heading: str) -> list[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")][2:]


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = {re.findall(r"`(\w+)`", row)[0] for row in table_rows("Configuration")}

    assert documented == {declared.variable for declared in declarations()}


def test_the_configuration_table_is_the_one_the_declarations_make() -> None:
    # `python -m migrator.settings.declarations` prints it, for pasting after a change.
    assert markdown_table() in README


def test_every_command_is_in_the_commands_table() -> None:
    documented = {re.findall(r"`([a-z]+)", row)[0] for row in table_rows("Commands")}

    assert documented == set(COMMANDS)


@pytest.mark.parametrize("status", list(ExitStatus))
def test_every_exit_status_is_in_the_exit_code_table(status: ExitStatus) -> None:
    codes = {
        code
        for row in table_rows("Exit codes")
        for code in re.findall(r"\b\d+\b", row.split("|")[1])
    }

    assert str(int(status)) in codes
