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

This module is pure: the CLI hands it the environment as a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import ConfigError
from migrator.target import DatabaseTarget, Project, parse_database_url

DEFAULT = "default"
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


def discover(
    environ: Mapping[str, str],
    default: DatabaseTarget | None,
    default_project: Project,
    declared: Sequence[str] = (),
) -> list[Target]:
    """Every configured target, in the order `upgrade` migrates them: the default
    target first, then the ``declared`` named targets (MIGRATE_TARGETS) in their order.

    Only declared names are read: a platform's DATABASE_URL_REPLICA is not a target.
    """
    targets = [Target(DEFAULT, default_project, (default,))] if default is not None else []
    for name in declared:
        variable = name.upper()
        shards = tuple(parse_database_url(url) for url in _urls(environ, variable))
        if not shards:
            raise ConfigError(
                f"MIGRATE_TARGETS names {name}, but DATABASE_URL_{variable} (or its _FILE or"
                " _TEMPLATE form) is not set"
            )
        targets.append(Target(name, _project(environ, variable, default_project), shards))
    return targets


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


def _urls(environ: Mapping[str, str], name: str) -> list[str]:
    variable = f"DATABASE_URL_{name}"
    given = [suffix for suffix in ("", "_FILE", "_TEMPLATE") if variable + suffix in environ]
    if len(given) > 1:
        forms = " and ".join(variable + suffix for suffix in given)
        raise ConfigError(f"{forms} are all set: use one of them")
    if f"{variable}_FILE" in environ:
        path = Path(environ[f"{variable}_FILE"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{variable}_FILE={path}: {error.strerror}") from None
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f"{variable}_TEMPLATE" in environ:
        template = environ[f"{variable}_TEMPLATE"]
        if "{shard}" not in template:
            raise ConfigError(f"{variable}_TEMPLATE has no {{shard}} placeholder")
        shards = environ.get(f"{variable}_SHARDS")
        if not shards:
            raise ConfigError(f"{variable}_TEMPLATE needs {variable}_SHARDS, e.g. 0-15")
        return [template.replace("{shard}", shard) for shard in _shard_range(shards, variable)]
    return [url for url in _SEPARATORS.split(environ.get(variable, "")) if url]


def _shard_range(text: str, variable: str) -> list[str]:
    first, dash, last = text.partition("-")
    if dash and first.strip().isdigit() and last.strip().isdigit():
        low, high = int(first), int(last)
        if low > high:
            raise ConfigError(f"{variable}_SHARDS={text}: the range is empty")
        return [str(shard) for shard in range(low, high + 1)]
    shards = [shard for shard in _SEPARATORS.split(text) if shard]
    if not shards:
        raise ConfigError(f"{variable}_SHARDS={text}: expected a range like 0-15 or a list")
    return shards


def _project(environ: Mapping[str, str], name: str, default: Project) -> Project:
    module = default.schema_ref.partition(":")[0]
    return Project(
        migrations_dir=Path(
            environ.get(f"MIGRATE_MIGRATIONS_DIR_{name}", default.migrations_dir / name.lower())
        ),
        schema_ref=environ.get(f"MIGRATE_SCHEMA_{name}", f"{module}.{name.lower()}:metadata"),
        variable_suffix=f"_{name}",
    )
