"""The example `game` target's schema: one database per shard (see the README, "Many databases").

deploy/kubernetes/sharded/ migrates it. Delete this module and migrations/game/
if your application has no such target.
"""

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.dialects.mysql import SMALLINT

from schema import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

inventory = Table(
    "inventory",
    metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("item_id", SMALLINT, primary_key=True, autoincrement=False),
    Column("quantity", Integer, nullable=False, server_default="0"),
)
