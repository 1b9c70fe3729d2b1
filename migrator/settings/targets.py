"""Named targets with their shards, declared with environment variables only.

`DATABASE_URL` (or the MYSQL_* parts) is the default target. MIGRATE_TARGETS
lists the named ones; each `DATABASE_URL_<NAME>` then configures one, with its
own schema module and migrations directory found by convention
(`schema/<name>.py`, `migrations/<name>/`). A `DATABASE_URL_<NAME>` for a name
not listed is not a target. A target may have many URLs — its shards:

- `DATABASE_URL_<NAME>`: one URL, or several separated by spaces, commas or newlines;
- `DATABASE_URL_<NAME>_FILE`: a file with one URL per line;
- `DATABASE_URL_<NAME>_TEMPLATE` with `{shard}` and `DATABASE_URL_<NAME>_SHARDS`
  (`0-15`, or `1,2,5`).

The environment wins over `.env` for a target's location as a whole, as it does for
the default database: `DATABASE_URL_<NAME>` in the environment replaces a
`DATABASE_URL_<NAME>_TEMPLATE` in `.env`. This module is pure: the CLI hands it the
environment and the `.env` file's values as mappings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import ConfigError
from migrator.settings.target import (
    MAX_DIGITS,
    DatabaseTarget,
    Project,
    parse_count,
    parse_database_url,
    read_setting_file,
    shown,
)

DEFAULT = "default"
# A target's location, in one of three forms (_SHARDS goes with _TEMPLATE).
LOCATION_FORMS = ("", "_FILE", "_TEMPLATE")
# More shards than a range may expand to: 0-999999999 would fill the memory first.
MAX_SHARDS = 100_000
ENV_FILE_ORIGIN = ".env"
_DECLARATION = re.compile(r"DATABASE_URL_([A-Z][A-Z0-9_]*?)(?:_(FILE|TEMPLATE|SHARDS))?")
_SEPARATORS = re.compile(r"[\s,]+")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Target:
    """One database schema, applied to one or more databases (shards)."""

    name: str
    project: Project
    shards: tuple[DatabaseTarget, ...]

    def shard(self, index: int) -> DatabaseTarget:
        if not 0 <= index < len(self.shards):
            raise ConfigError(
                f"target {self.name} has {len(self.shards)} shard(s); there is no shard {index}"
            )
        return self.shards[index]


def declared_names(declaration: str | None) -> list[str]:
    """The named targets MIGRATE_TARGETS lists, in its order (commas or spaces)."""
    names: list[str] = []
    for name in _SEPARATORS.split(declaration or ""):
        if not name:
            continue
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"MIGRATE_TARGETS: {name!r} is not a target name (letters, digits and"
                " underscores, starting with a letter)"
            )
        if name.lower() == DEFAULT:
            raise ConfigError("MIGRATE_TARGETS: 'default' is the DATABASE_URL target's name")
        if name.lower() not in names:
            names.append(name.lower())
    return names


def location_variables(name: str) -> list[str]:
    """The variables that say where the named target ``name``'s databases are."""
    variable = name.upper()
    return [
        *(f"DATABASE_URL_{variable}{form}" for form in LOCATION_FORMS),
        f"DATABASE_URL_{variable}_SHARDS",  # only with _TEMPLATE
    ]


def target_variables(name: str) -> list[str]:
    """Every variable that configures the named target ``name``."""
    variable = name.upper()
    return [
        *location_variables(name),
        f"MIGRATE_MIGRATIONS_DIR_{variable}",
        f"MIGRATE_SCHEMA_{variable}",
    ]


def with_env_file(
    environ: Mapping[str, str], file_values: Mapping[str, str], declared: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The environment over the `.env` file's values, and where each `.env` value that
    applies came from. A target's location in the environment, in any form, replaces
    the `.env` file's location of that target as a whole (with its _SHARDS)."""
    replaced: set[str] = set()
    for name in declared:
        location = location_variables(name)
        if any(f"DATABASE_URL_{name.upper()}{form}" in environ for form in LOCATION_FORMS):
            replaced.update(location)
    applying = {
        name: value
        for name, value in file_values.items()
        if name not in environ and name not in replaced
    }
    return {**applying, **environ}, dict.fromkeys(applying, ENV_FILE_ORIGIN)


def discover(
    environ: Mapping[str, str],
    default: DatabaseTarget | None,
    default_project: Project,
    declared: Sequence[str] = (),
    origins: Mapping[str, str] | None = None,
) -> list[Target]:
    """Every configured target, in the order `upgrade` migrates them: the default
    target first, then the ``declared`` named targets (MIGRATE_TARGETS) in their order.

    Only declared names are read: a platform's DATABASE_URL_REPLICA is not a target.
    ``origins`` says which variables came from `.env` (see :func:`with_env_file`), for
    messages.
    """
    where = _Origins(origins or {})
    targets = [Target(DEFAULT, default_project, (default,))] if default is not None else []
    for name in declared:
        variable = name.upper()
        shards = tuple(
            _parse_url(url, source, where) for url, source in _urls(environ, variable, where)
        )
        if not shards:
            raise ConfigError(
                f"MIGRATE_TARGETS names {name}, but DATABASE_URL_{variable} (or its _FILE or"
                " _TEMPLATE form) is not set"
            )
        targets.append(Target(name, _project(environ, variable, default_project, where), shards))
    return targets


class _Origins:
    """Where a target's variables came from, as messages quote them."""

    def __init__(self, origins: Mapping[str, str]) -> None:
        self.origins = origins

    def of(self, variable: str) -> str:
        return self.origins.get(variable, "the environment")

    def named(self, variable: str) -> str:
        """The variable's name, with ``(from .env)`` when that is where it was set."""
        return variable + self.suffix(variable)

    def suffix(self, variable: str) -> str:
        origin = self.origins.get(variable)
        return f" (from {origin})" if origin else ""


def _parse_url(url: str, variable: str, where: _Origins) -> DatabaseTarget:
    try:
        return parse_database_url(url)
    except ConfigError as error:  # its message names DATABASE_URL; name the target's own
        raise ConfigError(error.message.replace("DATABASE_URL", where.named(variable), 1)) from None


def undeclared(environ: Mapping[str, str], declared: Sequence[str]) -> list[str]:
    """The DATABASE_URL_<NAME> variables set for a name MIGRATE_TARGETS does not list."""
    found = []
    for key in sorted(environ):
        match = _DECLARATION.fullmatch(key)
        if match and match.group(1) != "FILE" and match.group(1).lower() not in declared:
            found.append(key)
    return found


def select(targets: Sequence[Target], name: str | None) -> Target:
    """The target a command names with --target, or the default one."""
    wanted = name.lower() if name else DEFAULT
    for target in targets:
        if target.name == wanted:
            return target
    configured = ", ".join(target.name for target in targets) or "none"
    if wanted == DEFAULT:
        raise ConfigError(
            "no database configured: set DATABASE_URL, or MYSQL_HOST and MYSQL_DATABASE,"
            f" or name a target with --target (configured: {configured})"
        )
    raise ConfigError(
        f"no target named {wanted!r}: list it in MIGRATE_TARGETS and set"
        f" DATABASE_URL_{wanted.upper()} (configured: {configured})"
    )


def slice_for_pod(count: int, index: int, pods: int) -> list[int]:
    """The shard positions one pod of `pods` takes: every pods-th, starting at its index."""
    if pods < 1 or not 0 <= index < pods:
        raise ConfigError(f"shard slice {index} of {pods} is impossible: need 0 <= index < count")
    return list(range(index, count, pods))


def _urls(environ: Mapping[str, str], name: str, where: _Origins) -> list[tuple[str, str]]:
    """The target's URLs, each with the variable it came from."""
    variable = f"DATABASE_URL_{name}"
    given = [variable + form for form in LOCATION_FORMS if variable + form in environ]
    if len(given) > 1:
        sources = ", ".join(f"{form} from {where.of(form)}" for form in given)
        raise ConfigError(f"{' and '.join(given)} are all set ({sources}): use one of them")
    if f"{variable}_FILE" in environ:
        source = f"{variable}_FILE"
        path = environ[source]
        if not path:
            raise ConfigError(f"{where.named(source)} is set but empty: give it a path")
        text = read_setting_file(Path(path), source, where.suffix(source))
        if "\x00" in text:
            raise ConfigError(f"{source}={shown(path)}{where.suffix(source)}: is not a text file")
        return [(line.strip(), source) for line in text.splitlines() if line.strip()]
    if f"{variable}_TEMPLATE" in environ:
        source = f"{variable}_TEMPLATE"
        template = environ[source]
        if "{shard}" not in template:
            raise ConfigError(f"{where.named(source)} has no {{shard}} placeholder")
        shards = environ.get(f"{variable}_SHARDS")
        if not shards:
            raise ConfigError(f"{where.named(source)} needs {variable}_SHARDS, e.g. 0-15")
        return [
            (template.replace("{shard}", shard), source)
            for shard in _shard_range(shards, f"{variable}_SHARDS", where)
        ]
    return [(url, variable) for url in _SEPARATORS.split(environ.get(variable, "")) if url]


def _shard_range(text: str, variable: str, where: _Origins) -> list[str]:
    variable = f"{variable}={shown(text)}{where.suffix(variable)}"
    first, dash, last = (part.strip() for part in text.partition("-"))
    low, high = parse_count(first), parse_count(last)
    if (
        dash
        and (low is None or high is None)
        and (first + last).isascii()
        and (first + last).isdigit()
    ):
        raise ConfigError(f"{variable}: a shard number has more than {MAX_DIGITS} digits")
    if dash and low is not None and high is not None:
        if low > high:
            raise ConfigError(f"{variable}: the range is empty")
        if high - low >= MAX_SHARDS:
            raise ConfigError(
                f"{variable}: {high - low + 1} shards; a target may have {MAX_SHARDS} at most"
            )
        return [str(shard) for shard in range(low, high + 1)]
    shards = [shard for shard in _SEPARATORS.split(text) if shard]
    if not shards:
        raise ConfigError(f"{variable}: expected a range like 0-15 or a list")
    return shards


def _project(environ: Mapping[str, str], name: str, default: Project, where: _Origins) -> Project:
    module = default.schema_ref.partition(":")[0]
    migrations_dir = environ.get(f"MIGRATE_MIGRATIONS_DIR_{name}")
    if migrations_dir == "":
        raise ConfigError(
            f"{where.named(f'MIGRATE_MIGRATIONS_DIR_{name}')} is set but empty: give it a"
            " directory or unset it"
        )
    return Project(
        migrations_dir=Path(migrations_dir)
        if migrations_dir is not None
        else default.migrations_dir / name.lower(),
        schema_ref=environ.get(f"MIGRATE_SCHEMA_{name}", f"{module}.{name.lower()}:metadata"),
        variable_suffix=f"_{name}",
    )
