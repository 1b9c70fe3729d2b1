"""What every command is given: the settings, the targets they configure, which databases it covers.

:class:`Context` resolves a command line's ``--target`` and ``--shard`` into the
targets, shards and connection settings a command of :mod:`migrator.cli.commands`
works on, and into the run options the core takes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

from migrator.errors import ConfigError
from migrator.process.report import RunReport
from migrator.settings.config import RunOptions
from migrator.settings.declarations import Settings
from migrator.settings.target import DatabaseTarget, Project
from migrator.settings.targets import (
    Target,
    declared_names,
    discover,
    select,
    slice_for_pod,
)

if TYPE_CHECKING:
    from migrator.db.connection import ConnectionSettings


@dataclass(frozen=True)
class Context:
    """What every command is given: the settings, which target and shard the command
    line named, the environment named targets are declared in, and where output goes."""

    settings: Settings
    environ: Mapping[str, str]
    target_name: str | None
    shard: int | None
    stdout: TextIO
    report: RunReport
    add_secret: Callable[[str], None]  # masks a password in every later line
    # Which of ``environ``'s variables came from `.env`, for messages about targets.
    origins: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def targets(self) -> list[Target]:
        """Every configured target, read once; their passwords join the secrets to mask."""
        default = self.settings.database_target() if self.settings.has_database() else None
        declared = declared_names(self.settings.targets)
        targets = discover(self.environ, default, self.default_project, declared, self.origins)
        for target in targets:
            for shard in target.shards:
                self.add_secret(shard.password.get_secret_value())
        return targets

    @property
    def default_project(self) -> Project:
        return Project(self.settings.migrations_dir, self.settings.schema_ref)

    def target(self) -> Target:
        return select(self.targets, self.target_name)

    def project(self) -> Project:
        if self.target_name is None:  # no database needed to know the default project
            return self.default_project
        return self.target().project

    def database(self) -> ConnectionSettings:
        """The connection settings; only commands that talk to the server ask for them."""
        target = self.target()
        if self.shard is None and len(target.shards) > 1:
            raise ConfigError(
                f"target {target.name} has {len(target.shards)} shards: name one with --shard"
            )
        return self.connection(target.shard(self.shard or 0))

    def connection(self, shard: DatabaseTarget) -> ConnectionSettings:
        from migrator.db.connection import ConnectionSettings

        self.add_secret(shard.password.get_secret_value())
        return ConnectionSettings(
            target=shard,
            wait_timeout=self.settings.wait_timeout,
            connect_timeout=self.settings.connect_timeout,
        )

    def options(self) -> RunOptions:
        return RunOptions(
            runner=f"{self.settings.runner_name(socket.gethostname())} pid {os.getpid()}",
            lock_timeout=self.settings.lock_timeout,
            ddl_lock_timeout=self.settings.ddl_lock_timeout,
            on_unknown_revision=self.settings.on_unknown_revision,
            use_lock=self.use_lock,
            blocking_ddl=self.settings.blocking_ddl,
            blocking_ddl_min_rows=self.settings.blocking_ddl_min_rows,
            progress_interval=self.settings.progress_interval,
            drift=self.settings.drift,
            online_tool=self.online_tool(),
        )

    def online_tool(self) -> str | None:
        """pt-online-schema-change's path under MIGRATE_BLOCKING_DDL=online: exit 2 without it."""
        if self.settings.blocking_ddl != "online":
            return None
        from migrator.ddl.online_tool import find_tool

        return find_tool()

    @property
    def use_lock(self) -> bool:
        return self.settings.lock_mode == "get_lock"

    def shadow_server(self, database: ConnectionSettings) -> ConnectionSettings | None:
        """Where autogenerate and plan create their shadow database; None: next to ``database``."""
        shadow = self.settings.shadow_target()
        return replace(database, target=shadow) if shadow is not None else None

    def print(self, *lines: object) -> None:
        for line in lines:
            print(line, file=self.stdout)

    def covered(self) -> list[Covered]:
        """The databases `check` and `wait` cover: the --shard given, else every shard of the
        --target given, else of every target, as `upgrade` migrates them (and `status` shows
        them)."""
        if self.target_name is None and self.shard is None:
            targets = self.targets
            if not targets:
                select(targets, None)  # raises: nothing is configured
        else:
            targets = [self.target()]
        if self.shard is not None:
            shard = targets[0].shard(self.shard)
            return [Covered(targets[0], self.shard, self.connection(shard))]
        return [
            Covered(target, position, self.connection(shard))
            for target in targets
            for position, shard in enumerate(target.shards)
        ]

    def fleet(self) -> list[tuple[Target, list[int]]] | None:
        """Which shards of which targets `upgrade` takes; None for a single database."""
        if self.shard is not None:
            return None
        targets = [self.target()] if self.target_name else self.targets
        if not targets:
            select(targets, None)  # raises: nothing is configured
        pods = self.settings.pod_slice()
        if pods is None and len(targets) == 1 and len(targets[0].shards) == 1:
            return None
        return [
            (
                target,
                list(range(len(target.shards)))
                if pods is None
                else slice_for_pod(len(target.shards), *pods),
            )
            for target in targets
        ]


@dataclass(frozen=True)
class Covered:
    """One database a command covers: its target, its position there, how to reach it."""

    target: Target
    position: int
    database: ConnectionSettings

    def label(self) -> str:
        return f"{self.target.name} {self.database.target.redacted_url()}"

    def fields(self, count: int) -> dict[str, object]:
        """The log fields that say which database a line is about, when there are several."""
        if count == 1:
            return {}
        return {
            "target_name": self.target.name,
            "shard": self.position,
            "database": self.database.target.redacted_url(),
        }
