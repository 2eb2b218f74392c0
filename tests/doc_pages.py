"""The documentation as the tests read it: the README, the pages of docs/ and the sections marked in them.

A marked section is the text between ``<!-- BEGIN:name -->`` and ``<!-- END:name -->``; tests
that hold the documentation true to the code (its commands run, its tables complete) read
the section they check from the page it lives on.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MKDOCS_CONFIG = REPO / "mkdocs.yml"

_MARKER = re.compile(r"<!-- (BEGIN|END):([\w-]+) -->")
_FENCED = re.compile(r"^ *```.*?^ *```", re.MULTILINE | re.DOTALL)


def page_path(page: str) -> Path:
    """Return the path of ``page``: ``"README.md"``, or a page of docs/ by its file name (``"runbook.md"``)."""
    return README if page == "README.md" else DOCS / page


def marked_section(page: str, name: str) -> str:
    """Return the text of section ``name`` on ``page`` (see :func:`page_path`), markers excluded.

    Fails naming the page when the section is not there exactly once.
    """
    text = page_path(page).read_text(encoding="utf-8")
    found = re.findall(rf"<!-- BEGIN:{re.escape(name)} -->(.*?)<!-- END:{re.escape(name)} -->", text, re.DOTALL)
    assert 1 == len(found), f"{page} has {len(found)} sections marked {name}, not one"
    return found[0]


def markers(text: str) -> list[tuple[str, str]]:
    """Return the section markers of ``text`` in order, as (``BEGIN`` or ``END``, name)."""
    return [(match[1], match[2]) for match in _MARKER.finditer(text)]


def heading_anchor(heading: str) -> str:
    """Return the anchor MkDocs (and GitHub) give ``heading``: lower case, punctuation dropped,
    each run of spaces and hyphens one hyphen."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", heading).strip().lower())


def page_anchors(page: str) -> set[str]:
    """Return the anchors of the headings of ``page`` (see :func:`page_path`), code blocks left out."""
    text = _FENCED.sub("", page_path(page).read_text(encoding="utf-8"))
    return {heading_anchor(heading) for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}
