"""Pieces of the core that need no server: waiting on a closed port, lock names, signals, diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pymysql
import pytest
import sqlalchemy as sa

from migrator.alembic_support.scripts import load_metadata
from migrator.autogenerate.review import describe_diff
from migrator.core.apply import _Progress
from migrator.db.connection import MAX_BACKOFF, ConnectionSettings, wait_for_database
from migrator.db.lock import MAX_LOCK_NAME, lock_name
from migrator.errors import DatabaseUnreachable, MigrationFailed, ScriptError
from migrator.settings.target import parse_database_url


class FakeClock:
    """Time that advances only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_retries_a_refused_port_with_capped_backoff_until_the_deadline() -> None:
    # Port 1 on loopback refuses at once: a real "server not up yet".
    settings = ConnectionSettings(
        target=parse_database_url("mysql://root@127.0.0.1:1/db"),
        wait_timeout=30,
        connect_timeout=1,
    )
    clock = FakeClock()

    with pytest.raises(DatabaseUnreachable, match="did not accept a login within 30s") as caught:
        wait_for_database(settings, sleep=clock.sleep, clock=clock)

    assert "Can't connect" in str(caught.value)
    assert clock.now == pytest.approx(30, abs=0.01)
    assert max(clock.sleeps) <= MAX_BACKOFF
    assert len(clock.sleeps) > 15  # kept trying, not one long sleep


def test_lock_names_fit_mysqls_limit() -> None:
    assert lock_name("shop") == "migrator:shop"
    assert lock_name("Shop") == lock_name("shop")  # GET_LOCK names are case-insensitive
    long_name = lock_name("x" * 64)
    assert len(long_name) == MAX_LOCK_NAME
    assert long_name != lock_name("x" * 63 + "y")


def test_describe_diff_names_the_objects() -> None:
    metadata = sa.MetaData()
    table = sa.Table("accounts", metadata, sa.Column("id", sa.Integer, primary_key=True))
    column = sa.Column("level", sa.Integer)

    assert describe_diff(("add_table", table)) == "add_table accounts"
    assert describe_diff(("add_column", None, "accounts", column)) == "add_column accounts.level"
    modification: list[tuple[object, ...]] = [
        ("modify_nullable", None, "accounts", "level", {}, True, False)
    ]
    assert describe_diff(modification) == "modify_nullable accounts.level"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            pymysql.err.OperationalError(2013, "Lost connection to MySQL server"),
            DatabaseUnreachable,
        ),
        (pymysql.err.OperationalError(2006, "MySQL server has gone away"), DatabaseUnreachable),
        (RuntimeError("env.py is broken"), ScriptError),
        (SystemExit(0), ScriptError),
        # The marker is written on the driver session: PyMySQL's own error, unwrapped.
        (
            pymysql.err.ProgrammingError(1146, "Table 'test.migrator_run_marker' doesn't exist"),
            MigrationFailed,
        ),
    ],
    ids=["lost", "gone away", "env.py raised", "env.py exited", "marker not written"],
)
def test_a_failure_outside_any_revision_keeps_its_meaning(
    error: BaseException, expected: type[Exception]
) -> None:
    # Between revisions (preparing the session, recording a marker) nothing is
    # half-done: a lost connection is exit 3, which pods retry, not exit 6.
    progress = _Progress(
        script=cast("Any", None),
        connection=cast("Any", None),
        runner="test",
        ddl_lock_timeout=30,
        stamped=(),
    )

    assert type(progress.failure(error)) is expected


def test_the_schema_may_be_the_metadata_of_an_applications_declarative_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shopapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        "class Order(Base):\n"
        "    __tablename__ = 'orders'\n"
        "    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    metadata = load_metadata("shopapp.models:Base.metadata")

    assert set(metadata.tables) == {"orders"}
    with pytest.raises(ScriptError, match=r"shopapp\.models\.Base\.nope is not a SQLAlchemy"):
        load_metadata("shopapp.models:Base.nope")
