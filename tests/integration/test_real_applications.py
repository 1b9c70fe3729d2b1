"""Control test on real open-source applications that ship Alembic migrations and
SQLAlchemy models and support MySQL: `create_all` of their models, stamp their head,
and `check` must be clean (exit 0); their own history, upgraded from empty, and
`drift` must be clean, and `check` too where that history is the models. Their
versions are pinned in pyproject's dev extra.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.migrations import Migrate, MigrationsDir
from tests.support.schema_module import SchemaModule
from tests.support.servers import ScratchDatabase
from tests.support.unavailable import unavailable

# `create_all` of the models in a child process: the test process never imports an
# application, as some import eventlet (masakari), whose import-time warning and fork
# hook would then act on every later test of the same worker.
CREATE_ALL = """
import importlib, sys
import sqlalchemy as sa
module_name, _, attribute = sys.argv[1].partition(":")
found = importlib.import_module(module_name)
for name in attribute.split("."):
    found = getattr(found, name)
engine = sa.create_engine(sys.argv[2])
try:
    found.create_all(engine)
finally:
    engine.dispose()
"""


@dataclass(frozen=True)
class Application:
    package: str  # the distribution on PyPI
    models: str  # module:attribute of the models' MetaData
    versions: str  # the package's Alembic versions directory, relative to the module below
    versions_module: str

    def create_all(self, url: str) -> None:
        made = subprocess.run(
            [sys.executable, "-c", CREATE_ALL, self.models, url],
            capture_output=True,
            text=True,
            check=False,
        )
        assert made.returncode == 0, made.stderr

    def copy_history(self, migrations: MigrationsDir) -> None:
        """The application's revisions, run with the project's env.py."""
        shutil.rmtree(migrations.path / "versions")
        shutil.copytree(
            self.versions_directory(),
            migrations.path / "versions",
            ignore=shutil.ignore_patterns("__pycache__"),
        )

    def versions_directory(self) -> Path:
        """Found without importing the package (find_spec of its top level runs no code)."""
        top, *inner = self.versions_module.split(".")
        spec = importlib.util.find_spec(top)
        if spec is None or not spec.submodule_search_locations:
            unavailable(f"{self.package} is not installed (pip install -e '.[dev]')")
        return Path(spec.submodule_search_locations[0], *inner, self.versions)


APPLICATIONS = {
    # Float(precision=53), stored as DOUBLE by MySQL (issue 24 item 5).
    "optuna": Application(
        "optuna",
        "optuna.storages._rdb.models:BaseModel.metadata",
        "alembic/versions",
        "optuna.storages._rdb",
    ),
    "buildbot": Application(
        "buildbot",
        "buildbot.db.model:Model.metadata",
        "migrations/versions",
        "buildbot.db",
    ),
    # OpenStack's services run on MySQL/MariaDB: their first revision creates every
    # table (placement: self-referencing foreign keys, a revision that drops indexes;
    # masakari: ENUM, BOOLEAN and oslo.db's soft-delete columns).
    "placement": Application(
        "openstack-placement",
        "placement.db.sqlalchemy.models:BASE.metadata",
        "alembic/versions",
        "placement.db.sqlalchemy",
    ),
    "masakari": Application(
        "masakari",
        "masakari.db.sqlalchemy.models:BASE.metadata",
        "migrations/versions",
        "masakari.db.sqlalchemy",
    ),
}


@pytest.mark.parametrize("name", APPLICATIONS)
def test_check_is_clean_on_a_real_application_built_by_its_models(
    name: str,
    migrate: Migrate,
    migrations: MigrationsDir,
    schema: SchemaModule,
    database: ScratchDatabase,
) -> None:
    application = APPLICATIONS[name]
    application.copy_history(migrations)
    application.create_all(database.url.replace("mysql://", "mysql+pymysql://"))
    settings = {"MIGRATE_SCHEMA": application.models}
    stamped = migrate("stamp", "head", **settings)
    assert stamped.code == 0, stamped.stderr
    checked = migrate("check", **settings)
    assert checked.code == 0, checked.stderr


# How far each history builds a database from empty. Placement's and masakari's: to
# their head on every server. Optuna's v2.4.0.a drops trial_values.step, a column of the
# unique key (trial_id, step), and only then the key: MySQL shrinks the key to
# (trial_id), as the revision's own comment expects, but MariaDB refuses to drop a
# column of a multi-column unique key (1072, "Key column 'step' doesn't exist in
# table"), so on MariaDB its history stops at v1.3.0.a, the revision before. Buildbot's
# starts at 059 "initial", which creates nothing (its tables come from create_all), and
# 060 alters a table no revision creates, so its migrations alone cannot build it on
# any server.
DRIFT_DESTINATIONS = {
    "optuna": pytest.param(
        "optuna",
        "head",
        id="optuna",
        marks=pytest.mark.mysql_only(reason="optuna's v2.4.0.a fails on MariaDB (1072)"),
    ),
    "optuna-mariadb": pytest.param(
        "optuna",
        "v1.3.0.a",
        id="optuna-to-v1.3.0.a",
        marks=pytest.mark.mariadb_only(reason="optuna's v2.4.0.a fails on MariaDB (1072)"),
    ),
    "placement": pytest.param("placement", "head", id="placement"),
    "masakari": pytest.param("masakari", "head", id="masakari"),
    "buildbot": pytest.param(
        "buildbot",
        "head",
        id="buildbot",
        marks=pytest.mark.xfail(
            strict=True, reason="buildbot's migrations alone cannot build its schema from empty"
        ),
    ),
}


def upgrade_by_its_history(
    application: Application, migrations: MigrationsDir, migrate: Migrate, destination: str
) -> dict[str, str]:
    """Upgrade the scratch database with the application's own revisions; the settings
    that name its models."""
    application.copy_history(migrations)
    settings = {"MIGRATE_SCHEMA": application.models}
    upgraded = migrate("upgrade", destination, **settings)
    assert upgraded.code == 0, upgraded.error.get("message")
    return settings


@pytest.mark.parametrize(("name", "destination"), DRIFT_DESTINATIONS.values())
def test_drift_is_clean_on_a_real_application_upgraded_by_its_migrations(
    name: str,
    destination: str,
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
) -> None:
    """Issue 25: a database the application's own history built has no drift."""
    settings = upgrade_by_its_history(APPLICATIONS[name], migrations, migrate, destination)

    drifted = migrate("drift", **settings)

    assert drifted.code == 0, drifted.stdout + drifted.stderr


# The applications whose history, at head, is their models: optuna's makes no
# trial_heartbeats (optuna's own create_all does, before it upgrades), and buildbot's
# cannot run from empty.
HISTORY_IS_MODELS = ("placement", "masakari")


@pytest.mark.parametrize("name", HISTORY_IS_MODELS)
def test_check_is_clean_on_a_real_application_upgraded_by_its_migrations(
    name: str,
    migrate: Migrate,
    migrations: MigrationsDir,
    database: ScratchDatabase,
) -> None:
    """`check` compares a database its history built, not create_all, with the models."""
    settings = upgrade_by_its_history(APPLICATIONS[name], migrations, migrate, "head")

    checked = migrate("check", **settings)

    assert checked.code == 0, checked.stderr
