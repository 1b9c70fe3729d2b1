"""A schema module of a test's own: SQLAlchemy tables the runner compares a database with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCHEMA_TEMPLATE = """
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData(naming_convention={{
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}})

{tables}
"""


@dataclass
class SchemaModule:
    """A schema module of the test's own, found through MIGRATE_SCHEMA and PYTHONPATH."""

    directory: Path
    name: str = "app_schema"

    def write(self, tables: str) -> dict[str, str]:
        """Define the module's tables (Python source); returns the settings that select it."""
        (self.directory / f"{self.name}.py").write_text(SCHEMA_TEMPLATE.format(tables=tables))
        return self.settings

    @property
    def settings(self) -> dict[str, str]:
        return {"MIGRATE_SCHEMA": f"{self.name}:metadata", "PYTHONPATH": str(self.directory)}
