"""The settings read through pydantic-settings: a `.env` file, or values the fast reader refuses.

The pydantic model is built from :mod:`migrator.settings.declarations`' declarations, so both
readers know the same variables, types, defaults and bounds; its result is the
same :class:`~migrator.settings.declarations.Settings` the fast reader returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import Field, SecretStr, ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from migrator.errors import ConfigError
from migrator.settings.declarations import Settings, declarations
from migrator.settings.kinds import FILE, SECRET
from migrator.settings.target import Secret


class _Environment(BaseSettings):
    # No env_file: the `.env` file's values are read here (from_env_file) and passed in.
    model_config = SettingsConfigDict(
        extra="ignore",
        case_sensitive=True,
        validate_default=True,
    )


@cache
def environment_model() -> type[BaseSettings]:
    """The pydantic-settings model of every declared setting, aliased by its variable."""
    fields: dict[str, Any] = {}
    for declared in declarations():
        annotation = SecretStr if declared.kind is SECRET else declared.kind.pydantic_type
        if declared.default is None:
            annotation = annotation | None
        fields[declared.name] = (
            annotation,
            Field(
                declared.default,
                alias=declared.variable,
                description=declared.meaning,
                **declared.kind.constraints,
            ),
        )
    model: type[BaseSettings] = create_model("Environment", __base__=_Environment, **fields)
    return model


# The database's location, in one of two forms: a variable from the environment
# replaces the .env file's whole other form rather than conflicting with it.
URL_FORM = frozenset({"DATABASE_URL", "DATABASE_URL_FILE"})
PARTS_FORM = frozenset(
    {
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "MYSQL_PASSWORD_FILE",
        "MYSQL_DATABASE",
    }
)


def read_env_file(env_file: Path) -> dict[str, str]:
    """Every variable a `.env` file sets; ConfigError when it cannot be read as text."""
    from dotenv import dotenv_values

    try:
        values = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{env_file} cannot be read: {error.strerror}") from None
    for name, value in values.items():
        # Only a file can carry a NUL; no path, URL or number may hold one.
        if value is not None and "\x00" in value:
            raise ConfigError(f"{env_file}: {name} has a NUL character in its value")
    return {name: value for name, value in values.items() if value is not None}


def from_env_file(env_file: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The `.env` file's settings that apply: the environment wins, variable by variable,
    and for the database's location form by form (DATABASE_URL over the MYSQL_* parts
    in `.env`, and MYSQL_HOST over a DATABASE_URL in `.env`)."""
    if env_file is None or not env_file.exists():
        return {}
    declared = {declared.variable for declared in declarations()}
    values = {
        name: value
        for name, value in read_env_file(env_file).items()
        if name in declared and name not in environ
    }
    if URL_FORM & environ.keys():
        values = {name: value for name, value in values.items() if name not in PARTS_FORM}
    elif "MYSQL_HOST" in environ:
        values = {name: value for name, value in values.items() if name not in URL_FORM}
    return values


def load_settings(
    env_file: Path | None = Path(".env"), environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings, turning validation failures into one-line configuration errors.

    ``environ`` is the process environment (the default), which pydantic-settings reads.
    """
    environ = os.environ if environ is None else environ
    file_values = from_env_file(env_file, environ)
    _refuse_empty_paths({**environ, **file_values})
    try:
        model: Any = environment_model()  # its fields are only known at run time
        read = model(**file_values)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    values: dict[str, Any] = {
        name: Secret(value.get_secret_value()) if isinstance(value, SecretStr) else value
        for name, value in read.model_dump().items()
    }
    origins = dict.fromkeys(file_values, ".env")
    return Settings(**values, origins=MappingProxyType(origins))


def _refuse_empty_paths(values: Mapping[str, str]) -> None:
    # An empty path is a variable meant to be filled in (an unset ${VAR} in compose);
    # as a Path it would mean the working directory, and for the termination log no log.
    for declared in declarations():
        if declared.kind is FILE and values.get(declared.variable) == "":
            default = (
                ""
                if declared.default is None
                else f" for {declared.shown_default.replace('`', '')}"
            )
            raise ConfigError(
                f"{declared.variable} is set but empty: give it a path, or unset it{default}"
            )


def _describe(error: ValidationError) -> str:
    # Built from the location and message only: pydantic's own text quotes the
    # input value, which may be a password.
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"])
        problems.append(f"{name}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)
