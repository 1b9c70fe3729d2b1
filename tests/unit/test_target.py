"""Parsing DATABASE_URL and showing it without the password."""

from __future__ import annotations

import pytest

from migrator.errors import ConfigError
from migrator.settings.target import DatabaseTarget, parse_database_url


@pytest.mark.parametrize("scheme", ["mysql", "mariadb", "mysql+pymysql", "MariaDB+PyMySQL"])
def test_every_mysql_scheme_means_pymysql(scheme: str) -> None:
    target = parse_database_url(f"{scheme}://app:secret@db.internal:3307/shop")

    assert target == DatabaseTarget(
        host="db.internal", port=3307, user="app", password=target.password, database="shop"
    )
    assert target.password.get_secret_value() == "secret"


def test_defaults_for_port_and_user() -> None:
    target = parse_database_url("mysql://db/shop")

    assert (target.host, target.port, target.user) == ("db", 3306, "root")
    assert target.password.get_secret_value() == ""


def test_percent_encoded_credentials_are_decoded() -> None:
    target = parse_database_url("mysql://us%40er:p%40ss%3Aw%2Frd%25%23@db/shop")

    assert target.user == "us@er"
    assert target.password.get_secret_value() == "p@ss:w/rd%#"


def test_a_raw_password_with_special_characters_still_parses() -> None:
    target = parse_database_url("mysql://app:p@ss:w/rd#x?y@db:3306/shop")

    assert target.password.get_secret_value() == "p@ss:w/rd#x?y"
    assert (target.host, target.database) == ("db", "shop")


def test_ipv6_host() -> None:
    target = parse_database_url("mysql://root@[::1]:3307/shop")

    assert (target.host, target.port) == ("::1", 3307)
    assert target.redacted_url() == "mysql://root@[::1]:3307/shop"


def test_tls_options_are_typed() -> None:
    target = parse_database_url(
        "mysql://db/shop?ssl_ca=/ca.pem&ssl_verify_cert=false&ssl_verify_identity=1"
    )

    assert target.options == {
        "ssl_ca": "/ca.pem",
        "ssl_verify_cert": False,
        "ssl_verify_identity": True,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("db/shop", "not a URL"),
        ("postgresql://db/shop", "only MySQL and MariaDB"),
        ("mysql+mysqlconnector://db/shop", "bundles PyMySQL only"),
        ("mysql://db", "names no database"),
        ("mysql://db/", "names no database"),
        ("mysql://:3306/shop", "names no host"),
        ("mysql://db:0/shop", "invalid port"),
        ("mysql://db:abc/shop", "invalid port"),
        ("mysql://[::1/shop", "unclosed"),
        ("mysql://db/shop/extra", "percent-encode"),
        ("mysql://db/shop?ssl_verify_cert=maybe", "true or false"),
        ("mysql://db/shop?charset=latin1", "unsupported option 'charset'"),
    ],
)
def test_malformed_urls_are_configuration_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_database_url(url)


def test_errors_never_quote_the_url() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url("mysql://app:hunter2-secret@db:99999/shop")

    assert "hunter2-secret" not in str(caught.value)


def test_redacted_url_masks_the_password() -> None:
    target = parse_database_url("mysql://app:hunter2@db:3306/shop")

    assert target.redacted_url() == "mysql://app:***@db:3306/shop"
    assert "hunter2" not in repr(target)
