"""One recipe record, in whichever shape its publisher wrote it, as a ``Recipe``, or why not.

Every format reader (formats.py and its neighbours) only finds records: objects, rows or files
that may be recipes. What a record's fields are called and how they hold their values differs:
Epicurious writes ``title`` and a list of ``directions``; schema.org ``name``,
``recipeIngredient`` and ``recipeInstructions`` as a string, strings, ``HowToStep`` objects or
``HowToSection``s; RecipeNLG and Food.com write their lists into CSV cells as JSON or Python
literals; Paprika one string with a line per ingredient; Mealie and Tandoor objects with ``text``,
``display`` or ``instruction``. Reading all of them here, in one place, means a new publisher's
spelling is one name added to a tuple, and every format gets it.

Text is cleaned the same way in every field: HTML tags dropped (a ``<br>`` or the end of a
paragraph is a line break), entities decoded, runs of spaces collapsed.
"""

from __future__ import annotations

import ast
import functools
import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recipegen.templates import Recipe

# The names a field goes by, compared with case, spaces, "_" and "-" ignored; the first found wins,
# so schema.org's recipeIngredient is preferred over its legacy ingredients.
TITLE_NAMES = ("title", "name", "recipename", "recipetitle")
INGREDIENT_NAMES = ("recipeingredient", "ingredients", "ingredientlist", "ingredientslist", "ingredient")
DIRECTION_NAMES = ("directions", "recipeinstructions", "instructions", "steps", "method", "preparation",
                   "procedure", "instruction")
FIELDS = ("title", "ingredients", "directions")
NAMES = dict(zip(FIELDS, (TITLE_NAMES, INGREDIENT_NAMES, DIRECTION_NAMES)))

_BREAKS = re.compile(r"<br\s*/?>|</(?:p|li|div|h[1-6]|tr)\s*>", re.IGNORECASE)
_MARKUP = re.compile(r"[<&\r\n]")  # what clean() has more to do for than collapse spaces
_INLINE = re.compile(r"</?(?:a|b|i|em|strong|span|u|s|sup|sub|small|mark|abbr|code|font)\b[^<>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^<>]*>")
_LIST_START = re.compile(r"\[\s*(?:[\"']|\])")  # [" or [' or []: a list of strings, as data tools write one
_MAX_LITERAL = 1_000_000  # characters: a list cell longer than this is read as text, not parsed


class BadValue(ValueError):
    """A cell that claims a shape it does not have: a list that does not parse. The reader that
    found it adds where it is (file, line, column) and makes it a DataError."""


@dataclass(frozen=True)
class Skipped:
    """What a format reader yields for something it found that is not a recipe, and why."""

    reason: str


def describe_skips(reasons: Mapping[str, int]) -> str:
    """``"3 without a title, 1 not an object"``."""
    return ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))


def no_recipe(name: object, reasons: Mapping[str, int]) -> str:
    """The error for a corpus without a usable recipe, with why each record was skipped."""
    skipped = sum(reasons.values())
    return f"{name}: no usable recipe ({skipped} records skipped: {describe_skips(reasons)})" if skipped \
        else f"{name}: file is empty"


@functools.lru_cache(maxsize=4096)  # a corpus's records share their few keys
def normalized_name(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def find_field(names: Mapping[str, str], field: str, chosen: str = "") -> str | None:
    """The key among ``names`` (normalized name -> key as written) holding ``field``: the one the
    user chose, else the first of the field's usual names."""
    if chosen:
        return names.get(normalized_name(chosen))
    return next((names[n] for n in NAMES[field] if n in names), None)


def clean(text: str) -> str:
    """Text as a reader would see it on a page: no tags, entities decoded, spaces single; line
    breaks kept, since a field's lines are its items."""
    if "<" in text:
        text = _TAGS.sub(" ", _INLINE.sub("", _BREAKS.sub("\n", text)))  # <b>30</b>. stays "30."
    if "&" in text:
        text = html.unescape(text)
    if "\n" not in text and "\r" not in text:
        return " ".join(text.split())
    return "\n".join(line for line in (" ".join(part.split()) for part in text.splitlines()) if line)


def literal_list(text: str) -> list[Any] | None:
    """The list a text cell holds as a JSON or Python literal (``["a", "b"]``, ``['a', 'b']``), parsed,
    never evaluated; None when the text is not written as a list of strings (``[Serves 4]`` is text);
    BadValue when it is and does not parse."""
    stripped = text.strip()
    if not (_LIST_START.match(stripped) and stripped.endswith("]")) or len(stripped) > _MAX_LITERAL:
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise BadValue("a list that does not parse (neither JSON nor a Python literal)") from None
    if not isinstance(value, list):
        raise BadValue("a list that does not parse")
    return value


def lines_of(value: Any, depth: int = 0) -> list[str]:
    """The text lines a field holds, in order, whatever it is: a string (one line per line), a list
    (flattened), a HowToSection (its steps), a HowToStep or an app's object (its text)."""
    if isinstance(value, str):
        return _lines(value)
    lines: list[str] = []
    if depth > 20:  # nesting deeper than any recipe's: not a recipe's field
        return lines
    if isinstance(value, list):
        try:
            plain = not _MARKUP.search("\x1f".join(value))  # TypeError unless every item is a string
        except TypeError:
            plain = False
        if plain:  # the common case, at the speed of C: lines of words and spaces only
            lines = [" ".join(item.split()) for item in value]
            return [line for line in lines if line] if "" in lines else lines
        for item in value:
            if isinstance(item, str):  # the common case, kept off the recursion
                lines += _lines(item)
            else:
                lines += lines_of(item, depth + 1)
    elif isinstance(value, dict):
        if "itemListElement" in value:  # a HowToSection (or an ItemList): its steps, in order
            return lines_of(value["itemListElement"], depth + 1)
        for key in ("text", "instruction", "display", "originalText", "note", "name"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return _lines(text)
    return lines


def _lines(text: str) -> list[str]:
    if _MARKUP.search(text):
        text = clean(text)
        return text.split("\n") if text else []
    text = " ".join(text.split())
    return [text] if text else []


def recipe_from_record(record: Any, chosen: Mapping[str, str] | None = None) -> tuple[Recipe | None, str]:
    """The recipe a record holds, or None and the reason it is skipped. ``chosen``: field -> the
    key the user named for it (``data.fields``), where the usual names do not fit."""
    if not isinstance(record, dict):
        return None, "not an object"
    keys = field_keys(record, chosen)
    title = record.get(keys["title"]) if keys["title"] else None
    title = " ".join(" ".join(lines_of(title)).split()) if isinstance(title, (str, list)) else ""
    if not title:
        return None, "without a title"
    directions_field = record.get(keys["directions"]) if keys["directions"] else None
    steps = tuple(lines_of(directions_field))
    if not steps:
        return None, "without directions"
    ingredients = tuple(lines_of(record.get(keys["ingredients"]))) if keys["ingredients"] else ()
    if not ingredients and isinstance(directions_field, list):  # Tandoor: each step lists its own ingredients
        ingredients = tuple(_step_ingredients(directions_field))
    return Recipe(title=title, directions=steps, ingredients=ingredients), ""


def field_keys(record: dict[str, Any], chosen: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Which of a record's keys holds each field (None where none does), by ``chosen`` or the usual names."""
    return _keys(tuple(record), tuple(sorted((chosen or {}).items())))


@functools.lru_cache(maxsize=1024)
def _keys(record_keys: tuple[Any, ...], chosen: tuple[tuple[str, str], ...]) -> dict[str, str | None]:
    """Which of a record's keys holds each field; the same for every record with the same keys."""
    names = {normalized_name(key): key for key in record_keys if isinstance(key, str)}
    return {field: find_field(names, field, dict(chosen).get(field, "")) for field in FIELDS}


def _step_ingredients(steps: list[Any]) -> Iterator[str]:
    for step in steps:
        if isinstance(step, dict) and isinstance(step.get("ingredients"), list):
            for item in step["ingredients"]:
                if isinstance(item, dict):
                    line = " ".join(part for part in (_named(item.get("amount")), _named(item.get("unit")),
                                                      _named(item.get("food")), _named(item.get("note"))) if part)
                    if line:
                        yield line
                elif isinstance(item, str) and item.strip():
                    yield clean(item)


def _named(value: Any) -> str:
    """An ingredient's part as text: a number without a useless ".0", a name, or an object's name."""
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, bool) or value is None or value == 0:
        return ""
    if isinstance(value, str):
        try:
            value = float(value)  # Tandoor writes amounts as "1.500"
        except ValueError:
            return clean(value).replace("\n", " ")
    if isinstance(value, float):
        return f"{value:g}" if value else ""
    return clean(str(value)).replace("\n", " ")
