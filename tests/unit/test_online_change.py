"""MIGRATE_BLOCKING_DDL=online without a server: the statement as the tool's --alter, the
refusals, the login file and the command line, and the tool's progress lines."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from migrator.ddl.online_table import translate, trigger_names
from migrator.ddl.online_tool import ToolOutcome, ToolRun, _line, command, private_files
from migrator.ddl.statements import parse
from migrator.settings.target import DatabaseTarget, Secret

TARGET = DatabaseTarget(
    host="db.example",
    port=3307,
    user="appuser",
    password=Secret('p#ss "w;rd\\'),
    database="app",
    options={"ssl_ca": "/ca.pem", "ssl_verify_cert": True},
)


@pytest.mark.parametrize(
    ("statement", "alter"),
    [
        ("ALTER TABLE big MODIFY a BIGINT NOT NULL", "MODIFY a BIGINT NOT NULL"),
        ("ALTER TABLE big MODIFY a BIGINT, ALGORITHM=COPY, LOCK=SHARED", "MODIFY a BIGINT"),
        ("ALTER TABLE big ADD COLUMN x INT, DROP COLUMN y", "ADD COLUMN x INT, DROP COLUMN y"),
        ("CREATE INDEX ix_big_b ON big (b)", "ADD INDEX ix_big_b (b)"),
        ("CREATE UNIQUE INDEX ux ON big (b, a)", "ADD UNIQUE INDEX ux (b, a)"),
        ("DROP INDEX ix_big_b ON big", "DROP INDEX ix_big_b"),
        ("ALTER TABLE big CHANGE a a BIGINT", "CHANGE a a BIGINT"),
        ("ALTER TABLE big RENAME INDEX i TO j", "RENAME INDEX i TO j"),
    ],
)
def test_a_statement_becomes_the_tools_clause_list(statement: str, alter: str) -> None:
    assert translate(parse(statement), "app") == (alter, None)


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("ALTER TABLE big RENAME TO huge", "renames the table"),
        ("ALTER TABLE big MODIFY a BIGINT, RENAME AS huge", "renames the table"),
        ("ALTER TABLE big RENAME COLUMN a TO z", "renames a column"),
        ("ALTER TABLE big CHANGE COLUMN a z BIGINT", "renames a column"),
        ("ALTER TABLE big DROP PRIMARY KEY, ADD PRIMARY KEY (a)", "primary key"),
        ("ALTER TABLE other.big MODIFY a BIGINT", "another database"),
        ("ALTER TABLE `b,g` MODIFY a BIGINT", "DSN cannot name"),
        (f"ALTER TABLE {'t' * 60} MODIFY a BIGINT", "over 64 characters"),
    ],
)
def test_what_the_tool_cannot_run_safely_is_refused_with_the_reason(
    statement: str, reason: str
) -> None:
    alter, why = translate(parse(statement), "app")
    assert alter == ""
    assert why is not None
    assert reason in why


def test_the_triggers_are_named_as_the_tool_names_them() -> None:
    assert trigger_names("app-db", "big") == [
        "pt_osc_app_db_big_ins",
        "pt_osc_app_db_big_upd",
        "pt_osc_app_db_big_del",
    ]


def test_the_password_is_in_a_file_only_the_user_can_read_never_on_the_command_line() -> None:
    run = ToolRun("/usr/bin/pt-online-schema-change", TARGET, "big", "MODIFY a BIGINT", "r1", 10)
    with private_files(TARGET) as (options, config):
        argv = command(run, options, config)
        text = options.read_text()
        assert stat.S_IMODE(options.stat().st_mode) == 0o600
        assert stat.S_IMODE(options.parent.stat().st_mode) == 0o700
        assert config.read_text() == ""
    assert not options.parent.exists()
    joined = " ".join(argv)
    for secret in ("p#ss", "db.example", "appuser", "3307"):
        assert secret not in joined
    assert argv[1:3] == ["--config", str(config)]  # the tool reads it only when first
    assert argv[-1] == f"F={options},D=app,t=big"
    assert 'password="p#ss \\"w;rd\\\\"' in text
    assert 'ssl-ca="/ca.pem"' in text
    assert "ssl-verify-server-cert" in text.splitlines()


def test_without_tls_options_the_file_names_none(tmp_path: Path) -> None:
    plain = DatabaseTarget(host="h", database="d", options={"ssl_disabled": True, "ssl_ca": "x"})
    with private_files(plain) as (options, _):
        assert "ssl" not in options.read_text()


def test_the_tools_progress_becomes_the_runners_progress_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = ToolRun("tool", TARGET, "big", "MODIFY a BIGINT", "r1", 10)
    outcome = ToolOutcome(exit_code=None, swapped=False)
    with caplog.at_level(logging.DEBUG, logger="migrator"):
        _line("Copying `app`.`big`:  42% 01:05 remain", run, outcome, 0.0)
        _line("Copying `app`.`big`:  97% 1+02:00:03 remain", run, outcome, 0.0)
        _line("2026-12-03T07:38:19 Swapped original and new tables OK.", run, outcome, 0.0)
    first, second, swapped = caplog.records[-3:]
    assert first.getMessage() == "42% done, ETA 65 s: online change of big"
    assert (first.__dict__["percent"], first.__dict__["eta_s"]) == (42, 65)
    assert second.__dict__["eta_s"] == 86400 + 7203
    assert swapped.getMessage() == "pt-online-schema-change: Swapped original and new tables OK."
    assert swapped.levelno == logging.INFO
    assert outcome.swapped
