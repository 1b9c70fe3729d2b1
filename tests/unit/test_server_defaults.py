"""Server defaults that MySQL and MariaDB report in their own spelling compare equal."""

from __future__ import annotations

import pytest

from migrator.alembic_env import normalize_default


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("'0'", "0.00"),
        ("(0)", "0"),
        ("current_timestamp()", "CURRENT_TIMESTAMP"),
        ("current_timestamp(6)", "CURRENT_TIMESTAMP(6)"),
        ("now(6)", "CURRENT_TIMESTAMP(6)"),
        (
            "current_timestamp() ON UPDATE current_timestamp()",
            "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
        ),
        ("(30 * 2)", "30 * 2"),
    ],
)
def test_server_defaults_spelled_differently_are_the_same(reported: str, declared: str) -> None:
    assert normalize_default(reported) == normalize_default(declared)


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("current_timestamp(6)", "CURRENT_TIMESTAMP"),
        ("current_timestamp()", "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"),
        ("'1'", "0"),
    ],
)
def test_server_defaults_that_differ_stay_different(reported: str, declared: str) -> None:
    assert normalize_default(reported) != normalize_default(declared)
