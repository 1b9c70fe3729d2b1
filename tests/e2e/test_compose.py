"""The docker-compose pre-start chain: db healthy -> migrate exits 0 -> app starts.

Each test runs once per database image (the `database_image` fixture): MYSQL_IMAGE
and MYSQL97_IMAGE.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.docker import (
    MEASUREMENTS,
    Compose,
    build_image,
    copy_build_context,
    database_image_id,
)
from tests.support.runner import run_entrypoint, runner_env

BROKEN_REVISION = '''"""a revision that fails"""
from alembic import op

revision = "b0rken000001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE no_such_table ADD COLUMN x INT")


def downgrade() -> None:
    pass
'''


def test_app_starts_only_after_migrate_exited_0(
    compose_project: Compose, database_image: str
) -> None:
    started = time.monotonic()
    up = compose_project("up", "--detach")
    MEASUREMENTS[f"compose up until app started [{database_image_id(database_image)}]"] = (
        f"{time.monotonic() - started:.1f} s"
    )

    assert up.returncode == 0, up.stderr
    db = compose_project.container("db")
    assert db is not None
    assert db["Config"]["Image"] == database_image
    migrate = compose_project.container("migrate")
    app = compose_project.container("app")
    assert migrate is not None
    assert app is not None
    assert migrate["State"]["ExitCode"] == 0
    assert app["State"]["Running"]
    # ISO-8601 timestamps of one clock compare as strings.
    assert app["State"]["StartedAt"] > migrate["State"]["FinishedAt"]
    assert '"message": "upgrade complete"' in compose_project.logs("migrate")
    assert "e2e-Pw" not in compose_project.logs("migrate") + compose_project.logs("app")


def test_a_broken_migration_stops_the_chain_with_6(
    compose_project: Compose, tmp_path: Path
) -> None:
    context = copy_build_context(tmp_path / "context")
    heads = run_entrypoint(["heads"], runner_env(), tmp_path)
    head = heads.stdout.split()[0]
    (context / "migrations" / "versions" / "b0rken000001_fails.py").write_text(
        BROKEN_REVISION.format(head=head)
    )
    broken = "migrator:e2e-broken"
    build_image(broken, context)
    compose_project.settings["MIGRATOR_IMAGE"] = broken

    up = compose_project("up", "--detach")

    assert up.returncode != 0
    migrate = compose_project.container("migrate")
    assert migrate is not None
    assert migrate["State"]["ExitCode"] == 6
    assert "revision b0rken000001" in compose_project.logs("migrate")
    app = compose_project.container("app")
    assert app is None or app["State"]["StartedAt"].startswith("0001-01-01")


def test_the_application_user_may_build_shadow_databases_for_plan_and_autogenerate(
    compose_project: Compose,
) -> None:
    assert compose_project("up", "--detach", "db").returncode == 0

    plan = compose_project("run", "--rm", "migrate", "plan")
    autogenerate = compose_project("run", "--rm", "migrate", "autogenerate", "-m", "nothing")

    # Without the grant, plan is exit 4 naming it, and autogenerate warns.
    assert plan.returncode == 0, plan.stderr
    assert autogenerate.returncode == 0, autogenerate.stderr
    assert "no changes detected" in autogenerate.stderr
    assert "created the shadow database" in autogenerate.stderr
    assert "may not create databases" not in autogenerate.stderr
