"""What the settings mean: the database target, the pod's slice of shards, a run's options.

:mod:`migrator.settings.declarations` declares the settings; two readers fill them in
(:mod:`migrator.settings.fast` without pydantic, :mod:`migrator.settings.validated`
through it). The values derived from them are computed here, once, for both. Pure:
the values come in as arguments, never from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from migrator.errors import ConfigError
from migrator.settings.target import (
    DEFAULT_PORT,
    DatabaseTarget,
    Secret,
    check_database_name,
    check_host,
    parse_database_url,
    parse_port,
    read_setting_file,
    shown,
)

if TYPE_CHECKING:
    from migrator.settings.declarations import Settings

# The bundled project: the directory that holds entrypoint.py, migrator/, schema/, migrations/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The longest timeout the driver and the server accept (a year, in seconds):
# a longer one is refused as a setting rather than by PyMySQL at the first login.
MAX_TIMEOUT = 31_536_000

# Each choice a setting offers, named once: the declarations and the CLI read them
# from here (typing.get_args).
LogFormat = Literal["auto", "text", "json"]
UnknownRevisionPolicy = Literal["fail", "skip"]
LockMode = Literal["get_lock", "none"]
ShardFailurePolicy = Literal["stop", "continue"]
ShardIsolation = Literal["thread", "process"]
BlockingDdlPolicy = Literal["allow", "warn", "refuse", "online"]
DriftPolicy = Literal["off", "warn", "fail"]


@dataclass(frozen=True)
class RunOptions:
    """How a run that changes the database behaves."""

    runner: str  # who is running: namespace/pod (or host name) and process id
    lock_timeout: float
    ddl_lock_timeout: int
    on_unknown_revision: UnknownRevisionPolicy
    use_lock: bool
    blocking_ddl: BlockingDdlPolicy
    blocking_ddl_min_rows: int
    progress_interval: float
    online_tool: str | None = None  # pt-online-schema-change's path, under blocking_ddl online
    drift: DriftPolicy = "off"


# The values derived from the settings: methods of migrator.settings.declarations.Settings.


def has_database(settings: Settings) -> bool:
    """Whether the default target is configured at all."""
    return any(
        value is not None
        for value in (settings.database_url, settings.database_url_file, settings.mysql_host)
    )


def runner_name(settings: Settings, host_name: str) -> str:
    """Who runs: `namespace/pod` as kubectl names a pod, the pod alone, or the host."""
    if not settings.pod_name:
        return host_name
    if not settings.pod_namespace:
        return settings.pod_name
    return f"{settings.pod_namespace}/{settings.pod_name}"


def pod_slice(settings: Settings) -> tuple[int, int] | None:
    """(index, count) when several pods share the shards, else None."""
    index = (
        settings.shard_index if settings.shard_index is not None else settings.job_completion_index
    )
    if settings.shard_count is None:
        if settings.shard_index is not None:
            raise ConfigError("MIGRATE_SHARD_INDEX needs MIGRATE_SHARD_COUNT")
        return None
    if index is None:
        raise ConfigError("MIGRATE_SHARD_COUNT needs MIGRATE_SHARD_INDEX or JOB_COMPLETION_INDEX")
    return index, settings.shard_count


def database_target(settings: Settings) -> DatabaseTarget:
    """The database to migrate, from DATABASE_URL(_FILE) or the MYSQL_* parts.

    Both forms may be given only when they agree, so a stale `.env` cannot
    silently redirect a run to another database.
    """
    url = _one_of(settings.database_url, settings.database_url_file, "DATABASE_URL", settings)
    password = _one_of(
        settings.mysql_password, settings.mysql_password_file, "MYSQL_PASSWORD", settings
    )
    parts = {
        "MYSQL_HOST": settings.mysql_host,
        "MYSQL_PORT": settings.mysql_port,
        "MYSQL_USER": settings.mysql_user,
        "MYSQL_DATABASE": settings.mysql_database,
    }
    if url is not None:
        target = parse_database_url(url)
        _require_agreement(target, parts, password, settings)
        return target
    if settings.mysql_host is None:
        raise ConfigError(
            "no database configured: set DATABASE_URL, or MYSQL_HOST and MYSQL_DATABASE"
        )
    if settings.mysql_database is None:
        raise ConfigError("MYSQL_DATABASE is not set: name the database to migrate")
    # An empty value is a variable that was meant to be filled in (an unset
    # ${VAR} in compose, say); PyMySQL would take an empty host for localhost.
    for name, value in parts.items():
        if value is not None and not value:
            raise ConfigError(f"{name} is set but empty: give it a value or unset it")
    check_host(settings.mysql_host, "MYSQL_HOST")
    check_database_name(settings.mysql_database, "MYSQL_DATABASE")
    return DatabaseTarget(
        host=settings.mysql_host,
        port=parse_port(settings.mysql_port, "MYSQL_PORT") if settings.mysql_port else DEFAULT_PORT,
        user=settings.mysql_user or "root",
        password=Secret(password or ""),
        database=settings.mysql_database,
    )


def shadow_target(settings: Settings) -> DatabaseTarget | None:
    """Where autogenerate may create its shadow database, when not next to the target."""
    if settings.shadow_database_url is None:
        return None
    try:
        return parse_database_url(settings.shadow_database_url.get_secret_value())
    except ConfigError as error:
        raise ConfigError(
            str(error).replace("DATABASE_URL", "MIGRATE_SHADOW_DATABASE_URL")
        ) from None


def _one_of(value: Secret | None, file: Path | None, name: str, settings: Settings) -> str | None:
    if value is not None and file is not None:
        raise ConfigError(
            f"{name} and {name}_FILE are both set ({_sources(settings, name, name + '_FILE')}):"
            " use one of them"
        )
    if file is not None:
        origin = settings.origin(f"{name}_FILE")
        return _read_secret_file(
            file, f"{name}_FILE", "" if origin == "the environment" else f" (from {origin})"
        )
    return value.get_secret_value() if value is not None else None


def _read_secret_file(path: Path, name: str, origin: str) -> str:
    text = read_setting_file(path, name, origin)
    # Secret files usually end with a newline that is not part of the secret.
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise ConfigError(f"{name}={shown(path)}{origin}: the file is empty")
    return value


def _sources(settings: Settings, *variables: str) -> str:
    """Where each variable was set, for a message about variables that conflict."""
    return ", ".join(f"{variable} from {settings.origin(variable)}" for variable in variables)


def _require_agreement(
    target: DatabaseTarget,
    parts: dict[str, str | None],
    password: str | None,
    settings: Settings,
) -> None:
    url_values = {
        "MYSQL_HOST": target.host,
        "MYSQL_PORT": str(target.port),
        "MYSQL_USER": target.user,
        "MYSQL_DATABASE": target.database,
    }
    conflicting = [
        name for name, value in parts.items() if value is not None and value != url_values[name]
    ]
    if password is not None and password != target.password.get_secret_value():
        conflicting.append("MYSQL_PASSWORD")
    if conflicting:
        url = "DATABASE_URL" if settings.database_url is not None else "DATABASE_URL_FILE"
        raise ConfigError(
            f"DATABASE_URL and {', '.join(conflicting)} disagree"
            f" ({_sources(settings, url, *conflicting)}):"
            " set either DATABASE_URL or the MYSQL_* variables, not both"
        )
