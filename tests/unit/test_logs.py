"""Log formats and masking."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from migrator.errors import MigrationFailed
from migrator.process.logs import Redactor, configure_logging, get_logger, shard_details_at_debug
from migrator.process.report import MAX_MESSAGE, RunReport, write_termination_message


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def test_json_lines_carry_the_structured_fields(stream: io.StringIO) -> None:
    configure_logging("json", Redactor(), stream=stream)

    get_logger().info("applied revision", extra={"revision": "abc", "duration_s": 0.5})

    entry = json.loads(stream.getvalue())
    assert entry["message"] == "applied revision"
    assert entry["level"] == "info"
    assert (entry["revision"], entry["duration_s"]) == ("abc", 0.5)
    assert entry["time"].endswith("Z")


def test_text_lines_carry_the_same_fields(stream: io.StringIO) -> None:
    configure_logging("text", Redactor(), stream=stream)

    get_logger().warning("waiting", extra={"attempt": 3})

    line = stream.getvalue().strip()
    assert " WARNING " in line
    assert line.endswith("waiting  attempt=3")


def test_auto_is_json_when_not_a_terminal(stream: io.StringIO) -> None:
    configure_logging("auto", Redactor(), stream=stream)

    get_logger().info("hello")

    assert json.loads(stream.getvalue())["message"] == "hello"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_secrets_are_masked_raw_and_url_encoded(stream: io.StringIO, log_format: str) -> None:
    configure_logging(log_format, Redactor(["p@ss/w rd"]), stream=stream)

    get_logger().error("bad %s and %s", "p@ss/w rd", "p%40ss%2Fw%20rd", extra={"f": "xp@ss/w rdx"})

    output = stream.getvalue()
    assert "p@ss" not in output
    assert "p%40ss" not in output
    assert output.count("***") == 3


def test_tracebacks_are_masked_too(stream: io.StringIO) -> None:
    configure_logging("json", Redactor(["hunter2-secret"]), stream=stream)

    try:
        raise RuntimeError("login with hunter2-secret failed")
    except RuntimeError:
        get_logger().exception("boom")

    entry = json.loads(stream.getvalue())
    assert "RuntimeError" in entry["traceback"]
    assert "hunter2-secret" not in stream.getvalue()


def test_alembic_info_lines_are_hidden_unless_debugging(stream: io.StringIO) -> None:
    configure_logging("json", Redactor(), stream=stream)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade")
    assert stream.getvalue() == ""

    configure_logging("json", Redactor(), debug=True, stream=stream)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade")
    assert "Running upgrade" in stream.getvalue()


def test_very_short_secrets_are_not_searched_for(stream: io.StringIO) -> None:
    configure_logging("json", Redactor(["ab", "abcd"]), stream=stream)

    get_logger().info("a cab and abcd")

    assert json.loads(stream.getvalue())["message"] == "a cab and ***"


def test_the_termination_message_is_cut_only_once_masked(tmp_path: Path) -> None:
    secret = "s3cret-password-straddling"
    message = "x" * (MAX_MESSAGE - 5) + secret + " and more"
    path = tmp_path / "termination-log"
    summary = RunReport().summary(6, MigrationFailed(message), 1.0)

    write_termination_message(path, summary, Redactor([secret]).values)

    written = json.loads(path.read_text())["message"]
    assert len(written) <= MAX_MESSAGE
    assert "s3cre" not in written


@pytest.mark.parametrize("debug", [False, True])
def test_a_shards_steps_are_debug_lines_in_a_fleet(stream: io.StringIO, debug: bool) -> None:
    configure_logging("json", Redactor(), stream=stream, debug=debug)

    with shard_details_at_debug():
        get_logger().info("applied revision")
        get_logger().warning("running it anyway")
        logging.getLogger("migrator.db.progress").info("still running after 10 s")
    get_logger().info("shard finished")

    lines = [(e["level"], e["message"]) for e in map(json.loads, stream.getvalue().splitlines())]
    steps = [("debug", "applied revision")] if debug else []
    assert lines == [
        *steps,
        ("warning", "running it anyway"),
        ("info", "still running after 10 s"),
        ("info", "shard finished"),
    ]
