"""Migrations directories of hand-written revisions, and the runner run against one."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.project import PROJECT_ROOT
from tests.support.runner import Result, run_entrypoint, runner_env
from tests.support.servers import ScratchDatabase

REVISION_TEMPLATE = '''"""{doc}"""

import time

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


@dataclass
class MigrationsDir:
    """A migrations directory with the project's env.py and hand-written revisions."""

    path: Path
    revisions: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, path: Path) -> MigrationsDir:
        (path / "versions").mkdir(parents=True)
        for name in ("env.py", "script.py.mako"):
            shutil.copy(PROJECT_ROOT / "migrations" / name, path / name)
        return cls(path)

    def add(
        self,
        revision: str,
        down_revision: str | tuple[str, ...] | None,
        upgrade: Sequence[str] = (),
        downgrade: Sequence[str] = (),
        doc: str | None = None,
    ) -> Path:
        """A revision whose bodies are Python lines (use `sql()` for plain statements)."""
        text = REVISION_TEMPLATE.format(
            doc=doc or f"revision {revision}",
            revision=revision,
            down_revision=down_revision,
            upgrade=_body(upgrade),
            downgrade=_body(downgrade),
        )
        path = self.path / "versions" / f"{revision}.py"
        path.write_text(text)
        self.revisions.append(revision)
        return path

    def chain(self, count: int, prefix: str = "r") -> list[str]:
        """`count` revisions in a line, each creating one table `t<i>`."""
        down: str | None = self.revisions[-1] if self.revisions else None
        created = []
        for index in range(1, count + 1):
            revision = f"{prefix}{index:04d}"
            self.add(
                revision,
                down,
                upgrade=[sql(f"CREATE TABLE t{index} (id INT PRIMARY KEY)")],
                downgrade=[sql(f"DROP TABLE t{index}")],
            )
            created.append(revision)
            down = revision
        return created


def sql(statement: str) -> str:
    return f"op.execute({statement!r})"


def _body(lines: Sequence[str]) -> str:
    return "\n".join(f"    {line}" for line in lines) or "    pass"


@dataclass
class Migrate:
    """Runs the entrypoint against the test database and migrations directory."""

    database: ScratchDatabase
    migrations: MigrationsDir
    workdir: Path

    def env(self, **settings: str | None) -> dict[str, str]:
        """The runner's settings; a setting given as None is left unset."""
        defaults: dict[str, str | None] = {
            "DATABASE_URL": self.database.url,
            "MIGRATE_MIGRATIONS_DIR": str(self.migrations.path),
            "MIGRATE_WAIT_TIMEOUT": "10",
        }
        defaults.update(settings)
        return runner_env(**{k: v for k, v in defaults.items() if v is not None})

    def __call__(self, *args: str, **settings: str | None) -> Result:
        return run_entrypoint(args, self.env(**settings), self.workdir)


def game_migrations(tmp_path: Path) -> MigrationsDir:
    """The `game` target's migrations: three revisions g0001..g0003, one table each."""
    game = MigrationsDir.create(tmp_path / "game")
    game.chain(3, prefix="g")
    return game


def shard_template(shards: Sequence[ScratchDatabase], name: str = "game") -> dict[str, str | None]:
    """The databases as the shards of target ``name``, by URL template, and no default."""
    url = shards[0].url.rsplit("_", 1)[0] + "_{shard}"
    return {
        "DATABASE_URL": None,
        "MIGRATE_TARGETS": name,
        f"DATABASE_URL_{name.upper()}_TEMPLATE": url,
        f"DATABASE_URL_{name.upper()}_SHARDS": f"0-{len(shards) - 1}",
    }
