"""No docs page repeats a heading: a repeat is a pasted-twice section, with a broken anchor."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def headings(text: str) -> list[tuple[int, str]]:
    """The (level, title) of every Markdown heading outside code blocks."""
    found: list[tuple[int, str]] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            found.append((len(match.group(1)), match.group(2)))
    return found


def test_headings_are_found_outside_code_blocks_only() -> None:
    """The scanner sees real headings and skips '#' lines in fenced code."""
    text = "# Title\n\n```python\n# a comment\n```\n## Part\n### Part\n"
    assert headings(text) == [(1, "Title"), (2, "Part"), (3, "Part")]


def test_a_repeated_heading_is_caught() -> None:
    """The old async-views page, with its section pasted twice, fails the check."""
    text = "# Async views\n## The database from async views\n## The database from async views\n"
    assert duplicates(text) == ["## The database from async views"]


def duplicates(text: str) -> list[str]:
    """Headings that appear more than once at the same level."""
    counts = Counter(headings(text))
    return [f"{'#' * level} {title}" for (level, title), count in counts.items() if count > 1]


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda page: page.name)
def test_no_page_repeats_a_heading(page: Path) -> None:
    """Every heading of a page is unique at its level."""
    assert duplicates(page.read_text(encoding="utf-8")) == []
