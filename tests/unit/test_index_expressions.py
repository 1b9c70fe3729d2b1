"""Index expressions as MySQL stores them compare equal to the models' spelling."""

from __future__ import annotations

import pytest

from migrator.autogenerate.indexes import normalize_expression


@pytest.mark.parametrize(
    ("stored", "declared"),
    [
        ("lower(`b`)", "lower(b)"),
        ("(`a` + 1)", "a + 1"),
        ("concat(`b`,_utf8mb4\\'x\\')", "concat(b, 'x')"),
        ("(lower(`b`))", "LOWER(b)"),
    ],
)
def test_index_expressions_in_the_servers_spelling_are_the_same(stored: str, declared: str) -> None:
    assert normalize_expression(stored) == normalize_expression(declared)


@pytest.mark.parametrize(
    ("stored", "declared"),
    [
        ("lower(`b`)", "upper(b)"),
        ("(`a` + 1)", "a + 2"),
        ("(`a` + 1) * (`b`)", "a + 1 * b"),  # outer parentheses go only when they pair
    ],
)
def test_different_index_expressions_stay_different(stored: str, declared: str) -> None:
    assert normalize_expression(stored) != normalize_expression(declared)
