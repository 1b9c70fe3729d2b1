"""A database behind a port that refuses connections, for runs that must end on their
settings, and the one clear error line such a run ends with."""

from __future__ import annotations

import json

REFUSED = "127.0.0.1:1"
URL = f"mysql://app:pw@{REFUSED}/app"
PARTS = {"MYSQL_HOST": "127.0.0.1", "MYSQL_PORT": "1", "MYSQL_DATABASE": "app"}
NO_WAIT = {"MIGRATE_WAIT_TIMEOUT": "0"}


def assert_one_clear_line(result_stderr: str, expected: str) -> dict[str, object]:
    """The run's stderr is one short JSON error line that says ``expected``: that line."""
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr[:2000]
    entry: dict[str, object] = json.loads(lines[0])
    assert entry["level"] == "error"
    assert expected in str(entry["message"]), entry["message"]
    assert len(lines[0]) < 1000  # a 100 KB value is not echoed
    return entry
