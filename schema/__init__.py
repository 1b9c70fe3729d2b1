"""The application's schema: the source of truth that `autogenerate` and `check` compare with.

Add tables here, then run `make revision m="what changed"` to write the migration.
"""

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.dialects.mysql import SMALLINT, TINYINT

# Named constraints make migrations reproducible (no `drop_constraint(None, ...)`).
# Every generated name must stay within MySQL's 64-character identifier limit.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

status = Table(
    "status",
    metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("hp", SMALLINT, nullable=False, server_default="30"),
    Column("weapon_id", SMALLINT, nullable=False, server_default="1"),
    Column("weapon_lv", TINYINT, nullable=False, server_default="0"),
    Column("armor_id", SMALLINT, nullable=False, server_default="1"),
    Column("armor_lv", TINYINT, nullable=False, server_default="0"),
)
