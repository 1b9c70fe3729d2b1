"""One narrowing judgement for `plan` and the review of a generated revision: widenings
pass, changes that may cut, round, refuse or rewrite a value are flagged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from migrator.autogenerate import review
from migrator.ddl.narrowing import narrows

WIDENINGS = [
    ("varchar(2048)", "text"),
    ("text", "mediumtext"),
    ("mediumtext", "longtext"),
    ("char(10)", "varchar(20)"),
    ("char(10)", "varchar(10)"),
    ("varchar(40)", "varchar(41)"),
    ("float", "double"),
    ("float(53)", "double"),
    ("int", "bigint"),
    ("int(11)", "bigint(20)"),
    ("tinyint(1)", "smallint"),
    ("smallint unsigned", "int"),
    ("int unsigned", "bigint"),
    ("int", "double"),
    ("mediumint", "float"),
    ("int", "decimal(10,0)"),
    ("decimal(10,2)", "decimal(12,4)"),
    ("decimal(10,2)", "decimal(11,2)"),
    ("binary(4)", "varbinary(8)"),
    ("varbinary(255)", "blob"),
    ("blob", "longblob"),
    ("enum('a','b')", "enum('a','b','c')"),
    ("enum('a','b')", "enum('b','a')"),
    ("enum('small','large')", "varchar(5)"),
    ("set('a','b')", "set('a','b','c')"),
    ("date", "datetime"),
    ("timestamp", "datetime"),
    ("datetime", "datetime(6)"),
    ("time", "time(3)"),
    ("bit(1)", "bit(8)"),
    ("json", "longtext"),
    ("text", "text"),
]
NARROWINGS = [
    ("varchar(40)", "varchar(20)"),
    ("text", "varchar(255)"),
    ("mediumtext", "text"),
    ("varchar(20000)", "text"),  # 80,000 bytes of utf8mb4 against 65,535
    ("varchar(10)", "char(10)"),  # CHAR drops trailing spaces
    ("double", "float"),
    ("bigint", "int"),
    ("int", "smallint"),
    ("int", "int unsigned"),
    ("int unsigned", "int"),
    ("bigint", "double"),  # past 2**53 a double rounds
    ("int", "float"),
    ("int", "decimal(9,0)"),
    ("decimal(10,2)", "decimal(10,4)"),  # fewer digits before the point
    ("decimal(10,2)", "decimal(10,1)"),
    ("decimal(10,2)", "double"),
    ("double", "decimal(10,2)"),
    ("varbinary(8)", "binary(8)"),  # BINARY pads with zero bytes
    ("blob", "tinyblob"),
    ("enum('a','b')", "enum('a')"),
    ("enum('small','large')", "varchar(4)"),
    ("set('a','b')", "set('a')"),
    ("datetime", "date"),
    ("datetime", "timestamp"),
    ("date", "timestamp"),
    ("datetime(6)", "datetime"),
    ("time(3)", "time"),
    ("bit(8)", "bit(1)"),
    ("text", "json"),
    ("int", "varchar(20)"),  # a change of kind is not judged safe
    ("varchar(20)", "int"),
    ("geometry", "point"),
]


@pytest.mark.parametrize(("old", "new"), WIDENINGS)
def test_a_widening_is_not_a_narrowing(old: str, new: str) -> None:
    assert not narrows(old, new)


@pytest.mark.parametrize(("old", "new"), NARROWINGS)
def test_a_narrowing_is_flagged(old: str, new: str) -> None:
    assert narrows(old, new)


@pytest.mark.parametrize(
    ("old", "new", "narrowing"),
    [
        (sa.String(2048), sa.Text(), False),
        (sa.Text(), mysql.MEDIUMTEXT(), False),
        (sa.CHAR(10), sa.String(20), False),
        (mysql.FLOAT(), mysql.DOUBLE(), False),
        (sa.Float(), sa.Float(precision=53), False),
        (sa.Integer(), sa.BigInteger(), False),
        (mysql.INTEGER(display_width=11), sa.Integer(), False),
        (sa.Boolean(), sa.Integer(), False),
        (sa.Numeric(10, 2), sa.Numeric(12, 2), False),
        (sa.String(40), sa.String(20), True),
        (sa.BigInteger(), sa.Integer(), True),
        (mysql.INTEGER(), mysql.INTEGER(unsigned=True), True),
        (sa.Enum("a", "b"), sa.Enum("a"), True),
        (sa.Text(), sa.String(255), True),
        (sa.DateTime(), sa.Date(), True),
    ],
)
def test_the_review_of_a_generated_revision_judges_as_plan_does(
    old: sa.types.TypeEngine[object], new: sa.types.TypeEngine[object], narrowing: bool
) -> None:
    assert review.narrows(old, new) is narrowing
