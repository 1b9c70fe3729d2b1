"""What `drift` found, per database, as text lines, as JSON, as one summary line for a fleet."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from migrator.drift.compare import Difference

NAMES_SHOWN = 20  # drifted databases named in the summary line
DIFFERENCES_SHOWN = 3  # differences named per database there


@dataclass
class DatabaseDrift:
    """One database's verdict: the differences of its live schema from its migrations."""

    database: str  # the database's name, never its URL (no password)
    target: str
    shard: int | None  # the position among the target's shards; None when it has one
    revision: str | None  # the recorded revision(s), comma-separated; None: none recorded
    differences: list[Difference] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "target": self.target,
            "shard": self.shard,
            "revision": self.revision,
            "drifted": self.drifted,
            "differences": [difference.as_json() for difference in self.differences],
        }

    def brief(self) -> str:
        """``game_17 (extra index ix_x on inventory)``."""
        shown = [difference.brief for difference in self.differences[:DIFFERENCES_SHOWN]]
        more = len(self.differences) - len(shown)
        if more:
            shown.append(f"{more} more")
        return f"{self.database} ({'; '.join(shown)})"


def summary(results: Sequence[DatabaseDrift], failed: int = 0) -> str:
    """``998 databases match their migrations; 2 differ: game_17 (…), game_512 (…)``."""
    drifted = [result for result in results if result.drifted]
    clean = len(results) - len(drifted)
    line = (
        f"{clean} database matches its migrations"
        if clean == 1
        else f"{clean} databases match their migrations"
    )
    if drifted:
        named = [result.brief() for result in drifted[:NAMES_SHOWN]]
        if len(drifted) > NAMES_SHOWN:
            named.append(f"and {len(drifted) - NAMES_SHOWN} more")
        verb = "differs" if len(drifted) == 1 else "differ"
        line += f"; {len(drifted)} {verb}: {', '.join(named)}"
    if failed:
        line += f"; {failed} could not be compared"
    return line


def write_text(results: Sequence[DatabaseDrift], out: TextIO, failed: int = 0) -> None:
    """One line per difference (prefixed with the database when there are several),
    then the summary line."""
    several = len(results) + failed > 1
    for result in results:
        for difference in result.differences:
            print(f"{result.database}: {difference.line}" if several else difference.line, file=out)
    print(summary(results, failed), file=out)


def write_json(results: Sequence[DatabaseDrift], out: TextIO) -> None:
    print(json.dumps({"databases": [result.as_json() for result in results]}), file=out)
