"""Server defaults that MySQL and MariaDB report in their own spelling compare equal."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from migrator.alembic_support.environment import compare_server_default, normalize_default


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
    assert normalize_default(reported, numeric=True) == normalize_default(declared, numeric=True)


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("current_timestamp(6)", "CURRENT_TIMESTAMP"),
        ("current_timestamp()", "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"),
        ("'1'", "0"),
    ],
)
def test_server_defaults_that_differ_stay_different(reported: str, declared: str) -> None:
    assert normalize_default(reported, numeric=True) != normalize_default(declared, numeric=True)


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("(json_array())", "(JSON_ARRAY())"),  # MySQL 9.7 lowercases, the model need not
        ("json_array()", "JSON_ARRAY()"),  # MariaDB, without the parentheses
        ("(_utf8mb4'')", "('')"),  # MySQL 9.7 writes the character set introducer
        ("(concat(_utf8mb4'a', _latin1'b'))", "(CONCAT('a', 'b'))"),
        ("'It''s'", "'It''s'"),
        ("current_timestamp()", "CURRENT_TIMESTAMP"),
    ],
)
def test_expression_defaults_in_the_servers_spelling_are_the_same(
    reported: str, declared: str
) -> None:
    assert normalize_default(reported, numeric=False) == normalize_default(declared, numeric=False)


@pytest.mark.parametrize(
    ("reported", "declared"),
    [
        ("'1.10'", "'1.1'"),
        ("'007'", "'7'"),
        ("'0'", "'0.00'"),
        ("'true'", "'1'"),
        ("'Draft'", "'draft'"),  # a literal keeps its case
        ("(concat('A', 'b'))", "(concat('a', 'b'))"),
        ("' _x'", "'x'"),  # an underscore inside a literal is no introducer
    ],
)
def test_string_defaults_are_compared_as_strings(reported: str, declared: str) -> None:
    assert normalize_default(reported, numeric=False) != normalize_default(declared, numeric=False)


@pytest.mark.parametrize(
    ("reported", "declared", "differ"),
    [
        ("'it''s on'", "it's on", False),  # alembic#1177: a quote inside the value
        ("'Hello'", "Hello", False),  # a value's case is its own
        ("'hello'", "Hello", True),
        ("'0'", "0", False),
    ],
)
def test_a_plain_string_server_default_is_compared_as_the_value_it_is(
    reported: str, declared: str, *, differ: bool
) -> None:
    column = sa.Column("motto", sa.String(40), server_default=declared)

    assert (
        compare_server_default(None, None, column, reported, column.server_default, declared)
        is differ
    )
