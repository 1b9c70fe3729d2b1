"""Which environment variables the runner reads, so that a misspelt one is caught, not ignored.

A misspelt setting is otherwise a setting left at its default: `MIGRATE_BLOCKING_DLL=refuse`
would run a table-copying `ALTER` under `warn`. The `MIGRATE_` namespace is the
runner's, so a variable there that it does not read is a configuration error.
`DATABASE_URL*` and `MYSQL_*` are shared with other tools (the official `mysql` image,
the `mysql` client, a platform's `DATABASE_URL_REPLICA`), so a variable there that the
runner does not read is a warning, as is any other variable one typo away from a
setting (`DATABSE_URL`). This runs on every path, the no-op fast path included, so the
common case (no stranger) costs set look-ups only, and difflib is imported only to
word a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from migrator.settings.declarations import declarations
from migrator.settings.targets import target_variables, undeclared

# The runner's own namespace: an unknown variable here is exit 2.
RUNNER_PREFIX = "MIGRATE_"
# Shared namespaces: an unknown variable here is a warning.
SHARED_PREFIXES = ("DATABASE_URL", "MYSQL_")
# Variables of the official mysql and mariadb images and of the mysql client, which a
# `.env` or a pod shares with the runner: never worth a warning.
SHARED_VARIABLES = frozenset(
    {
        "MYSQL_ROOT_PASSWORD",
        "MYSQL_ROOT_PASSWORD_FILE",
        "MYSQL_ALLOW_EMPTY_PASSWORD",
        "MYSQL_RANDOM_ROOT_PASSWORD",
        "MYSQL_ONETIME_PASSWORD",
        "MYSQL_INITDB_SKIP_TZINFO",
        "MYSQL_ROOT_HOST",
        "MYSQL_ROOT_HOST_FILE",
        "MYSQL_USER_FILE",
        "MYSQL_DATABASE_FILE",
        "MYSQL_MAJOR",
        "MYSQL_VERSION",
        "MYSQL_SHELL_VERSION",
        "MYSQL_PWD",
        "MYSQL_TCP_PORT",
        "MYSQL_UNIX_PORT",
        "MYSQL_HOME",
        "MYSQL_HISTFILE",
        "MYSQL_HISTIGNORE",
        "MYSQL_PS1",
        "MYSQL_TEST_LOGIN_FILE",
        "MYSQL_GROUP_SUFFIX",
        "MYSQL_IMAGE",  # the Makefile's own, exported to every target it runs
    }
)
# What Kubernetes injects for a Service named `migrate` or `mysql` in the namespace.
_SERVICE_LINK = re.compile(
    r"(?:MIGRATE|MYSQL)_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT_\d+_(?:TCP|UDP|SCTP)(?:_\w+)?)"
)
_SERVICE_URL = re.compile(r"(?:tcp|udp|sctp)://.*")
# Shorter names are too close to everyday ones (`NODE_NAME` and `POD_NAME`).
_SHORTEST_TYPO = 6


@dataclass
class Review:
    """What the variables' names say: errors (exit 2), warnings, and ignored targets."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # DATABASE_URL_<NAME> of unlisted targets

    def error(self) -> str | None:
        """One line for every variable that ends the run, or None."""
        if not self.errors:
            return None
        return (
            "; ".join(self.errors) + " (MIGRATE_* variables are the runner's own:"
            " docs/configuration.md lists them)"
        )


@cache
def _declared() -> frozenset[str]:
    return frozenset(declared.variable for declared in declarations())


@cache
def _declared_variants() -> dict[str, str]:
    return _one_typo_away(_declared())


def _one_typo_away(variables: Iterable[str]) -> dict[str, str]:
    """Each variable, and each with one character deleted, mapped to the variable: two
    names one typo apart (a letter added, dropped, changed, or two swapped) share one."""
    variants: dict[str, str] = {}
    for variable in sorted(variables):
        variants.setdefault(variable, variable)
        for variant in _deletions(variable):
            variants.setdefault(variant, variable)
    return variants


def _deletions(name: str) -> Iterable[str]:
    return (name[:position] + name[position + 1 :] for position in range(len(name)))


def review(environ: Mapping[str, str], declared_targets: Sequence[str], origin: str = "") -> Review:
    """Judge every variable in ``environ`` that the runner does not read.

    ``origin`` (`.env`, say) is named in the messages when it is not the environment.
    """
    known = _declared().union(*(target_variables(name) for name in declared_targets))
    found = Review()
    strangers = [name for name in environ if name not in known and name not in SHARED_VARIABLES]
    if not strangers:
        return found
    ignored = set(undeclared(dict.fromkeys(strangers, ""), declared_targets))
    variants = {**_one_typo_away(known - _declared()), **_declared_variants()}
    where = f" (from {origin})" if origin else ""
    for name in sorted(strangers):
        upper = name.upper()
        if _SERVICE_LINK.fullmatch(upper) or (
            upper in {"MIGRATE_PORT", "MYSQL_PORT"} and _SERVICE_URL.fullmatch(environ[name])
        ):
            continue
        if upper.startswith(RUNNER_PREFIX):
            hint = _close_match(upper, [v for v in known if v.startswith(RUNNER_PREFIX)])
            found.errors.append(f"{name}{where} is not a setting of this runner{hint}")
            continue
        typo = _typo_of(upper, variants)
        if typo is not None:
            found.warnings.append(
                f"{name}{where} is not a setting of this runner: did you mean {typo}?"
            )
        elif name in ignored:
            found.ignored.append(name)
        elif upper.startswith(SHARED_PREFIXES):
            hint = _close_match(
                upper, [v for v in known if v.startswith(SHARED_PREFIXES)], cutoff=0.8
            )
            found.warnings.append(f"{name}{where} is not a setting of this runner{hint}")
    return found


def _typo_of(upper: str, variants: Mapping[str, str]) -> str | None:
    """The variable ``upper`` is one typo away from (or the same but for case)."""
    if upper in variants and (upper == variants[upper] or len(upper) >= _SHORTEST_TYPO):
        return variants[upper]
    if len(upper) < _SHORTEST_TYPO:
        return None
    return next((variants[variant] for variant in _deletions(upper) if variant in variants), None)


def _close_match(name: str, candidates: list[str], cutoff: float = 0.6) -> str:
    """`: did you mean X?` for the closest candidate, or nothing."""
    if not candidates:
        return ""
    import difflib  # only here: the common run has no stranger to word a message for

    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=cutoff)
    return f": did you mean {matches[0]}?" if matches else ""
