"""MIGRATE_BLOCKING_DDL=online: a change the server would run blocking writes goes through
pt-online-schema-change, with the runner's lock, marker, signals and secrets.

The tests on big tables are marked `online_ddl` (select or leave them out with -m).
MariaDB 11.4+ copies a table online by itself, so the revisions write `LOCK=SHARED`,
which every server runs blocking writes: the guard then hands the change to the tool.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tests.support.live import live_checksum
from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.online import (
    allow_triggers,
    children_of,
    freeze,
    leftovers,
    require_tool,
    tool_processes,
    writer,
)
from tests.support.polling import wait_until
from tests.support.runner import Result, applied_revisions, finish, start_entrypoint, wait_for_line
from tests.support.servers import ScratchDatabase
from tests.support.tables import fill

BIG = (
    "CREATE TABLE big (id INT PRIMARY KEY AUTO_INCREMENT, a INT NOT NULL,"
    " c INT NOT NULL DEFAULT 0, b VARCHAR(100) NOT NULL)"
)
ONLINE = {"MIGRATE_BLOCKING_DDL": "online", "MIGRATE_PROGRESS_INTERVAL": "1"}
TO_BIGINT = "ALTER TABLE big MODIFY a BIGINT NOT NULL, LOCK=SHARED"


@pytest.fixture(autouse=True)
def _tool() -> None:
    require_tool()


def big_table(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, rows: int
) -> None:
    migrations.add("b1", None, upgrade=[sql(BIG)])
    assert migrate("upgrade").code == 0
    fill(database, "big", rows)
    allow_triggers(database)


def column_type(database: ScratchDatabase, column: str, table: str = "big") -> str:
    rows = database.server.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s AND column_name = %s",
        database.name,
        table,
        column,
    )
    return str(rows[0][0]).lower()


def original_rows(database: ScratchDatabase, last: int) -> tuple[int, int]:
    """Count and checksum of the rows filled in before the change (ids 1..last)."""
    ((count, checksum),) = database.execute(
        "SELECT COUNT(*), SUM(CRC32(CONCAT_WS(',', id, a, c, b))) FROM big WHERE id <= %s",
        last,
    )
    return int(count), int(checksum)


def definition(database: ScratchDatabase, table: str) -> str:
    text = str(database.execute(f"SHOW CREATE TABLE `{table}`")[0][1])
    return re.sub(r" AUTO_INCREMENT=\d+", "", text).replace(f"`{table}`", "`T`", 1)


# --- Refusals, before any work -------------------------------------------------------


def test_a_table_without_a_primary_key_is_refused_before_any_work(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("n1", None, upgrade=[sql("CREATE TABLE nopk (a INT NOT NULL, b INT NULL)")])
    assert migrate("upgrade").code == 0
    database.execute("INSERT INTO nopk VALUES (1, 1), (2, NULL)")
    allow_triggers(database)
    migrations.add(
        "n2", "n1", upgrade=[sql("ALTER TABLE nopk MODIFY a BIGINT NOT NULL, LOCK=SHARED")]
    )
    before = live_checksum(database)

    result = migrate("upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 11, result.stderr
    assert "no primary key" in result.error["message"]
    assert "nothing was run" in result.error["message"]
    assert live_checksum(database) == before


def test_a_rename_is_refused_before_any_work(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, 10)
    migrations.add(
        "b2", "b1", upgrade=[sql("ALTER TABLE big MODIFY a BIGINT, RENAME TO huge, LOCK=SHARED")]
    )
    before = live_checksum(database)

    result = migrate("upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 11, result.stderr
    assert "renames the table" in result.error["message"]
    assert live_checksum(database) == before


def test_a_table_that_foreign_keys_reference_is_refused(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, 10)
    database.execute("CREATE TABLE child (id INT PRIMARY KEY, big_id INT,"
                     " FOREIGN KEY (big_id) REFERENCES big (id))")  # fmt: skip
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])
    before = live_checksum(database)

    result = migrate("upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 11, result.stderr
    assert f"foreign keys of {database.name}.child reference it" in result.error["message"]
    assert live_checksum(database) == before


def test_a_missing_trigger_privilege_is_exit_4_naming_it(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, 10)
    assert database.app_user is not None
    database.server.execute(
        f"REVOKE TRIGGER ON `{database.name}`.* FROM '{database.app_user[0]}'@'%'"
    )
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])
    before = live_checksum(database)

    result = migrate("upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 4, result.stderr
    assert "TRIGGER" in result.error["message"]
    assert "nothing was run" in result.error["message"]
    assert live_checksum(database) == before


@pytest.mark.mysql_only(reason="binary logging is on by default on MySQL only")
def test_without_super_on_a_server_that_logs_binary_changes_it_is_exit_4_naming_the_fix(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add("b1", None, upgrade=[sql(BIG)])
    assert migrate("upgrade").code == 0
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])

    result = migrate("upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 4, result.stderr
    assert "SUPER or when log_bin_trust_function_creators=1" in result.error["message"]
    assert column_type(database, "a") == "int"


def test_without_the_tool_online_is_exit_2_naming_it(
    migrate: Migrate, migrations: MigrationsDir, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = migrate("upgrade", **ONLINE, PATH=str(empty))
    assert result.code == 2, result.stderr
    assert "needs pt-online-schema-change, not found on PATH" in result.error["message"]


# --- The change itself -----------------------------------------------------------------


def test_plan_names_the_executor_of_each_statement(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, 10)
    migrations.add("b2", "b1", upgrade=[sql("CREATE INDEX ix_big_b ON big (b)"), sql(TO_BIGINT)])

    result = migrate("plan", "--format", "json", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0")

    assert result.code == 0, result.stderr
    executors = [s["executor"] for s in json.loads(result.stdout)["statements"]]
    assert executors == ["server", "pt-online-schema-change"]
    text = migrate("plan", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="0").stdout
    assert "executor" in text.splitlines()[1]


def test_a_small_change_online_keeps_rows_and_ends_as_a_plain_alter_would(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase, tmp_path: Path
) -> None:
    big_table(migrate, migrations, database, 5000)
    database.execute(BIG.replace("big", "reference"))
    database.execute("ALTER TABLE reference MODIFY a BIGINT NOT NULL")
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])
    before = original_rows(database, 5000)
    termination = tmp_path / "termination-log"

    result = migrate(
        "upgrade", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="1000",
        MIGRATE_TERMINATION_LOG=str(termination),
    )  # fmt: skip

    assert result.code == 0, result.stderr
    assert column_type(database, "a") == "bigint"
    assert original_rows(database, 5000) == before
    assert definition(database, "big") == definition(database, "reference")
    assert leftovers(database) == []
    assert database.version() == {"b2"}
    summary = json.loads(termination.read_text())
    (changed,) = summary["changed_online"]
    assert changed["table"] == "big"
    assert changed["duration_s"] > 0
    assert database.app_user is not None
    password = database.app_user[1]
    assert password not in result.output + termination.read_text()


def test_a_downgrade_is_held_to_the_same_policy(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    """The docs' promise: a blocking statement of a downgrade goes through the tool too."""
    big_table(migrate, migrations, database, 5000)
    to_int = TO_BIGINT.replace("BIGINT", "INT")
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)], downgrade=[sql(to_int)])
    assert migrate("upgrade", MIGRATE_BLOCKING_DDL="allow").code == 0
    before = original_rows(database, 5000)

    result = migrate("downgrade", "b1", **ONLINE, MIGRATE_BLOCKING_DDL_MIN_ROWS="1000")

    assert result.code == 0, result.stderr
    assert any(message.startswith("changed big online") for message in result.messages())
    assert column_type(database, "a") == "int"
    assert original_rows(database, 5000) == before
    assert leftovers(database) == []
    assert database.version() == {"b1"}


# --- Kills ----------------------------------------------------------------------------

KILL_ROWS = 200_000
# The tool's log line at each moment; the test then freezes the tool (SIGSTOP) so that the
# runner is stopped at that moment and not a little later.
MOMENTS = {
    "triggers": "Created triggers OK",
    "copy": "Copying approximately",
    "swap": "Swapped original and new tables OK",
}


def _freeze_mid_copy(database: ScratchDatabase, tool: int) -> None:
    """Let the frozen tool copy in short steps until its copy holds rows. A chunk the
    server is running goes on while the tool is frozen: on a fast server the copy may hold
    every row by then, and the swap is still to come."""
    for _ in range(400):
        ((copied,),) = database.execute("SELECT COUNT(*) FROM _big_new")
        if copied > 0:
            print(f"frozen with {copied} rows copied")
            return
        os.kill(tool, signal.SIGCONT)
        time.sleep(0.02)
        os.kill(tool, signal.SIGSTOP)
    pytest.fail("the tool's copy stayed empty")


@pytest.mark.online_ddl
@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_runner_stopped_mid_change_leaves_it_to_the_next_run_done_exactly_once(
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
    moment: str,
    how: signal.Signals,
) -> None:
    big_table(migrate, migrations, database, KILL_ROWS)
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])
    before = original_rows(database, KILL_ROWS)
    settings = {**ONLINE, "MIGRATE_BLOCKING_DDL_MIN_ROWS": "1000"}
    started = time.monotonic()
    process = start_entrypoint(["upgrade"], migrate.env(**settings), migrate.workdir)
    wait_for_line(process, MOMENTS[moment])
    # None when it ended right after the swap, before the test saw the line: a tool that
    # was already exiting takes SIGSTOP and ends anyway, so it does not count as frozen.
    tools = {tool for tool in set(tool_processes()) & children_of(process.pid) if freeze(tool)}
    for tool in tools:
        if moment == "copy":
            _freeze_mid_copy(database, tool)
    assert tools or moment == "swap"
    left_at_the_moment = leftovers(database)
    process.send_signal(how)
    for tool in tools:
        with suppress(ProcessLookupError):  # gone already: killed with the runner
            os.kill(tool, signal.SIGCONT)  # a SIGTERM from the runner is acted on once it runs
    stopped = finish(process, started)
    wait_until(
        lambda: not tools & set(tool_processes()),
        timeout=120,
        message="the tool did not end with the runner",
    )

    if not tools:
        # Both are right: the tool had ended, so the runner races the signal to the end
        # of the run, finishing (0) or stopped by this signal first.
        stopped_by_signal = 143 if how == signal.SIGTERM else -signal.SIGKILL
        assert stopped.code in {0, stopped_by_signal}, stopped.stderr
    elif how == signal.SIGTERM:
        assert stopped.code == 143, stopped.stderr
        assert leftovers(database) == []  # the runner removed what the tool left
    else:
        assert stopped.code == -signal.SIGKILL
    if how == signal.SIGKILL and moment != "swap":
        shown = migrate("status").stdout
        assert "online change: online change of table big" in shown
        assert "left behind: the next upgrade removes it or finds it done" in shown
    after = migrate("upgrade", **settings)

    assert after.code == 0, after.stderr
    assert column_type(database, "a") == "bigint"
    assert original_rows(database, KILL_ROWS) == before
    assert leftovers(database) == []
    assert database.version() == {"b2"}
    assert applied_revisions(stopped, after) == {"b2": 1}
    said = [m for m in after.messages() if "found the online change" in m]
    print(f"{how.name} at {moment} (left: {left_at_the_moment}): exit {stopped.code}; {said}")
    # Killed outright, the runner leaves the tool's work to the next run, which says so
    # (after the swap, the runner may have finished the statement before the kill landed).
    if moment != "swap":
        assert bool(said) == (how == signal.SIGKILL)


@pytest.mark.online_ddl
def test_a_second_runner_waits_for_the_lock_then_finds_nothing_to_do(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, KILL_ROWS)
    migrations.add("b2", "b1", upgrade=[sql(TO_BIGINT)])
    settings = {**ONLINE, "MIGRATE_BLOCKING_DDL_MIN_ROWS": "1000"}
    started = time.monotonic()
    first = start_entrypoint(["upgrade"], migrate.env(**settings), migrate.workdir)
    wait_for_line(first, "running the change online")
    second = start_entrypoint(["upgrade"], migrate.env(**settings), migrate.workdir)

    results: list[Result] = [finish(first, started), finish(second, started)]

    assert [result.code for result in results] == [0, 0], results[1].stderr
    assert any("after waiting for the lock" in m for m in results[1].messages())
    assert not any("running the change online" in m for m in results[1].messages())
    assert column_type(database, "a") == "bigint"


# --- A million rows and a writer ---------------------------------------------------------

MILLION = 1_000_000


@pytest.mark.online_ddl
def test_online_keeps_a_writer_going_where_a_plain_alter_stalls_it(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    big_table(migrate, migrations, database, MILLION)
    before = original_rows(database, MILLION)
    migrations.add("b2", "b1", upgrade=[sql("ALTER TABLE big MODIFY c BIGINT NOT NULL DEFAULT 0,"
                                            " LOCK=SHARED")])  # fmt: skip
    migrations.add("b3", "b2", upgrade=[sql(TO_BIGINT)])

    with writer(database) as plain:
        blocking = migrate("upgrade", "b2", MIGRATE_BLOCKING_DDL="allow")
    assert blocking.code == 0, blocking.stderr
    plan = json.loads(migrate("plan", "--format", "json", **ONLINE).stdout)
    assert [s["executor"] for s in plan["statements"]] == ["pt-online-schema-change"]
    seen: list[list[str]] = []
    started = time.monotonic()
    with writer(database) as online:
        process = start_entrypoint(["upgrade"], migrate.env(**ONLINE), migrate.workdir)
        wait_until(
            lambda: bool(set(tool_processes()) & children_of(process.pid)),
            timeout=120,
            message="the runner never started the tool",
        )
        seen += [argv for pid, argv in tool_processes().items() if pid in children_of(process.pid)]
        result = finish(process, started, timeout=600)

    print(
        f"writer's longest insert: plain {plain.longest:.2f} s, online {online.longest:.2f} s"
        f" ({online.deadlocks} deadlocks retried), the longest ending at"
        f" {time.strftime('%H:%M:%S', time.gmtime(online.longest_ended))}"
        f"{str(online.longest_ended % 1)[1:5]}"
    )
    for entry in result.logs:
        print(entry["time"], entry["message"][:100])
    assert result.code == 0, result.stderr
    assert plain.longest > 1.0
    assert online.longest <= 0.5
    assert column_type(database, "a") == "bigint"
    ((count,),) = database.execute("SELECT COUNT(*) FROM big")
    assert count == MILLION + plain.inserted + online.inserted
    assert original_rows(database, MILLION) == before
    assert leftovers(database) == []
    assert database.app_user is not None
    password = database.app_user[1]
    (argv,) = seen
    assert password not in " ".join(argv)
    assert any(word.startswith("F=") for word in argv)
    assert password not in result.output
    assert any("% done, ETA" in m and "online change of big" in m for m in result.messages())
