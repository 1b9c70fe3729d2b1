"""The physical check of `plan` and the guard: a writer inserting into a big table while a
revision alters it is stalled exactly when `plan` said the statement blocks writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
import pytest

from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.polling import wait_until
from tests.support.servers import ScratchDatabase
from tests.support.tables import fill

ROWS = 2**19
# A cascading foreign key keeps MariaDB 11.4+ from copying the table online, so the
# type change below blocks writes on every server.
TABLES = [
    "CREATE TABLE owners (id INT PRIMARY KEY)",
    "CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, a INT NOT NULL,"
    " b VARCHAR(100) NOT NULL, owner_id INT NULL,"
    " FOREIGN KEY (owner_id) REFERENCES owners (id) ON DELETE CASCADE)",
]
NOT_BLOCKING = "CREATE INDEX ix_big_b ON big (b)"
BLOCKING = "ALTER TABLE big MODIFY a BIGINT NOT NULL"


@pytest.fixture
def big_table(migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase) -> None:
    migrations.add("b1", None, upgrade=[sql(statement) for statement in TABLES])
    assert migrate("upgrade").code == 0
    fill(database, "big", ROWS)


@contextmanager
def writer(database: ScratchDatabase) -> Iterator[list[float]]:
    """Insert into `big` in a loop; yields the list that receives the longest stall."""
    longest: list[float] = []
    stop, writing = threading.Event(), threading.Event()

    def write() -> None:
        connection = database.server.connect(database.name)
        worst, last = 0.0, time.monotonic()
        try:
            with connection.cursor() as cursor:
                while not stop.is_set():
                    cursor.execute("INSERT INTO big (a, b) VALUES (0, 'w')")
                    writing.set()
                    now = time.monotonic()
                    worst, last = max(worst, now - last), now
                    time.sleep(0.01)  # the writer's pace: a steady writer, not a flood
        except pymysql.err.MySQLError:
            worst = float("inf")
        finally:
            connection.close()
            longest.append(worst)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    wait_until(  # writing before the revision starts
        lambda: writing.is_set() or not thread.is_alive(), message="the writer never wrote"
    )
    try:
        yield longest
    finally:
        stop.set()
        thread.join(timeout=120)


def plan_says(migrate: Migrate) -> dict[str, object]:
    before = live_checksum(migrate.database)
    result = migrate("plan", "--format", "json")
    assert live_checksum(migrate.database) == before
    assert result.code == 0, result.stderr
    (statement,) = json.loads(result.stdout)["statements"]
    assert isinstance(statement, dict)
    return statement


def test_a_statement_plan_calls_non_blocking_does_not_stall_a_writer(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, big_table: None
) -> None:
    migrations.add("b2", "b1", upgrade=[sql(NOT_BLOCKING)])
    assert plan_says(migrate)["blocks_writes"] is False

    with writer(database) as longest:
        result = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse")

    assert result.code == 0, result.stderr
    print(f"longest stall, non-blocking: {longest[0]:.3f} s")  # for the closing note (-rP)
    assert longest[0] < 1.0


def test_a_statement_plan_calls_blocking_stalls_a_writer_and_refuse_keeps_it_out(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, big_table: None
) -> None:
    migrations.add("b2", "b1", upgrade=[sql(BLOCKING)])
    assert plan_says(migrate)["blocks_writes"] is True

    with writer(database) as refused_stall:
        refused = migrate("upgrade", MIGRATE_BLOCKING_DDL="refuse")
    with writer(database) as allowed_stall:
        allowed = migrate("upgrade", MIGRATE_BLOCKING_DDL="allow")

    print(f"longest stall, refused: {refused_stall[0]:.3f} s, allowed: {allowed_stall[0]:.3f} s")
    assert refused.code == 11, refused.stderr
    assert refused_stall[0] < 1.0
    assert allowed.code == 0, allowed.stderr
    assert allowed_stall[0] > 1.0
