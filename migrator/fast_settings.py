"""The settings, read without pydantic when the environment holds nothing unusual.

Importing pydantic-settings takes about 0.1 s, more than the rest of a run that finds the
database at head, and an init container pays for that run at every pod start. This
reader knows the same variables as :class:`migrator.settings.Settings` but vouches only
for values whose meaning is beyond doubt: plain decimal numbers, exact keywords,
non-empty paths. On anything else (a `.env` file, a value like ``1e3`` or `` 5``) it
returns None and Settings reads the environment instead, with its own validation and
error messages. tests/unit/test_fast_settings.py holds both readers to the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from migrator.target import Secret

_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,9})?")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,8}")
_SCHEMA_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FastSettings(DerivedSettings):
    """The fields of migrator.settings.Settings, with the same names and defaults."""

    database_url: Secret | None = None
    database_url_file: Path | None = None
    mysql_host: str | None = None
    mysql_port: str | None = None
    mysql_user: str | None = None
    mysql_password: Secret | None = None
    mysql_password_file: Path | None = None
    mysql_database: str | None = None
    shadow_database_url: Secret | None = None
    wait_timeout: float = 60.0
    connect_timeout: float = 5.0
    lock_timeout: float = 300.0
    ddl_lock_timeout: int = 30
    head_timeout: float = 300.0
    blocking_ddl: BlockingDdlPolicy = "warn"
    blocking_ddl_min_rows: int = 100_000
    progress_interval: float = 10.0
    on_unknown_revision: UnknownRevisionPolicy = "fail"
    lock_mode: LockMode = "get_lock"
    termination_log: Path = Path("/dev/termination-log")
    parallel: int = 4
    shard_isolation: ShardIsolation = "thread"
    on_shard_failure: ShardFailurePolicy = "stop"
    shard_index: int | None = None
    job_completion_index: int | None = None
    shard_count: int | None = None
    pod_name: str | None = None
    log_format: LogFormat = "auto"
    migrations_dir: Path = PROJECT_ROOT / "migrations"
    schema_ref: str = "schema:metadata"
    debug: bool = False


class _Unusual(Exception):
    """A value this reader does not vouch for; Settings decides what it means."""


def _number(
    minimum: float, *, strict: bool = False, maximum: float = MAX_TIMEOUT
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        if not _NUMBER.fullmatch(text):
            raise _Unusual
        value = float(text)
        if value < minimum or (strict and value == minimum) or value > maximum:
            raise _Unusual
        return value

    return parse


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not _INTEGER.fullmatch(text) or int(text) < minimum:
            raise _Unusual
        if maximum is not None and int(text) > maximum:
            raise _Unusual
        return int(text)

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise _Unusual
        return text

    return parse


def _path(text: str) -> Path:
    if not text or "\x00" in text:
        raise _Unusual
    return Path(text)


def _boolean(text: str) -> bool:
    if text not in {"0", "1", "false", "true"}:
        raise _Unusual
    return text in {"1", "true"}


def _schema_ref(text: str) -> str:
    if not _SCHEMA_REF.fullmatch(text):
        raise _Unusual
    return text


def _text(text: str) -> str:
    return text


# Variable -> (field, parser), for every variable Settings reads.
FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("database_url", Secret),
    "DATABASE_URL_FILE": ("database_url_file", _path),
    "MYSQL_HOST": ("mysql_host", _text),
    "MYSQL_PORT": ("mysql_port", _text),
    "MYSQL_USER": ("mysql_user", _text),
    "MYSQL_PASSWORD": ("mysql_password", Secret),
    "MYSQL_PASSWORD_FILE": ("mysql_password_file", _path),
    "MYSQL_DATABASE": ("mysql_database", _text),
    "MIGRATE_SHADOW_DATABASE_URL": ("shadow_database_url", Secret),
    "MIGRATE_WAIT_TIMEOUT": ("wait_timeout", _number(0)),
    "MIGRATE_CONNECT_TIMEOUT": ("connect_timeout", _number(0, strict=True)),
    "MIGRATE_LOCK_TIMEOUT": ("lock_timeout", _number(0)),
    "MIGRATE_DDL_LOCK_TIMEOUT": ("ddl_lock_timeout", _integer(1, MAX_TIMEOUT)),
    "MIGRATE_HEAD_TIMEOUT": ("head_timeout", _number(0)),
    "MIGRATE_BLOCKING_DDL": ("blocking_ddl", _choice("allow", "warn", "refuse")),
    "MIGRATE_BLOCKING_DDL_MIN_ROWS": ("blocking_ddl_min_rows", _integer(0)),
    "MIGRATE_PROGRESS_INTERVAL": ("progress_interval", _number(1)),
    "MIGRATE_ON_UNKNOWN_REVISION": ("on_unknown_revision", _choice("fail", "skip")),
    "MIGRATE_LOCK": ("lock_mode", _choice("get_lock", "none")),
    "MIGRATE_TERMINATION_LOG": ("termination_log", _path),
    "MIGRATE_PARALLEL": ("parallel", _integer(1)),
    "MIGRATE_SHARD_ISOLATION": ("shard_isolation", _choice("thread", "process")),
    "MIGRATE_ON_SHARD_FAILURE": ("on_shard_failure", _choice("stop", "continue")),
    "MIGRATE_SHARD_INDEX": ("shard_index", _integer(0)),
    "JOB_COMPLETION_INDEX": ("job_completion_index", _integer(0)),
    "MIGRATE_SHARD_COUNT": ("shard_count", _integer(1)),
    "POD_NAME": ("pod_name", _text),
    "MIGRATE_LOG_FORMAT": ("log_format", _choice("auto", "text", "json")),
    "MIGRATE_MIGRATIONS_DIR": ("migrations_dir", _path),
    "MIGRATE_SCHEMA": ("schema_ref", _schema_ref),
    "MIGRATE_DEBUG": ("debug", _boolean),
}


def read_fast_settings(environ: Mapping[str, str], env_file: Path | None) -> FastSettings | None:
    """The settings from ``environ``, or None when Settings must read them instead."""
    if env_file is not None and env_file.exists():  # a dotenv file is pydantic-settings' job
        return None
    values: dict[str, Any] = {}
    for variable, (name, parse) in FIELDS.items():
        text = environ.get(variable)
        if text is None:
            continue
        try:
            values[name] = parse(text)
        except _Unusual:
            return None
    return FastSettings(**values)
