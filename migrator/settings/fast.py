"""The settings, read without pydantic when the environment holds nothing unusual.

Importing pydantic-settings takes about 0.1 s, more than the rest of a run that finds the
database at head, and an init container pays for that run at every pod start. This
reader knows the variables :mod:`migrator.settings.declarations` declares but vouches
only for values whose meaning is beyond doubt: plain decimal numbers, exact keywords,
non-empty paths. On anything else (a `.env` file, a value like ``1e3`` or `` 5``) it
returns None and :mod:`migrator.settings.validated` reads the environment instead,
with its own validation and error messages. tests/unit/test_fast_settings.py holds both readers to
the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.settings.declarations import Settings, declarations
from migrator.settings.kinds import Unusual


def read_fast_settings(environ: Mapping[str, str], env_file: Path | None) -> Settings | None:
    """The settings from ``environ``, or None when pydantic-settings must read them instead."""
    if env_file is not None and env_file.exists():  # a dotenv file is pydantic-settings' job
        return None
    values: dict[str, Any] = {}
    for declared in declarations():
        text = environ.get(declared.variable)
        if text is None:
            continue
        try:
            values[declared.name] = declared.kind.parse(text)
        except Unusual:
            return None
    return Settings(**values)
