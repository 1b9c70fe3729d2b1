"""A real server restart in the middle of a revision, and the first logins after it.

Restarting the server under test would break every test running beside it, so
these tests are marked `restarts_server`: `make test-servers` runs them alone,
after the parallel suite, against the servers tests/servers/real-servers.sh owns
(TEST_SERVER_NAME), and `make test` leaves them out (the host's server is shared).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.project import PROJECT_ROOT
from tests.support.runner import finish, start_entrypoint
from tests.support.servers import ScratchDatabase
from tests.support.tables import wait_for_table

pytestmark = pytest.mark.restarts_server

SERVERS_SCRIPT = PROJECT_ROOT / "tests" / "servers" / "real-servers.sh"


def restart_server_under_test() -> None:
    name = os.environ.get("TEST_SERVER_NAME")
    if not name:
        pytest.fail("TEST_SERVER_NAME names the server to restart (make test-servers sets it)")
    subprocess.run(["bash", str(SERVERS_SCRIPT), "restart", name], check=True, timeout=300)


def test_a_restart_mid_revision_is_named_by_the_next_run_after_a_full_login(
    migrate: Migrate, migrations: MigrationsDir, database: ScratchDatabase
) -> None:
    migrations.add(
        "slow",
        None,
        upgrade=[
            sql("CREATE TABLE first_half (id INT PRIMARY KEY)"),
            sql("SELECT SLEEP(60)"),
            sql("CREATE TABLE second_half (id INT PRIMARY KEY)"),
        ],
    )
    started = time.monotonic()
    process = start_entrypoint(["upgrade"], migrate.env(), migrate.workdir)
    wait_for_table(database, "first_half")

    restart_server_under_test()
    cut = finish(process, started, timeout=120)

    # Exactly 6: the server went away while revision slow ran (first_half made, the
    # SLEEP running), so whatever error ends it (the SLEEP killed by the shutdown, the
    # next statement on a closed session, the watchdog's cut) ends it inside the revision,
    # which is MigrationFailed. A lost connection is exit 3 only between revisions, and
    # its message could not name the revision, as the next line requires.
    assert cut.code == 6, cut.stderr
    assert "revision slow" in cut.error["message"]
    # After a restart every account logs in with full authentication (caching_sha2's
    # cache is empty on MySQL); then the interrupted revision is named, not re-run.
    after = migrate(MIGRATE_WAIT_TIMEOUT="60")
    assert after.code == 6, after.stderr
    assert "the upgrade of revision slow was interrupted" in after.error["message"]
    assert "second_half" not in database.tables()
