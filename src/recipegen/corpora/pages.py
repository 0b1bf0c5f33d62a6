"""Saved web pages: the schema.org Recipes in their JSON-LD blocks.

Most recipe sites publish each recipe as JSON-LD (``<script type="application/ld+json">``) for
search engines, whatever their markup around it. Only those blocks are read, with the standard
library's ``html.parser``: it keeps a script's text whole, as a browser does, and forgives the
broken markup saved pages are full of. A parser that builds the tree (lxml, BeautifulSoup) would
add a dependency and build the whole page to hand us a few script elements.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from recipegen.corpora.jsonld import candidates
from recipegen.corpora.records import Skipped

NO_RECIPE = "pages without a schema.org Recipe"
BROKEN_BLOCK = "JSON-LD blocks that are not JSON"


class _JsonLdBlocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._inside: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = dict(attrs).get("type") or ""
        if tag == "script" and kind.split(";")[0].strip().lower() == "application/ld+json":
            self._inside = []

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self._inside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inside is not None:
            self.blocks.append("".join(self._inside))
            self._inside = None


def json_ld_blocks(page: str) -> list[str]:
    parser = _JsonLdBlocks()
    parser.feed(page)
    parser.close()
    return parser.blocks


def page_records(page: str) -> Iterator[Any]:
    """The records of a page's JSON-LD blocks, a ``Skipped`` for each block that does not parse or
    object that is not a Recipe, and one for a page that holds no Recipe at all."""
    found = False
    for block in json_ld_blocks(page):
        try:
            document = json.loads(block, strict=False)  # pages put raw line breaks inside strings
        except (ValueError, RecursionError):
            yield Skipped(BROKEN_BLOCK)
            continue
        for record in candidates(document):
            found = found or not isinstance(record, Skipped)
            yield record
    if not found:
        yield Skipped(NO_RECIPE)
