"""The settings read through pydantic-settings: a `.env` file, or values the fast reader refuses.

The pydantic model is built from :mod:`migrator.settings`' declarations, so both
readers know the same variables, types, defaults and bounds; its result is the
same :class:`~migrator.settings.Settings` the fast reader returns.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from migrator.errors import ConfigError
from migrator.settings import SECRET, Settings, declarations
from migrator.target import Secret


class _Environment(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
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


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings, turning validation failures into one-line configuration errors."""
    try:
        read = environment_model()(_env_file=env_file)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{env_file} cannot be read: {error.strerror}") from None
    values: dict[str, Any] = {
        name: Secret(value.get_secret_value()) if isinstance(value, SecretStr) else value
        for name, value in read.model_dump().items()
    }
    return Settings(**values)


def _describe(error: ValidationError) -> str:
    # Built from the location and message only: pydantic's own text quotes the
    # input value, which may be a password.
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"])
        problems.append(f"{name}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)
