"""The README's tables stay true to the code: every setting, command and exit code."""

from __future__ import annotations

import re

import pytest

from migrator.cli.main import COMMANDS
from migrator.errors import ExitStatus
from migrator.settings.declarations import declarations, markdown_table
from tests.support.docs import document, section, table_rows

# Every setting is in docs/configuration.md; the README shows the ten that people set.
CONFIGURATION = "docs/configuration.md"


def readme_rows(heading: str) -> list[str]:
    return table_rows(section("README.md", f"## {heading}"))


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = table_rows(section(CONFIGURATION, "## Every setting"))
    documented = {re.findall(r"`(\w+)`", row)[0] for row in rows}

    assert documented == {declared.variable for declared in declarations()}


def test_the_configuration_table_is_the_one_the_declarations_make() -> None:
    # `python -m migrator.settings.declarations` prints it, for pasting after a change.
    assert markdown_table() in document(CONFIGURATION)


def test_the_readme_shows_ten_settings_as_the_declarations_make_them() -> None:
    generated = markdown_table().splitlines()
    shown = [
        line for line in section("README.md", "## Configuration").splitlines() if line[:1] == "|"
    ]

    assert shown[:2] == generated[:2]
    assert len(shown[2:]) == 10
    assert [row for row in shown[2:] if row not in generated] == []


def test_every_command_is_in_the_commands_table() -> None:
    documented = {re.findall(r"`([a-z]+)", row)[0] for row in readme_rows("Commands")}

    assert documented == set(COMMANDS)


@pytest.mark.parametrize("status", list(ExitStatus))
def test_every_exit_status_is_in_the_exit_code_table(status: ExitStatus) -> None:
    codes = {
        code
        for row in readme_rows("Exit codes")
        for code in re.findall(r"\b\d+\b", row.split("|")[1])
    }

    assert str(int(status)) in codes
