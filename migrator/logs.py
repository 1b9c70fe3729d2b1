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
from types import MappingProxyType
from typing import Any, TextIO
from urllib.parse import quote

LOGGER_NAME = "migrator"
MASK = "***"
# Secrets shorter than this are not searched for: masking every "ab" would
# garble the logs, and the runner never prints a password in the first place.
MIN_SECRET_LENGTH = 4

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


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


@contextmanager
def fields_for_context(fields: dict[str, Any]) -> Iterator[None]:
    """Add ``fields`` to every line logged in this thread (or task) within the block."""
    token = _CONTEXT_FIELDS.set({**_CONTEXT_FIELDS.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT_FIELDS.reset(token)


class _Context(logging.Filter):
    """Adds the same fields to every line, e.g. which shard a child process migrates."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__()
        self.fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in {**self.fields, **_CONTEXT_FIELDS.get()}.items():
            setattr(record, key, value)
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


def configure_logging(
    log_format: str,
    redact: Redactor,
    *,
    debug: bool = False,
    stream: TextIO | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """Send the runner's log lines to stderr (stdout is kept for command output)."""
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    handler.addFilter(_Context(context or {}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    get_logger().setLevel(logging.DEBUG if debug else logging.INFO)
    # Alembic announces each step at INFO; the runner logs the same steps with
    # timings, so Alembic's lines are shown only when debugging.
    logging.getLogger("alembic").setLevel(logging.INFO if debug else logging.WARNING)
    warnings.showwarning = _log_warning
