"""The runner's settings: read once, at the CLI edge, from the environment and `.env`.

The core never reads the environment; it receives the typed values built here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from migrator.config import (
    MAX_TIMEOUT,
    PROJECT_ROOT,
    BlockingDdlPolicy,
    DerivedSettings,
    LockMode,
    LogFormat,
    ShardFailurePolicy,
    ShardIsolation,
    UnknownRevisionPolicy,
)
from migrator.errors import ConfigError
from migrator.target import DEFAULT_PORT


class Settings(DerivedSettings, BaseSettings):
    """Every setting the runner reads. The README's configuration table mirrors this class.

    The authoritative declaration: migrator.fast_settings reads the same variables
    without pydantic, and its tests hold it to this class.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        validate_default=True,
    )

    database_url: SecretStr | None = Field(
        None,
        alias="DATABASE_URL",
        description="URL of the database to migrate: mysql://USER:PASSWORD@HOST:PORT/DATABASE.",
    )
    database_url_file: Path | None = Field(
        None,
        alias="DATABASE_URL_FILE",
        description="File that holds DATABASE_URL (a Docker or Kubernetes secret).",
    )
    mysql_host: str | None = Field(
        None, alias="MYSQL_HOST", description="Server host, when DATABASE_URL is not used."
    )
    mysql_port: str | None = Field(
        None, alias="MYSQL_PORT", description=f"Server port (default {DEFAULT_PORT})."
    )
    mysql_user: str | None = Field(
        None, alias="MYSQL_USER", description="User to log in as (default root)."
    )
    mysql_password: SecretStr | None = Field(
        None, alias="MYSQL_PASSWORD", description="Password, taken as is (no URL encoding)."
    )
    mysql_password_file: Path | None = Field(
        None,
        alias="MYSQL_PASSWORD_FILE",
        description="File that holds the password (a Docker or Kubernetes secret).",
    )
    mysql_database: str | None = Field(
        None, alias="MYSQL_DATABASE", description="Database (schema) to migrate."
    )
    shadow_database_url: SecretStr | None = Field(
        None,
        alias="MIGRATE_SHADOW_DATABASE_URL",
        description="Server (and database name prefix) for autogenerate's temporary shadow"
        " database; default the target's server.",
    )
    wait_timeout: float = Field(
        60,
        ge=0,
        le=MAX_TIMEOUT,
        alias="MIGRATE_WAIT_TIMEOUT",
        description="Seconds to wait for the server to accept a login before exit 3.",
    )
    connect_timeout: float = Field(
        5,
        gt=0,
        le=MAX_TIMEOUT,
        alias="MIGRATE_CONNECT_TIMEOUT",
        description="Seconds one connection attempt, or one of the runner's own short queries,"
        " may go without an answer; also the watchdog's probe delay and bound.",
    )
    lock_timeout: float = Field(
        300,
        ge=0,
        le=MAX_TIMEOUT,
        alias="MIGRATE_LOCK_TIMEOUT",
        description="Seconds to wait for another runner's migration lock before exit 5.",
    )
    ddl_lock_timeout: int = Field(
        30,
        ge=1,
        le=MAX_TIMEOUT,
        alias="MIGRATE_DDL_LOCK_TIMEOUT",
        description="Seconds a statement may wait for a metadata lock (lock_wait_timeout) before"
        " exit 6 naming the blocking sessions.",
    )
    blocking_ddl: BlockingDdlPolicy = Field(
        "warn",
        alias="MIGRATE_BLOCKING_DDL",
        description="allow, warn (log each statement that blocks writes on a big table before"
        " running it) or refuse (exit 11 before such a revision runs).",
    )
    blocking_ddl_min_rows: int = Field(
        100_000,
        ge=0,
        alias="MIGRATE_BLOCKING_DDL_MIN_ROWS",
        description="Tables with fewer rows (information_schema's estimate) may be blocked:"
        " they copy in moments.",
    )
    progress_interval: float = Field(
        10,
        ge=1,
        le=MAX_TIMEOUT,
        alias="MIGRATE_PROGRESS_INTERVAL",
        description="Seconds between progress lines for a statement that runs long.",
    )
    head_timeout: float = Field(
        300,
        ge=0,
        le=MAX_TIMEOUT,
        alias="MIGRATE_HEAD_TIMEOUT",
        description="Seconds `wait --head` waits for the database to reach head before exit 10.",
    )
    on_unknown_revision: UnknownRevisionPolicy = Field(
        "fail",
        alias="MIGRATE_ON_UNKNOWN_REVISION",
        description="fail (exit 8) or skip (exit 0, touch nothing) when the database is at a"
        " revision this image does not know, e.g. during a rollback.",
    )
    lock_mode: LockMode = Field(
        "get_lock",
        alias="MIGRATE_LOCK",
        description="get_lock, or none where GET_LOCK is unsupported (Galera) and the caller"
        " guarantees a single runner.",
    )
    termination_log: Path = Field(
        Path("/dev/termination-log"),
        alias="MIGRATE_TERMINATION_LOG",
        description="File for a one-line JSON summary of the run, written when it is writable.",
    )
    parallel: int = Field(
        4,
        ge=1,
        alias="MIGRATE_PARALLEL",
        description="Shards migrated at the same time.",
    )
    shard_isolation: ShardIsolation = Field(
        "thread",
        alias="MIGRATE_SHARD_ISOLATION",
        description="thread (every shard in this process) or process (a child process per"
        " shard, for revisions with process-wide side effects).",
    )
    on_shard_failure: ShardFailurePolicy = Field(
        "stop",
        alias="MIGRATE_ON_SHARD_FAILURE",
        description="stop starting shards after the first failure, or continue and report all.",
    )
    shard_index: int | None = Field(
        None,
        ge=0,
        alias="MIGRATE_SHARD_INDEX",
        description="This pod's index when MIGRATE_SHARD_COUNT pods share the shards.",
    )
    job_completion_index: int | None = Field(
        None,
        ge=0,
        alias="JOB_COMPLETION_INDEX",
        description="Set by a Kubernetes Indexed Job; used as MIGRATE_SHARD_INDEX.",
    )
    shard_count: int | None = Field(
        None,
        ge=1,
        alias="MIGRATE_SHARD_COUNT",
        description="How many pods share the shards (an Indexed Job's completions).",
    )
    pod_name: str | None = Field(
        None,
        alias="POD_NAME",
        description="Pod name (Kubernetes downward API), recorded as who holds the lock or"
        " interrupted a revision.",
    )
    log_format: LogFormat = Field(
        "auto",
        alias="MIGRATE_LOG_FORMAT",
        description="auto, text or json; auto is text on a terminal and JSON lines otherwise.",
    )
    migrations_dir: Path = Field(
        PROJECT_ROOT / "migrations",
        alias="MIGRATE_MIGRATIONS_DIR",
        description="Alembic script directory (env.py, versions/); default the bundled one.",
    )
    schema_ref: str = Field(
        "schema:metadata",
        alias="MIGRATE_SCHEMA",
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:attribute of the SQLAlchemy MetaData that autogenerate and check use.",
    )
    debug: bool = Field(
        False,
        alias="MIGRATE_DEBUG",
        description="Show tracebacks and Alembic's own log lines.",
    )


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings, turning validation failures into one-line configuration errors."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{env_file} cannot be read: {error.strerror}") from None


def _describe(error: ValidationError) -> str:
    # Built from the location and message only: pydantic's own text quotes the
    # input value, which may be a password.
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"])
        problems.append(f"{name}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)
