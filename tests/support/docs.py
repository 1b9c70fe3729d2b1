"""The project's documents as tests quote them: a section under its heading, a table's rows, links.

A test that holds a promise of the README, DEVELOPING.md or docs/*.md reads the section the
promise lives in, by its heading, so that moving the text moves the test with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_HEADING = re.compile(r"^(#{1,6}) +(.+?) *#* *$")
# An inline link or image: [text](target "title"); reference-style links are not used.
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def document(name: str) -> str:
    """The text of a document, by its path from the repository's root (`docs/compose.md`)."""
    return (ROOT / name).read_text(encoding="utf-8")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line outside fenced code blocks, with its index: headings and links live there."""
    fenced = False
    for index, line in enumerate(text.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            yield index, line


def headings(text: str) -> list[tuple[int, str]]:
    """Each heading as (level, text), in order, fenced code left out."""
    found = []
    for _, line in _prose_lines(text):
        match = _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def section(name: str, heading: str) -> str:
    """The text under `heading` ("## Commands") in the document `name`, up to the next heading
    of the same level or a higher one; the heading must occur exactly once."""
    text = document(name)
    level, title = heading.split(" ", 1)
    lines = text.splitlines()
    starts = [
        index
        for index, line in _prose_lines(text)
        if (match := _HEADING.match(line)) and (match.group(1), match.group(2)) == (level, title)
    ]
    assert len(starts) == 1, f"{name}: {heading!r} is a heading {len(starts)} times, not once"
    (start,) = starts
    end = len(lines)
    for index, line in _prose_lines(text):
        match = _HEADING.match(line)
        if index > start and match and len(match.group(1)) <= len(level):
            end = index
            break
    return "\n".join(lines[start + 1 : end]) + "\n"


def table_rows(text: str) -> list[str]:
    """The body rows of the one table in `text`: its header and separator left out."""
    return [line for line in text.splitlines() if line.startswith("| ")][2:]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text in lower case, punctuation
    other than `-` and `_` dropped, each space a hyphen (as github-slugger does)."""
    rendered = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    return re.sub(r"[^\w\- ]", "", rendered.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a document's headings give, a repeated one numbered as GitHub numbers it."""
    seen: dict[str, int] = {}
    found = set()
    for _, title in headings(text):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[str, str]]:
    """Each inline link as (text, target), fenced code left out."""
    prose = "\n".join(line for _, line in _prose_lines(text))
    return [(match.group(1), match.group(2)) for match in _LINK.finditer(prose)]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each link of the document at `path` that stays in the repository:
    a target that is not there, or outside the repository, an anchor no heading of the
    target gives, or a link named after one of the target's sections that lands elsewhere."""
    problems = []
    for shown, link in links(path.read_text(encoding="utf-8")):
        if not link or _SCHEME.match(link) or link.startswith("//"):
            continue
        problem = _problem(path, root, " ".join(shown.split()), link)
        if problem:
            problems.append(f"[{shown}]({link}): {problem}")
    return problems


def _problem(path: Path, root: Path, shown: str, link: str) -> str | None:
    """Why one link of `path` does not land, or None."""
    where, _, anchor = link.partition("#")
    if not where:
        target = path
    elif where.startswith("/"):  # from the repository's root, as GitHub reads it
        target = root / where.lstrip("/")
    else:
        target = path.parent / where
    target = target.resolve()
    if not target.is_relative_to(root.resolve()):
        return "leaves the repository"
    if not target.exists():
        return "no such file"
    if target.suffix != ".md" or not target.is_file():
        return "an anchor in a file that is not Markdown" if anchor else None
    text = target.read_text(encoding="utf-8")
    if anchor and anchor not in anchors(text):
        return f"no heading of {target.name} gives #{anchor}"
    sections = {slug(title) for level, title in headings(text) if level > 1}
    if slug(shown) in sections and anchor != slug(shown):
        return f"named after the section #{slug(shown)}, but lands elsewhere"
    return None
