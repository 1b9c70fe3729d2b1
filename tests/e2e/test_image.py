"""The image, built from this checkout and run with a real Docker engine against the test server."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from migrator import __version__
from tests.support.docker import MEASUREMENTS, build_image, docker, inspect, run_image
from tests.support.network import free_port
from tests.support.project import PROJECT_ROOT, run_in_project
from tests.support.servers import ScratchDatabase

NON_ROOT = "23456"  # stands for a developer's UID on the host

# An application's own package, its models on a declarative base, and its
# migrations' versions/: what the "application image" route of docs/image.md builds on.
APP_MODELS = """import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
"""
APP_REVISION = '''"""create orders"""
import sqlalchemy as sa
from alembic import op

revision = "o0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))


def downgrade() -> None:
    op.drop_table("orders")
'''
# The Dockerfile of docs/image.md for that route, with this run's runner image as the base.
APP_DOCKERFILE = """FROM {base} AS runner
FROM runner
COPY --from=runner /app/migrations/env.py /app/migrations/script.py.mako /app/shopapp_migrations/
COPY shopapp/ /app/shopapp/
COPY migrations/versions/ /app/shopapp_migrations/versions/
ENV MIGRATE_SCHEMA=shopapp.models:Base.metadata \\
    MIGRATE_MIGRATIONS_DIR=/app/shopapp_migrations
"""


def test_help_runs_read_only_as_a_non_root_user(image: str) -> None:
    help_run = run_image("--help", image=image)

    assert help_run.returncode == 0, help_run.stderr
    assert "exit codes:" in help_run.stdout
    assert inspect(image)["Config"]["User"] == "10001:10001"
    identity = run_image(image=image, options=["--entrypoint", "id"])
    assert identity.stdout.startswith("uid=10001 gid=10001"), identity.stdout


def test_the_image_carries_the_release_in_its_label_and_version(image: str) -> None:
    labels = inspect(image)["Config"]["Labels"]
    shown = run_image("--version", image=image)

    assert labels["org.opencontainers.image.version"] == __version__
    assert shown.stdout.split() == ["migrator", __version__]


def test_fresh_database_to_head_then_a_noop(image: str, database: ScratchDatabase) -> None:
    url = ["-e", f"DATABASE_URL={database.url}"]

    first = run_image(image=image, options=url)

    assert first.returncode == 0, first.stderr
    assert database.tables() == {"alembic_version", "status"}
    head = database.version()
    assert len(head) == 1

    started = time.monotonic()
    second = run_image(image=image, options=url)
    MEASUREMENTS["docker run no-op at head"] = f"{time.monotonic() - started:.2f} s"

    assert second.returncode == 0, second.stderr
    messages = [json.loads(line)["message"] for line in second.stderr.splitlines()]
    assert "nothing to do: already at head" in messages
    assert database.version() == head


def test_docker_stop_while_waiting_for_the_database_exits_143(image: str) -> None:
    container = docker(
        "run", "--detach", "--read-only", "--network", "host",
        "-e", f"DATABASE_URL=mysql://root@127.0.0.1:{free_port()}/db",
        "-e", "MIGRATE_WAIT_TIMEOUT=300",
        image,
    ).stdout.strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "waiting for the database" not in docker("logs", container).stderr:
            assert time.monotonic() < deadline, "the runner never started waiting"
            time.sleep(0.2)

        started = time.monotonic()
        docker("stop", "--time", "10", container)
        stopped_after = time.monotonic() - started

        state = inspect(container)["State"]
    finally:
        docker("rm", "--force", container, check=False)

    MEASUREMENTS["docker stop while waiting"] = f"{stopped_after:.2f} s"
    # 143 means the runner handled SIGTERM itself; a runner that ignored it
    # would have been killed after the 10 s grace period with 137.
    assert state["ExitCode"] == 143
    assert stopped_after < 5


def test_autogenerate_through_the_container_writes_files_owned_by_the_caller(
    image: str, database: ScratchDatabase, tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    shutil.copytree(PROJECT_ROOT / "migrations" / "versions", versions,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    schema = tmp_path / "schema"
    shutil.copytree(PROJECT_ROOT / "schema", schema, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (versions, *versions.iterdir()):
        os.chown(path, int(NON_ROOT), int(NON_ROOT))
    before = set(versions.iterdir())
    as_developer = [
        "--user", f"{NON_ROOT}:{NON_ROOT}",
        "-v", f"{versions}:/app/migrations/versions",
        "-v", f"{schema}:/app/schema:ro",
        "-e", f"DATABASE_URL={database.url}",
    ]  # fmt: skip
    assert run_image("upgrade", image=image, options=as_developer).returncode == 0

    unchanged = run_image("autogenerate", "-m", "nothing", image=image, options=as_developer)

    assert unchanged.returncode == 0, unchanged.stderr
    assert set(versions.iterdir()) == before

    with (schema / "__init__.py").open("a") as module:
        module.write(
            '\nguild = Table("guild", metadata, Column("id", Integer, primary_key=True))\n'
        )
    changed = run_image("autogenerate", "-m", "add guild", image=image, options=as_developer)

    assert changed.returncode == 0, changed.stderr
    written = set(versions.iterdir()) - before
    assert len(written) == 1
    new_file = written.pop()
    assert changed.stdout.strip() == f"/app/migrations/versions/{new_file.name}"
    assert new_file.stat().st_uid == int(NON_ROOT)
    assert new_file.stat().st_gid == int(NON_ROOT)
    assert "op.create_table(" in new_file.read_text()
    assert run_image("upgrade", image=image, options=as_developer).returncode == 0
    assert "guild" in database.tables()


def test_a_missing_base_image_skips_the_image_tests_instead_of_erroring(engine: None) -> None:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHON_IMAGE"] = "127.0.0.1:9/absent/python:none"  # no registry answers there
    nested = run_in_project(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         "tests/e2e/test_image.py::test_help_runs_read_only_as_a_non_root_user"],
        env,
    )  # fmt: skip

    assert nested.returncode == 0, nested.stdout
    assert "1 skipped" in nested.stdout
    assert "cannot be pulled" in nested.stdout


def test_an_application_image_built_from_the_runner_uses_its_own_models_and_migrations(
    image: str, database: ScratchDatabase, tmp_path: Path
) -> None:
    context = tmp_path / "shop"
    (context / "shopapp").mkdir(parents=True)
    (context / "shopapp" / "__init__.py").write_text("")
    (context / "shopapp" / "models.py").write_text(APP_MODELS)
    (context / "migrations" / "versions").mkdir(parents=True)
    (context / "migrations" / "versions" / "o0001_create_orders.py").write_text(APP_REVISION)
    (context / "Dockerfile").write_text(APP_DOCKERFILE.format(base=image))
    build_image("migrator:e2e-shop", context)
    url = ["-e", f"DATABASE_URL={database.url}"]

    upgraded = run_image(image="migrator:e2e-shop", options=url)
    checked = run_image("check", image="migrator:e2e-shop", options=url)

    assert upgraded.returncode == 0, upgraded.stderr
    assert database.tables() == {"alembic_version", "orders"}
    assert database.version() == {"o0001"}
    assert checked.returncode == 0, checked.stderr
