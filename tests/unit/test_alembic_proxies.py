"""Alembic's `op` and `context` proxies, per thread: two migrations side by side stay apart."""

from __future__ import annotations

import io
import threading

import pytest
from alembic import context, op
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from migrator.alembic_support import proxies

ROUNDS = 50


def _offline_operations(buffer: io.StringIO) -> Operations:
    migration = MigrationContext.configure(
        dialect_name="mysql", opts={"as_sql": True, "output_buffer": buffer}
    )
    return Operations(migration)


def test_op_in_two_threads_runs_each_threads_own_migration() -> None:
    proxies.enable()
    buffers = {name: io.StringIO() for name in ("first", "second")}
    # Both threads install their proxy before either runs an operation, then they
    # alternate, so that a single shared proxy would send statements astray.
    turns = threading.Barrier(2)
    failures: list[BaseException] = []

    def migrate(name: str) -> None:
        try:
            with Operations.context(_offline_operations(buffers[name]).migration_context):
                turns.wait()
                for number in range(ROUNDS):
                    op.execute(f"SELECT '{name}-{number}'")
                    turns.wait()
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            turns.abort()

    threads = [threading.Thread(target=migrate, args=(name,)) for name in buffers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    for name, buffer in buffers.items():
        written = buffer.getvalue()
        assert written.count(f"SELECT '{name}-") == ROUNDS
        other = "second" if name == "first" else "first"
        assert f"'{other}-" not in written


def test_context_config_is_the_calling_threads_own(tmp_path: object) -> None:
    proxies.enable()
    seen: dict[str, object] = {}
    configs = {name: Config() for name in ("first", "second")}
    both_inside = threading.Barrier(2)

    def enter(name: str) -> None:
        script = ScriptDirectory.__new__(ScriptDirectory)  # never read: no files needed
        with EnvironmentContext(configs[name], script):
            both_inside.wait()
            seen[name] = context.config
            both_inside.wait()

    threads = [threading.Thread(target=enter, args=(name,)) for name in configs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == configs


def test_op_outside_any_migration_is_alembics_own_name_error() -> None:
    proxies.enable()

    with pytest.raises(NameError, match="proxy object has not yet been established"):
        op.execute("SELECT 1")
