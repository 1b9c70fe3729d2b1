"""The review printed after autogenerate judges a type change as `plan` does: a widening
is not destructive, a narrowing is."""

from __future__ import annotations

import pytest

from tests.support.migrations import Migrate
from tests.support.schema_module import SchemaModule

TABLE = """
notes = sa.Table(
    "notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", {body}, nullable=True),
)
"""


@pytest.mark.parametrize(
    ("before", "after", "destructive"),
    [
        ("sa.String(2048)", "sa.Text()", 0),
        ("sa.Text()", "mysql.MEDIUMTEXT()", 0),
        ("sa.CHAR(10)", "sa.String(20)", 0),
        ("sa.Text()", "sa.String(255)", 1),
        ("sa.BigInteger()", "sa.Integer()", 1),
    ],
    ids=[
        "varchar_to_text",
        "text_to_mediumtext",
        "char_to_varchar",
        "text_to_varchar",
        "bigint_to_int",
    ],
)
def test_autogenerate_flags_a_narrowing_type_change_and_not_a_widening(
    before: str, after: str, destructive: int, migrate: Migrate, schema: SchemaModule
) -> None:
    assert (
        migrate("autogenerate", "-m", "notes", **schema.write(TABLE.format(body=before))).code == 0
    )

    result = migrate("autogenerate", "-m", "retype", **schema.write(TABLE.format(body=after)))

    assert result.code == 0, result.stderr
    written = next(e for e in result.logs if e["message"] == "revision written")
    assert (written["operations"], written["destructive"]) == (1, destructive)
