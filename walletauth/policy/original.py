"""The published text a policy transcribes, split at its clause headings, so that every
clause reference of the policy (``"ABCRECORDS 4 ①"``, ``"METALIVE クッキー"``) links to
the clause it quotes, and served whole as a page (``GET /policy/text``).

Headings are recognised as the two shipped texts write them: numbered (``"4. 第三者への
提供"``, referenced as ``"ABCRECORDS 4"``), or, in a text without numbered headings, short
list lines that are no sentence (``"- クッキー"``, referenced as ``"METALIVE クッキー"``).
A reference names the policy, then the heading's number or title, then optionally an item
(``"ABCRECORDS 4 ①"`` links to clause 4).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

_NUMBERED: Final = re.compile(r"(?P<key>\d+)\. \S.*")
_MAX_TITLE_CHARS: Final = 30
"""A list line longer than this is an item (a sentence), not a heading."""


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and the lines up to the next one; the first section is the preamble."""

    anchor: str
    """The fragment id of the section on the served page: ``c0`` (preamble), ``c1``..."""
    key: str | None
    """What a clause reference names: the heading's number or its title."""
    heading: str | None
    lines: tuple[str, ...]


def split_sections(text: str) -> list[Section]:
    """``text`` as its preamble and clause sections, in order, every line kept."""
    lines = text.splitlines()
    numbered = any(_NUMBERED.fullmatch(line) for line in lines)
    sections: list[Section] = []
    key: str | None = None
    heading: str | None = None
    body: list[str] = []
    for line in lines:
        found = _heading_key(line, numbered=numbered)
        if found is None:
            body.append(line)
            continue
        sections.append(Section(f"c{len(sections)}", key, heading, tuple(body)))
        key, heading, body = found, line, []
    sections.append(Section(f"c{len(sections)}", key, heading, tuple(body)))
    return sections


def _heading_key(line: str, *, numbered: bool) -> str | None:
    if numbered:
        match = _NUMBERED.fullmatch(line)
        return match["key"] if match else None
    title = line.removeprefix("- ")
    is_heading = (
        line.startswith("- ") and len(title) <= _MAX_TITLE_CHARS
        and not title.endswith(("。", "."))
    )
    return title if is_heading else None


def clause_anchors(text: str, clauses: Iterable[str]) -> dict[str, str]:
    """Each of ``clauses`` that names a heading of ``text`` -> its section's anchor."""
    by_key = {section.key: section.anchor for section in split_sections(text) if section.key}
    anchors: dict[str, str] = {}
    for clause in clauses:
        _policy, _, reference = clause.partition(" ")
        # "4 ①" is an item of clause 4: try the whole reference, then without the item.
        for key in (reference, reference.rsplit(" ", 1)[0]):
            if key in by_key:
                anchors[clause] = by_key[key]
                break
    return anchors


def text_page(text: str, *, title: str) -> str:
    """``text`` as a self-contained HTML page, one section per clause, every line kept
    (escaped) and nothing loaded from anywhere."""
    parts = [
        "<!doctype html>",
        '<html lang="ja">',
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<main>",
    ]
    for section in split_sections(text):
        parts.append(f'<section id="{section.anchor}">')
        if section.heading is not None:
            parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        parts.extend(f"<p>{html.escape(line)}</p>" for line in section.lines if line.strip())
        parts.append("</section>")
    parts.extend(["</main>", "</html>", ""])
    return "\n".join(parts)
