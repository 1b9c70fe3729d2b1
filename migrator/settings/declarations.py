"""Every setting the runner reads, each declared once: its variable, type, default, bounds, meaning.

From these declarations come the two readers (:mod:`migrator.settings.fast`
without pydantic, :mod:`migrator.settings.validated` through pydantic-settings)
and the configuration table of docs/configuration.md (:func:`markdown_table`,
which a test holds that file to). A new setting is one declaration here.
Importing this module imports no pydantic: the fast path reads an ordinary
environment without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from migrator.settings import config
from migrator.settings.config import (
    MAX_TIMEOUT,
    PROJECT_ROOT,
    BlockingDdlPolicy,
    DriftPolicy,
    LockMode,
    LogFormat,
    ShardFailurePolicy,
    ShardIsolation,
    UnknownRevisionPolicy,
)
from migrator.settings.kinds import (
    BOOLEAN,
    FILE,
    SCHEMA_REF,
    SECRET,
    TEXT,
    Choice,
    Integer,
    Kind,
    Number,
)
from migrator.settings.target import Secret


@dataclass(frozen=True)
class Declaration:
    """One setting as the configuration table shows it."""

    name: str  # the field of Settings
    variable: str
    kind: Kind
    default: Any
    shown_default: str  # the default as the configuration table writes it
    meaning: str


def setting(variable: str, default: Any, kind: Kind, shown_default: str, meaning: str) -> Any:
    """A field of Settings, carrying its declaration."""
    return dataclasses.field(
        default=default,
        metadata={"setting": (variable, kind, shown_default, meaning)},
    )


@dataclass(frozen=True)
class Settings:
    """Every setting the runner reads; the configuration table lists them in order."""

    database_url: Secret | None = setting(
        "DATABASE_URL",
        None,
        SECRET,
        "—",
        "URL of the database to migrate: `mysql://USER:PASSWORD@HOST:PORT/DATABASE`. "
        "`mariadb://` and `mysql+pymysql://` mean the same (PyMySQL is the only driver). "
        "Percent-encode special characters in the password (`@` → `%40`). Options: `ssl_ca`, "
        "`ssl_cert`, `ssl_key`, `ssl_verify_cert`, `ssl_verify_identity`, `ssl_disabled`, "
        "`unix_socket`.",
    )
    database_url_file: Path | None = setting(
        "DATABASE_URL_FILE",
        None,
        FILE,
        "—",
        "File that holds `DATABASE_URL` (a Docker or Kubernetes secret).",
    )
    mysql_host: str | None = setting(
        "MYSQL_HOST",
        None,
        TEXT,
        "—",
        "Server host, when `DATABASE_URL` is not used.",
    )
    mysql_port: str | None = setting(
        "MYSQL_PORT",
        None,
        TEXT,
        "`3306`",
        "Server port.",
    )
    mysql_user: str | None = setting(
        "MYSQL_USER",
        None,
        TEXT,
        "`root`",
        "User to log in as.",
    )
    mysql_password: Secret | None = setting(
        "MYSQL_PASSWORD",
        None,
        SECRET,
        "empty",
        "Password, taken as is (no URL encoding needed); sent as UTF-8, as the `mysql` client"
        " does.",
    )
    mysql_password_file: Path | None = setting(
        "MYSQL_PASSWORD_FILE",
        None,
        FILE,
        "—",
        "File that holds the password (a Docker or Kubernetes secret); a trailing newline is "
        "dropped.",
    )
    mysql_database: str | None = setting(
        "MYSQL_DATABASE",
        None,
        TEXT,
        "—",
        "Database (schema) to migrate.",
    )
    targets: str | None = setting(
        "MIGRATE_TARGETS",
        None,
        TEXT,
        "—",
        "Named targets besides the default database, e.g. `log,game`: each is configured by"
        " `DATABASE_URL_<NAME>` (see [Many databases](/docs/many-databases.md)). A"
        " `DATABASE_URL_<NAME>` whose name is not listed here is ignored.",
    )
    shadow_database_url: Secret | None = setting(
        "MIGRATE_SHADOW_DATABASE_URL",
        None,
        SECRET,
        "the target's server",
        "Server (and name prefix) for `autogenerate`'s temporary shadow database, when it "
        "should not be created next to the target.",
    )
    wait_timeout: float = setting(
        "MIGRATE_WAIT_TIMEOUT",
        60.0,
        Number(0),
        "`60`",
        "Seconds to wait for the server to accept a login before exit 3.",
    )
    connect_timeout: float = setting(
        "MIGRATE_CONNECT_TIMEOUT",
        5.0,
        Number(0, strict=True),
        "`5`",
        "Seconds one connection attempt, or one of the runner's own short queries, may go "
        "without an answer; also how long a statement may run before the watchdog checks that"
        " the server still answers (see [Never hangs](/docs/behaviour.md#never-hangs)).",
    )
    lock_timeout: float = setting(
        "MIGRATE_LOCK_TIMEOUT",
        300.0,
        Number(0),
        "`300`",
        "Seconds to wait for another runner's migration lock before exit 5.",
    )
    ddl_lock_timeout: int = setting(
        "MIGRATE_DDL_LOCK_TIMEOUT",
        30,
        Integer(1, MAX_TIMEOUT),
        "`30`",
        "Seconds one statement may wait for a metadata lock (the session's "
        "`lock_wait_timeout`) before exit 6 naming the sessions that block it.",
    )
    blocking_ddl: BlockingDdlPolicy = setting(
        "MIGRATE_BLOCKING_DDL",
        "warn",
        Choice(BlockingDdlPolicy),
        "`warn`",
        "What `upgrade` and `downgrade` do with a statement that would block writes on a big "
        "table: `allow` (run it), `warn` (log it with the table's size, then run it), "
        "`refuse` (exit 11 before the revision runs) or `online` (run it through "
        "pt-online-schema-change, which copies the table without blocking writes). See"
        " [Big tables](/docs/big-tables.md#the-guard).",
    )
    drift: DriftPolicy = setting(
        "MIGRATE_DRIFT",
        "off",
        Choice(DriftPolicy),
        "`off`",
        "At pod start, compare the live schema's fingerprint with the one stored when the "
        "runner last migrated the database: `off`, `warn` (one warning line) or `fail` "
        "(exit 12 before any revision runs). See [Drift](/docs/drift.md#at-pod-start).",
    )
    blocking_ddl_min_rows: int = setting(
        "MIGRATE_BLOCKING_DDL_MIN_ROWS",
        100000,
        Integer(0),
        "`100000`",
        "Tables with fewer rows (`information_schema`'s estimate) are left to the server: "
        "they copy in moments.",
    )
    progress_interval: float = setting(
        "MIGRATE_PROGRESS_INTERVAL",
        10.0,
        Number(1),
        "`10`",
        "Seconds between progress lines (percent done and ETA, or elapsed time) for a "
        "statement that runs long. See [Big tables](/docs/big-tables.md#progress).",
    )
    head_timeout: float = setting(
        "MIGRATE_HEAD_TIMEOUT",
        300.0,
        Number(0),
        "`300`",
        "Seconds `wait --head` waits for the database to reach head before exit 10.",
    )
    on_unknown_revision: UnknownRevisionPolicy = setting(
        "MIGRATE_ON_UNKNOWN_REVISION",
        "fail",
        Choice(UnknownRevisionPolicy),
        "`fail`",
        "`fail` (exit 8) or `skip` (log a warning, exit 0, touch nothing) when the database "
        "is at a revision this image does not know — a rollback to an older image.",
    )
    lock_mode: LockMode = setting(
        "MIGRATE_LOCK",
        "get_lock",
        Choice(LockMode),
        "`get_lock`",
        "`get_lock`, or `none` where the server refuses `GET_LOCK` (some Galera/PXC setups, "
        "exit 5 otherwise) and the caller guarantees a single runner.",
    )
    termination_log: Path = setting(
        "MIGRATE_TERMINATION_LOG",
        Path("/dev/termination-log"),
        FILE,
        "`/dev/termination-log`",
        "File that receives a one-line JSON summary of the run (command, from, to, applied, "
        "duration, exit code, error, the slowest statement) when it is writable.",
    )
    parallel: int = setting(
        "MIGRATE_PARALLEL",
        4,
        Integer(1),
        "`4`",
        "Shards migrated at the same time.",
    )
    shard_isolation: ShardIsolation = setting(
        "MIGRATE_SHARD_ISOLATION",
        "thread",
        Choice(ShardIsolation),
        "`thread`",
        "`thread` (every shard in this process) or `process` (a child process per shard, for "
        "revisions with process-wide side effects).",
    )
    on_shard_failure: ShardFailurePolicy = setting(
        "MIGRATE_ON_SHARD_FAILURE",
        "stop",
        Choice(ShardFailurePolicy),
        "`stop`",
        "`stop` starting shards after the first failure, or `continue` and report all.",
    )
    shard_index: int | None = setting(
        "MIGRATE_SHARD_INDEX",
        None,
        Integer(0),
        "—",
        "This pod's index when `MIGRATE_SHARD_COUNT` pods share the shards.",
    )
    job_completion_index: int | None = setting(
        "JOB_COMPLETION_INDEX",
        None,
        Integer(0),
        "—",
        "Set by a Kubernetes Indexed Job; used as `MIGRATE_SHARD_INDEX`.",
    )
    shard_count: int | None = setting(
        "MIGRATE_SHARD_COUNT",
        None,
        Integer(1),
        "—",
        "How many pods share the shards (an Indexed Job's `completions`).",
    )
    pod_name: str | None = setting(
        "POD_NAME",
        None,
        TEXT,
        "—",
        "Pod name (Kubernetes downward API), recorded as who runs a revision (in the run marker "
        "and the `applying revision` log line); the host name otherwise.",
    )
    pod_namespace: str | None = setting(
        "POD_NAMESPACE",
        None,
        TEXT,
        "—",
        "Pod namespace (Kubernetes downward API), recorded with `POD_NAME` as `namespace/pod`.",
    )
    log_format: LogFormat = setting(
        "MIGRATE_LOG_FORMAT",
        "auto",
        Choice(LogFormat),
        "`auto`",
        "`auto`, `text` or `json`; `auto` is text on a terminal and JSON lines otherwise.",
    )
    migrations_dir: Path = setting(
        "MIGRATE_MIGRATIONS_DIR",
        PROJECT_ROOT / "migrations",
        FILE,
        "bundled `migrations/`",
        "Alembic script directory (`env.py`, `versions/`).",
    )
    schema_ref: str = setting(
        "MIGRATE_SCHEMA",
        "schema:metadata",
        SCHEMA_REF,
        "`schema:metadata`",
        "`module:attribute` of the SQLAlchemy `MetaData` that `autogenerate` and `check` "
        "compare with; the attribute may be a dotted path, as in "
        "`myapp.models:Base.metadata` (see"
        " [The image](/docs/image.md#your-applications-own-models)). Whatever runs "
        "revisions (`upgrade`, `downgrade`, `plan`, `sql`) imports it too, as Alembic's own "
        "`env.py` does, so that its naming convention names the constraints they create; "
        "a run with nothing to do does not, and without the module they run without one.",
    )
    debug: bool = setting(
        "MIGRATE_DEBUG",
        False,
        BOOLEAN,
        "`false`",
        "Show tracebacks and Alembic's own log lines (also `--debug`).",
    )

    # Where each variable that was set came from ("the environment" or ".env"), for
    # messages about settings that conflict. Not a setting itself.
    origins: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def origin(self, variable: str) -> str:
        return self.origins.get(variable, "the environment")

    # The values derived from the settings, computed by migrator.settings.config.
    has_database = config.has_database
    runner_name = config.runner_name
    pod_slice = config.pod_slice
    database_target = config.database_target
    shadow_target = config.shadow_target


def declarations() -> list[Declaration]:
    """Every setting, in the order of the configuration table."""
    found = []
    for field in dataclasses.fields(Settings):
        if "setting" not in field.metadata:
            continue
        variable, kind, shown_default, meaning = field.metadata["setting"]
        found.append(Declaration(field.name, variable, kind, field.default, shown_default, meaning))
    return found


def markdown_table() -> str:
    """The configuration table of docs/configuration.md."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    lines += [f"| `{d.variable}` | {d.shown_default} | {d.meaning} |" for d in declarations()]
    return "\n".join(lines) + "\n"


if (
    __name__ == "__main__"
):  # pragma: no cover - `python -m migrator.settings.declarations` for the docs
    print(markdown_table(), end="")
