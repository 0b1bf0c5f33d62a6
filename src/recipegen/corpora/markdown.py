"""Markdown recipes, one per file, as static site generators (Hugo, Jekyll) and note apps keep them.

The title is the front matter's ``title`` (YAML between ``---`` lines, or TOML between ``+++``),
else the first heading. The ingredients are the list under a heading called Ingredients (nested
lists flattened, sub-headings such as "For the sauce" kept inside it), the directions the list items
or paragraphs under Directions, Instructions, Method, Steps or Preparation. A file without such
a section, an index page or an about page, is no recipe and is skipped with that reason.
"""

from __future__ import annotations

import re
from typing import Any

from recipegen.corpora.records import DIRECTION_NAMES, INGREDIENT_NAMES, Skipped, normalized_name

NO_DIRECTIONS = "Markdown files without a Directions section"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
_FRONT_TITLE = re.compile(r"""^title\s*[:=]\s*(?P<q>["']?)(.*?)(?P=q)\s*$""", re.IGNORECASE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def markdown_record(text: str) -> dict[str, Any] | Skipped:
    lines = text.splitlines()
    title, lines = _front_matter_title(lines)
    sections: dict[str, list[str]] = {"ingredients": [], "directions": []}
    current: str | None = None
    level = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph and current == "directions":
            sections[current].append(" ".join(paragraph))
        paragraph.clear()

    for line in lines:
        if heading := _HEADING.match(line):
            flush()
            depth, name = len(heading.group(1)), _inline(heading.group(2))
            kind = _section(name)
            if kind:
                current, level = kind, depth
            elif current and depth > level:  # "For the sauce" inside Ingredients
                continue
            else:
                current = None
                title = title or name
            continue
        if not line.strip():
            flush()
            continue
        if current is None:
            continue
        if item := _ITEM.match(line):
            flush()
            sections[current].append(_inline(item.group(1)))
        elif not paragraph and sections[current] and line.startswith((" ", "\t")):  # a list item's wrapped line
            sections[current][-1] += " " + _inline(line)
        elif current == "directions":
            paragraph.append(_inline(line))
    flush()
    if not sections["directions"]:
        return Skipped(NO_DIRECTIONS)
    return {"title": title or "", "ingredients": sections["ingredients"], "directions": sections["directions"]}


def _front_matter_title(lines: list[str]) -> tuple[str, list[str]]:
    if not lines or lines[0].strip() not in ("---", "+++"):
        return "", lines
    fence = lines[0].strip()
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() == fence:
            titles = [m.group(2) for m in map(_FRONT_TITLE.match, lines[1:end]) if m]
            return (titles[0].strip() if titles else ""), lines[end + 1:]
    return "", lines


def _section(heading: str) -> str | None:
    name = normalized_name(re.sub(r"[^\w\s]", "", heading))
    if name in INGREDIENT_NAMES:
        return "ingredients"
    if name in DIRECTION_NAMES:
        return "directions"
    return None


def _inline(text: str) -> str:
    """A line's words without Markdown's marks: links as their text, emphasis and code unmarked."""
    text = _LINK.sub(r"\1", text)
    for _ in range(3):  # nested emphasis: ***word***
        text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())
