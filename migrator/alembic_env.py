"""What migrations/env.py hands to Alembic: one place for every context option.

The runner puts the live connection, the target metadata and its callbacks in
``Config.attributes``; env.py reads them through these helpers and stays thin.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from alembic.config import Config
from alembic.util import CommandError

from migrator.marker import MARKER_TABLE

CONNECTION = "connection"
TARGET_METADATA = "target_metadata"
ON_VERSION_APPLY = "on_version_apply"


def connection(config: Config) -> sqlalchemy.Connection:
    """The runner's connection; env.py never builds an engine of its own."""
    live = config.attributes.get(CONNECTION)
    if not isinstance(live, sqlalchemy.Connection):
        raise CommandError(
            "this env.py takes its connection from the migration runner:"
            " run `python entrypoint.py COMMAND` instead of the alembic CLI"
        )
    return live


def context_options(config: Config) -> dict[str, Any]:
    """Options for ``context.configure``, shared by online and offline runs."""
    return {
        "target_metadata": config.attributes.get(TARGET_METADATA),
        # Alembic leaves server defaults out of comparisons unless asked.
        "compare_type": True,
        "compare_server_default": True,
        # MySQL DDL commits implicitly; one transaction per revision makes the
        # version row advance with each revision rather than once at the end.
        "transaction_per_migration": True,
        "on_version_apply": config.attributes.get(ON_VERSION_APPLY, ()),
        "include_name": include_name,
    }


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave the runner's own bookkeeping table out of autogenerate and check."""
    return not (type_ == "table" and name == MARKER_TABLE)
