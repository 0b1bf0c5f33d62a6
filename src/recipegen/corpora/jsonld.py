"""The recipes in a JSON document: recipegen's own records, or schema.org ``Recipe``s in JSON-LD.

A recipe page's JSON-LD block holds one Recipe, a list of them, or a ``@graph`` of everything the
page describes (the WebPage, the Organization, a BreadcrumbList, the Recipe); ``@type`` may be a
list (``["Recipe", "NewsArticle"]``) or a full IRI. Objects that say they are something other than
a Recipe are skipped with that reason; an object without ``@type`` is read as a plain record
(Epicurious's shape and the apps' exports), as before JSON-LD was read at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from recipegen.corpora.records import Skipped

NOT_A_RECIPE = "not a schema.org Recipe"
_MAX_DEPTH = 8  # a @graph in a list in a @graph...: deeper than any page's, and nothing to find there


def is_recipe_type(value: Any) -> bool:
    types = value if isinstance(value, list) else [value]
    return any(isinstance(t, str) and t.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == "Recipe" for t in types)


def candidates(document: Any, depth: int = 0) -> Iterator[Any]:
    """Every record a JSON document offers, in order: its objects (a Recipe, or a plain record), the
    members of its lists and ``@graph``s, and a ``Skipped`` for each typed object that is not a Recipe."""
    if depth > _MAX_DEPTH:
        yield Skipped("nested too deeply")
    elif isinstance(document, list):
        for item in document:
            yield from candidates(item, depth + 1)
    elif isinstance(document, dict) and "@graph" in document and "@type" not in document:
        yield from candidates(document["@graph"], depth + 1)
    elif isinstance(document, dict) and "@type" in document and not is_recipe_type(document["@type"]):
        yield Skipped(NOT_A_RECIPE)
    else:
        yield document  # a Recipe, a plain record, or something recipes.py will count as not an object
