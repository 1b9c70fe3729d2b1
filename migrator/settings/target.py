"""Where to connect: the parsed database target, shown on request without its password.

This module imports no driver and no SQLAlchemy, so configuration errors are
reported before anything heavy is loaded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

from migrator.errors import ConfigError

DEFAULT_PORT = 3306

# Every scheme here means PyMySQL, the only driver in the image.
SUPPORTED_SCHEMES = frozenset({"mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql"})

# URL query options passed to PyMySQL, with their types. Query strings arrive as
# text, and PyMySQL would treat "false" as true, so each option is parsed here.
_BOOL_OPTIONS = frozenset({"ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"})
_TEXT_OPTIONS = frozenset({"ssl_ca", "ssl_cert", "ssl_key", "unix_socket"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

# MySQL's limits on names, checked here so that a name the server must refuse is a
# configuration error (exit 2), not a login failure that pods retry.
MAX_DATABASE_NAME = 64
MAX_HOST_NAME = 253  # DNS
MAX_HOST_LABEL = 63
# Long values are cut in messages: one line must stay one readable line.
SHOWN_LENGTH = 120


def shown(value: object) -> str:
    """A user-supplied value (a path, say) as quoted in a message: cut when very long."""
    text = str(value)
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH] + f"... ({len(text)} chars)"


class Secret:
    """A password: shown as *** by repr() and str(), revealed only by get_secret_value().

    The same interface as pydantic's SecretStr, without importing pydantic, which
    costs more than a whole no-op run.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Project:
    """What the image bundles: the Alembic scripts and the schema they should produce."""

    migrations_dir: Path
    schema_ref: str = "schema:metadata"
    # The settings' suffix in messages: "" for the default target, "_LOG" for target log.
    variable_suffix: str = ""


@dataclass(frozen=True)
class DatabaseTarget:
    """One MySQL/MariaDB database to migrate."""

    host: str
    database: str
    user: str = "root"
    password: Secret = field(default_factory=lambda: Secret(""))
    port: int = DEFAULT_PORT
    options: Mapping[str, str | bool] = field(default_factory=dict)

    def redacted_url(self) -> str:
        """The target as a URL with the password masked, for logs and messages."""
        auth = quote(self.user, safe="")
        if self.password.get_secret_value():
            auth += ":***"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mysql://{auth}@{host}:{self.port}/{self.database}"


def parse_database_url(url: str) -> DatabaseTarget:
    """Parse a SQLAlchemy-style MySQL URL.

    Messages never quote the URL: it may hold the password.
    """
    scheme, separator, rest = url.strip().partition("://")
    if not separator:
        raise ConfigError(
            "DATABASE_URL is not a URL: expected mysql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    scheme = scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        driver = scheme.partition("+")[2]
        if scheme.partition("+")[0] in {"mysql", "mariadb"} and driver:
            raise ConfigError(
                f"DATABASE_URL asks for the driver {driver!r}; this image bundles PyMySQL only:"
                " use mysql://"
            )
        raise ConfigError(
            f"DATABASE_URL has the scheme {scheme!r}; only MySQL and MariaDB are supported:"
            " use mysql:// or mariadb://"
        )

    # The last "@" separates the credentials, so a password that was not
    # percent-encoded still parses as long as the host part has no "@".
    credentials, at, location = rest.rpartition("@")
    if not at:
        credentials, location = "", rest
    location, _, query = location.partition("?")
    hostport, slash, database = location.partition("/")
    database = unquote(database)
    if not slash or not database:
        raise ConfigError(
            "DATABASE_URL names no database: expected mysql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    if "/" in database:
        raise ConfigError(
            "DATABASE_URL has a '/' after the database name;"
            " percent-encode special characters in the password (%2F for '/')"
        )
    user, _, password = credentials.partition(":")
    host, port = _split_host_port(hostport)
    check_database_name(database, "DATABASE_URL")
    return DatabaseTarget(
        host=host,
        port=port,
        user=unquote(user) or "root",
        password=Secret(unquote(password)),
        database=database,
        options=_parse_options(query),
    )


def _split_host_port(hostport: str) -> tuple[str, int]:
    if hostport.startswith("["):  # IPv6 literal
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket:
            raise ConfigError("DATABASE_URL has an unclosed '[' in the host")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise ConfigError("DATABASE_URL names no host: expected mysql://USER@HOST:PORT/DATABASE")
    host = unquote(host)
    check_host(host, "DATABASE_URL")
    return host, parse_port(port_text, "DATABASE_URL") if port_text else DEFAULT_PORT


def parse_port(text: str, source: str) -> int:
    """A TCP port from text, with an error that names where it came from."""
    port = parse_count(text.lstrip("0") or "0")
    if port is None or not 0 < port < 65536:
        raise ConfigError(f"{source} has an invalid port: expected a number from 1 to 65535")
    return port


# More digits than any count or port the runner takes; int() refuses over 4300 anyway.
MAX_DIGITS = 18


def parse_count(text: str) -> int | None:
    """A non-negative integer written in ASCII digits, or None (also for 100,000 digits)."""
    # isdigit() alone accepts digits such as "³" that int() then refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    return int(text)


def read_setting_file(path: Path, name: str, origin: str = "") -> str:
    """The text of the file a setting names, with a one-line ConfigError for every way it
    cannot be read as UTF-8 text (missing, a directory, binary, unreadable). ``origin``
    follows the path in messages (` (from .env)`)."""
    setting = f"{name}={shown(path)}{origin}"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{setting}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{setting}: is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"{setting}: permission denied") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{setting}: is not UTF-8 text") from None
    except ValueError:  # a NUL in the path, which only a .env file can carry
        raise ConfigError(f"{setting}: a path cannot hold a NUL character") from None
    except OSError as error:
        raise ConfigError(f"{setting}: cannot be read ({error.strerror})") from None


def check_host(host: str, source: str) -> None:
    """Refuse a host name that no resolver can look up: retrying it would only wait in vain."""
    if not host:
        raise ConfigError(f"{source} names an empty host")
    if not host.isprintable() or any(character.isspace() for character in host):
        raise ConfigError(f"{source} has a host with spaces or control characters")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return
    name = host.removesuffix(".")
    if len(name) > MAX_HOST_NAME:
        raise ConfigError(
            f"{source} has a host name of {len(name)} characters; DNS allows {MAX_HOST_NAME}"
        )
    if any(not 0 < len(label) <= MAX_HOST_LABEL for label in name.split(".")):
        raise ConfigError(
            f"{source} has a host name with an empty part or a part longer than"
            f" {MAX_HOST_LABEL} characters ({shown(host)})"
        )
    try:
        name.encode("idna")
    except UnicodeError:
        raise ConfigError(f"{source} has a host name that is not a valid DNS name") from None


def check_database_name(name: str, source: str) -> None:
    """Refuse a database name MySQL cannot have: too long, NUL, or a trailing space."""
    if len(name) > MAX_DATABASE_NAME:
        raise ConfigError(
            f"{source} names a database of {len(name)} characters; MySQL allows {MAX_DATABASE_NAME}"
        )
    if "\x00" in name or name.endswith(" ") or any(ord(c) > 0xFFFF for c in name):
        raise ConfigError(
            f"{source} names a database MySQL cannot have (a NUL character, a trailing"
            " space, or a character outside the Basic Multilingual Plane)"
        )


def _parse_options(query: str) -> dict[str, str | bool]:
    options: dict[str, str | bool] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in _BOOL_OPTIONS:
            if value.lower() not in _TRUE | _FALSE:
                raise ConfigError(f"DATABASE_URL option {name} must be true or false")
            options[name] = value.lower() in _TRUE
        elif name in _TEXT_OPTIONS:
            if not value or "\x00" in value:
                raise ConfigError(f"DATABASE_URL option {name} must be a non-empty path")
            options[name] = value
        else:
            supported = ", ".join(sorted(_BOOL_OPTIONS | _TEXT_OPTIONS))
            raise ConfigError(
                f"DATABASE_URL has the unsupported option {name!r} (supported: {supported})"
            )
    return options
