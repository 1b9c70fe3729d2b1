"""Logging: human text on a terminal, JSON lines elsewhere, secrets always masked.

Log calls pass structured fields through ``extra``; both formats carry the same
fields, so what a person reads in a terminal is what a log pipeline indexes.
Secrets are masked in each value before the line is serialised, so no password,
however it is spelled, can break a line's JSON or replace one of its keys.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TextIO
from urllib.parse import quote

from migrator.errors import ExitStatus, Interrupted, MigratorError

LOGGER_NAME = "migrator"
MASK = "***"
# Secrets shorter than this are not searched for: masking every "ab" would
# garble the logs, and the runner never prints a password in the first place.
MIN_SECRET_LENGTH = 4

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def log_failure(error: BaseException, *, traceback: bool, hint: str = "") -> ExitStatus:
    """Log the one line that reports a failed run (or shard) and return its exit status.

    The runner's own errors say their message; anything else is an internal error,
    named by its type and first line, with ``hint`` after it and the traceback if asked.
    """
    extra = {"error": type(error).__name__}
    if isinstance(error, MigratorError | Interrupted):
        get_logger().error(error.message, extra={"exit_code": int(error.exit_status), **extra})
        return error.exit_status
    first_line = (str(error).strip().splitlines() or [""])[0]
    get_logger().error(
        f"internal error: {type(error).__name__}: {first_line}{hint}",
        exc_info=traceback,
        extra={"exit_code": int(ExitStatus.INTERNAL_ERROR), **extra},
    )
    return ExitStatus.INTERNAL_ERROR


class Redactor:
    """Replaces known secrets, raw and URL-encoded, wherever they appear in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            return
        self._secrets.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a secret that contains another is masked whole.
        self._ordered = sorted(self._secrets, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._ordered:
            text = text.replace(secret, MASK)
        return text

    def values(self, value: Any) -> Any:
        """``value`` with every string inside it masked: for data about to be serialised."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):  # the keys are the runner's own names, never user data
            return {key: self.values(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.values(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # a foreign library's malformed %-format
        return str(record.msg)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {self._redact(_message(record))}"
        fields = self._redact.values(_fields(record))
        extras = " ".join(f"{key}={value}" for key, value in fields.items())
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + self._redact(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = self._redact.values(_fields(record))
        # The record's own keys come last, so that no field can replace them.
        entry.update(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": self._redact(_message(record)),
            }
        )
        if record.exc_info:
            entry["traceback"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


# Fields for every line logged in the current context: a fleet's thread sets the
# shard it migrates, so each of its lines says which shard it is about.
_CONTEXT_FIELDS: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "migrator_log_fields", default=MappingProxyType({})
)
# Set while one shard of a fleet is migrated: its step-by-step INFO lines go to DEBUG.
_SHARD_DETAILS_AT_DEBUG: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "migrator_shard_details_at_debug", default=False
)


@contextmanager
def fields_for_context(fields: Mapping[str, Any]) -> Iterator[None]:
    """Add ``fields`` to every line logged in this thread (or task) within the block."""
    token = _CONTEXT_FIELDS.set({**_CONTEXT_FIELDS.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT_FIELDS.reset(token)


@contextmanager
def shard_details_at_debug() -> Iterator[None]:
    """Within the block, the runner's INFO lines are logged at DEBUG.

    A fleet says one line per shard that changed or failed; the lines a single
    database's run logs at INFO (the lock taken, each revision applied) would be
    thousands of lines for a fleet. Warnings, errors and progress lines keep their level.
    """
    token = _SHARD_DETAILS_AT_DEBUG.set(True)
    try:
        yield
    finally:
        _SHARD_DETAILS_AT_DEBUG.reset(token)


class _Context(logging.Filter):
    """Adds the same fields to every line, e.g. which shard a child process migrates."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__()
        self.fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in {**self.fields, **_CONTEXT_FIELDS.get()}.items():
            setattr(record, key, value)
        return True


class _ShardDetails(logging.Filter):
    """On the runner's logger: INFO becomes DEBUG for a shard of a fleet (see
    :func:`shard_details_at_debug`); ``always`` for a fleet's child process."""

    def __init__(self, *, always: bool) -> None:
        super().__init__()
        self.always = always

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not (self.always or _SHARD_DETAILS_AT_DEBUG.get()):
            return True
        if not get_logger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


def _log_warning(  # noqa: PLR0917 - the signature is warnings.showwarning's
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # Python's own format spans three lines (location, text, source line);
    # a log line is one line, with the location as fields.
    text = " ".join(str(message).split())
    get_logger().warning(f"{category.__name__}: {text}", extra={"file": filename, "line": lineno})


# The loggers whose handlers, levels and propagation are the runner's, with their
# descendants: the runner's own, and the libraries it drives.
OWNED_LOGGERS = (LOGGER_NAME, "alembic", "sqlalchemy")
_OWNED_ROOTS = frozenset(OWNED_LOGGERS)


@dataclass(frozen=True)
class _Setup:
    """What :func:`configure_logging` set up, for :func:`restore_logging` to put back."""

    handler: logging.StreamHandler[TextIO]
    stream: TextIO
    formatter: logging.Formatter
    handler_filters: tuple[logging.Filter, ...]
    levels: Mapping[str, int]  # root ("") and OWNED_LOGGERS; their descendants: NOTSET
    runner_filters: tuple[logging.Filter, ...]


_setup: _Setup | None = None


def configure_logging(
    log_format: str,
    redact: Redactor,
    *,
    debug: bool = False,
    stream: TextIO | None = None,
    context: dict[str, Any] | None = None,
    shard_of_fleet: bool = False,
) -> None:
    """Send the runner's log lines to stderr (stdout is kept for command output).

    ``shard_of_fleet``: this process migrates one shard for a fleet's parent, which
    logs the line about it; this process's INFO lines go to DEBUG.
    """
    global _setup  # noqa: PLW0603 - one logging setup per process
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    formatter = JsonFormatter(redact) if log_format == "json" else TextFormatter(redact)
    _setup = _Setup(
        handler=handler,
        stream=stream,
        formatter=formatter,
        handler_filters=(_Context(context or {}),),
        levels={
            "": logging.WARNING,
            LOGGER_NAME: logging.DEBUG if debug else logging.INFO,
            # Alembic announces each step at INFO; the runner logs the same steps with
            # timings, so Alembic's lines are shown only when debugging.
            "alembic": logging.INFO if debug else logging.WARNING,
            "sqlalchemy": logging.WARNING,
        },
        runner_filters=(_ShardDetails(always=shard_of_fleet),),
    )
    restore_logging()


def restore_logging() -> None:
    """Put back the runner's logging setup, whatever imported user code did to it.

    An application's models or settings module may call ``logging.basicConfig(force=True)``
    or ``dictConfig`` (which disables every logger it does not name), give ``alembic``
    or ``sqlalchemy`` handlers of their own, stop them propagating, call
    ``logging.disable`` or ``logging.captureWarnings``. Any of these would put plain text
    lines into a JSON stream, or silence the runner. Loggers outside OWNED_LOGGERS
    keep what the user gave them: their output is the user's, as a ``print`` is.
    """
    setup = _setup
    if setup is None:
        return
    # Setting a level clears every logger's cache: only where something changed, so
    # that a restore after each revision of each shard stays cheap.
    if logging.root.manager.disable != logging.NOTSET:
        logging.disable(logging.NOTSET)
    setup.handler.setStream(setup.stream)
    setup.handler.setFormatter(setup.formatter)
    setup.handler.setLevel(logging.NOTSET)
    setup.handler.filters[:] = setup.handler_filters
    root = logging.getLogger()
    root.handlers[:] = [setup.handler]
    _set_level(root, setup.levels[""])
    root.disabled = False
    loggers = [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and _owned(name)
    ]
    for name in OWNED_LOGGERS:  # also those not created yet
        loggers.append(logging.getLogger(name))
    for logger in loggers:
        logger.handlers.clear()  # the root's handler writes every line
        logger.propagate = True
        logger.disabled = False
        _set_level(logger, setup.levels.get(logger.name, logging.NOTSET))
        logger.filters[:] = setup.runner_filters if logger.name == LOGGER_NAME else ()
    warnings.showwarning = _log_warning


def _set_level(logger: logging.Logger, level: int) -> None:
    if logger.level != level:
        logger.setLevel(level)


def _owned(name: str) -> bool:
    return name.partition(".")[0] in _OWNED_ROOTS
