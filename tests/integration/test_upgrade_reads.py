"""An upgrade reads the version and the run marker once before the lock and once under it.

The statements are those the runner really sends to a real server: PyMySQL's
``Cursor.execute`` is wrapped to record each one's text and then send it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import pymysql.cursors
import pytest

from migrator.core.upgrade import ProjectScripts, upgrade_database
from migrator.db.connection import ConnectionSettings
from migrator.db.marker import MARKER_TABLE
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.target import Project
from tests.support.migrations import Migrate, MigrationsDir
from tests.support.servers import ScratchDatabase

VERSION_READ = re.compile(r"^\s*SELECT\b.*\bFROM\s+`?alembic_version\b", re.IGNORECASE | re.DOTALL)
MARKER_READ = re.compile(rf"^\s*SELECT\b.*\bFROM\s+`?{MARKER_TABLE}\b", re.IGNORECASE | re.DOTALL)
TAKE_LOCK = re.compile(r"^\s*SELECT\s+GET_LOCK\(", re.IGNORECASE)
ENGINE = "-- the migration engine starts"


def reads(statements: list[str]) -> tuple[int, int]:
    """(version reads, marker reads). The fast path's one query reads both tables
    (alembic_version UNION ALL the marker table): it counts once in each column,
    as it is one read of each fact."""
    return (
        sum(1 for s in statements if VERSION_READ.search(s)),
        sum(1 for s in statements if MARKER_READ.search(s)),
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement this process sends, in order, for the test's duration."""
    statements: list[str] = []
    original = pymysql.cursors.Cursor.execute

    def execute(self: pymysql.cursors.Cursor, query: str, args: Any = None) -> int:
        statements.append(query)
        return original(self, query, args)

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", execute)
    # Where the migration engine (migrator.core.apply.run_steps and, inside it, Alembic)
    # takes over: its own reads of alembic_version, which Alembic's loop needs, are the
    # engine's, not the decision's.
    for name in ("migrator.core.migrate", "migrator.core.runner"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "run_steps"):
            run_steps: Callable[..., Any] = module.run_steps

            def probe(*args: Any, _run: Callable[..., Any] = run_steps, **kwargs: Any) -> Any:
                statements.append(ENGINE)
                return _run(*args, **kwargs)

            monkeypatch.setattr(module, "run_steps", probe)
    return statements


def test_an_upgrade_reads_the_version_and_the_marker_once_before_and_once_under_the_lock(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, sent: list[str]
) -> None:
    migrations.chain(1)
    assert migrate().code == 0
    migrations.add("r0002", "r0001", upgrade=["op.execute('CREATE TABLE t2 (id INT)')"])
    sent.clear()

    report = RunReport()
    upgrade_database(
        ProjectScripts(Project(migrations.path), "head"),
        ConnectionSettings(database.target, wait_timeout=10, connect_timeout=5),
        RunOptions(
            runner="test",
            lock_timeout=30,
            ddl_lock_timeout=10,
            on_unknown_revision="fail",
            use_lock=True,
            blocking_ddl="refuse",
            blocking_ddl_min_rows=1_000_000,
            progress_interval=60,
        ),
        "head",
        report,
    )

    statements = list(sent)
    assert report.applied == ["r0002"]
    assert database.version() == {"r0002"}
    sent = statements
    locks = [i for i, s in enumerate(sent) if TAKE_LOCK.search(s)]
    assert len(locks) == 1, sent
    assert ENGINE in sent, sent
    before, under = sent[: locks[0]], sent[locks[0] + 1 : sent.index(ENGINE)]
    assert reads(before) == (1, 1), before
    assert reads(under) == (1, 1), under
