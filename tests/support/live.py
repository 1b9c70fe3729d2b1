"""A fingerprint of everything a live database holds, to prove a command left it alone."""

from __future__ import annotations

import hashlib
from contextlib import closing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.servers import ScratchDatabase


def live_checksum(database: ScratchDatabase) -> str:
    """A digest of the database's tables, views, triggers and routines as the server prints
    them, and of every base table's rows: equal before and after means nothing changed.

    Read with the server's own account, so that nothing is hidden by the runner's grants.
    """
    digest = hashlib.sha256()
    with (
        closing(database.server.connect(database.name)) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT table_name, table_type FROM information_schema.tables"
            " WHERE table_schema = %s ORDER BY table_name",
            (database.name,),
        )
        objects = [(str(name), str(kind)) for name, kind in cursor.fetchall()]
        for name, kind in objects:
            cursor.execute(f"SHOW CREATE TABLE `{name}`")
            digest.update(repr(cursor.fetchall()).encode())
            if kind == "BASE TABLE":
                cursor.execute(f"CHECKSUM TABLE `{name}` EXTENDED")
                digest.update(repr([row[1] for row in cursor.fetchall()]).encode())
        cursor.execute(
            "SELECT trigger_name, action_statement FROM information_schema.triggers"
            " WHERE trigger_schema = %s ORDER BY trigger_name",
            (database.name,),
        )
        digest.update(repr(cursor.fetchall()).encode())
        cursor.execute(
            "SELECT routine_name, routine_definition FROM information_schema.routines"
            " WHERE routine_schema = %s ORDER BY routine_name",
            (database.name,),
        )
        digest.update(repr(cursor.fetchall()).encode())
    return digest.hexdigest()
