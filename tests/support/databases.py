"""More databases beside a test's own: another one its user may write, or one with an odd name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.servers import ScratchDatabase, Server, grants_for


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@contextmanager
def another_database(owner: ScratchDatabase) -> Iterator[ScratchDatabase]:
    """A second database on ``owner``'s server, with one row in a table `t`, which
    ``owner``'s application user may write too: what a statement must never reach
    from a copy of ``owner``."""
    assert owner.app_user is not None
    other = ScratchDatabase(owner.server, f"other_{uuid.uuid4().hex[:12]}", owner.app_user)
    owner.server.execute(f"CREATE DATABASE {quoted(other.name)}")
    try:
        owner.server.execute(f"GRANT ALL ON {quoted(other.name)}.* TO '{owner.app_user[0]}'@'%'")
        other.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        other.execute("INSERT INTO t VALUES (1)")
        yield other
    finally:
        owner.server.execute(f"DROP DATABASE IF EXISTS {quoted(other.name)}")


@contextmanager
def oddly_named_database(server: Server) -> Iterator[ScratchDatabase]:
    """A fresh database whose name needs backquotes and has capitals (`Mt-Odd-…`), and
    its application user, granted as the README says."""
    name = f"Mt-Odd-{uuid.uuid4().hex[:12]}"
    user, password = f"app_{uuid.uuid4().hex[:12]}", f"app-Pw-{uuid.uuid4().hex[:8]}"
    try:
        server.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", password)
        server.execute(f"CREATE DATABASE {quoted(name)}")
        for grant in grants_for(name):
            server.execute(f"GRANT {grant} TO '{user}'@'%'")
        yield ScratchDatabase(server, name, (user, password))
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {quoted(name)}")
        server.execute(f"DROP USER IF EXISTS '{user}'@'%'")
