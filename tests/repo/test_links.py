"""Every link between the project's documents lands: the file exists and the anchor is a heading."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docs import ROOT, broken_links, document, links, slug

DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "DEVELOPING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_in_the_repository_lands(path: Path) -> None:
    assert broken_links(path) == []


def test_every_page_of_the_docs_is_linked_from_the_readme() -> None:
    linked = {target.partition("#")[0].lstrip("/") for _, target in links(document("README.md"))}

    unlinked = [
        str(page.relative_to(ROOT))
        for page in sorted((ROOT / "docs").glob("*.md"))
        if str(page.relative_to(ROOT)) not in linked
    ]
    assert unlinked == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Your application's own models", "your-applications-own-models"),
        ("Galera / Percona XtraDB Cluster", "galera--percona-xtradb-cluster"),
        ("`plan`", "plan"),
        ("[0.2.0] - 2026-11-30", "020---2026-11-30"),
        ("MySQL 8.0 and 8.4", "mysql-80-and-84"),
    ],
)
def test_anchors_are_the_ones_github_gives(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_link_that_does_not_land_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## Blocked DDL\n\n## Rollbacks\n")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## Grants\n\n"
        "[fine](docs/page.md#blocked-ddl) [fine](#grants) [fine](/docs/page.md)\n"
        "[fine](https://example.com/#nowhere)\n"
        "```\n[in code](nowhere.md)\n```\n"
        "[gone](docs/missing.md) [wrong anchor](docs/page.md#never-hangs)\n"
        "[Blocked DDL](docs/page.md#rollbacks) [outside](../elsewhere.md)\n"
    )

    assert broken_links(tmp_path / "README.md", root=tmp_path) == [
        "[gone](docs/missing.md): no such file",
        "[wrong anchor](docs/page.md#never-hangs): no heading of page.md gives #never-hangs",
        "[Blocked DDL](docs/page.md#rollbacks): named after the section #blocked-ddl,"
        " but lands elsewhere",
        "[outside](../elsewhere.md): leaves the repository",
    ]
