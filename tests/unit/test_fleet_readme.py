"""The promises of docs/many-databases.md about fleets that need no server."""

from __future__ import annotations

import itertools
import re

from migrator.fleet.threads import NOT_STARTED, worst
from tests.support.docs import section

SHARDS = section("docs/many-databases.md", "## One schema across many shards")


def test_the_worst_shard_decides_in_the_order_the_docs_give() -> None:
    written = re.search(r"The exit status is the\s+worst shard's \(([\d, before]+), …\)", SHARDS)
    assert written is not None, "the sentence moved: update this test with it"
    order = [int(code) for code in re.findall(r"\d+", written.group(1))]
    assert order == [1, 6, 9, 8, 11, 4, 2, 5, 3]

    for earlier, later in itertools.combinations(order, 2):
        assert worst([0, later, earlier, NOT_STARTED]) == earlier
        assert worst([later, 0, earlier]) == earlier
