"""The run's one-line summary: filled in by the core, written by the CLI on exit.

In Kubernetes, /dev/termination-log is what `kubectl describe pod` shows as the
container's last state, so an operator sees the outcome without reading logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Kubernetes keeps at most 4096 bytes of a termination message.
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Slowest:
    """The slowest statement of a run's revisions (see migrator.db.progress)."""

    revision: str
    statement: str
    duration_s: float


@dataclass
class RunReport:
    """What a run did, as far as it got."""

    command: str = ""
    source: str | None = None
    destination: str | None = None
    applied: list[str] = field(default_factory=list)
    slowest: Slowest | None = None  # the slowest statement of the revisions it ran
    # Tables changed through pt-online-schema-change: revision, table, seconds.
    online: list[tuple[str, str, float]] = field(default_factory=list)

    def summary(
        self, exit_code: int, error: BaseException | None, duration: float
    ) -> dict[str, Any]:
        return {
            "command": self.command,
            "from": self.source,
            "to": self.destination,
            "applied": len(self.applied),
            "duration_s": round(duration, 3),
            "exit_code": exit_code,
            "error": type(error).__name__ if error is not None else None,
            "message": str(error) if error is not None else None,
            "slowest_statement": self.slowest.statement if self.slowest else None,
            "slowest_revision": self.slowest.revision if self.slowest else None,
            "slowest_s": self.slowest.duration_s if self.slowest else None,
        } | (
            {
                "changed_online": [
                    {"revision": revision, "table": table, "duration_s": seconds}
                    for revision, table, seconds in self.online
                ]
            }
            if self.online
            else {}
        )


def write_termination_message(
    path: Path, summary: dict[str, Any], mask: Callable[[Any], Any]
) -> bool:
    """Write the summary when the file can be written (it exists only in Kubernetes pods).

    ``mask`` hides secrets in the values before they are serialised, so the message
    stays valid JSON whatever the password is.
    """
    masked = mask(summary)
    # Cut only once masked: a cut through a password would leave its first part bare.
    if isinstance(masked.get("message"), str):
        masked["message"] = masked["message"][:MAX_MESSAGE]
    try:
        with path.open("w", encoding="utf-8") as file:
            file.write(json.dumps(masked) + "\n")
    except OSError:
        return False
    return True
