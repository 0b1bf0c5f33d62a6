"""How a recipe record is written as one training text, and how a sample is read back.

Three templates (``data.template``):

- ``book``: ``Recipe for <title> | <directions>``, the book's. No ingredients; the steps are
  joined, so a sample's directions can only be read back as sentences.
- ``full``: the title, then ``<ingredients>`` and the ingredient lines separated by ``<item>``,
  then ``<directions>`` and the steps separated by ``<step>``. Every marker is a single token
  that text cannot produce, so a sample parses back into title, ingredients and steps.
- ``plain``: the record's lines as they are (title line first), for text that is not a recipe,
  such as a play trained at the character level. It has no sections to parse.

Every text ends with the end token. ``parse_recipe`` is forgiving: a model writes what it
likes, so a missing section, a repeated marker or a marker in the wrong section never raises;
the recipe is read as well as it can be and each oddity is listed in ``problems``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from recipegen.text import DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, RECIPE_PREFIX, SEPARATOR, STEP, Tokenizer

TEMPLATES = ("book", "full", "plain")
AUTO = "auto"  # data.template: "full" for a corpus whose recipes mostly have ingredient lists, else "book"


@dataclass(frozen=True)
class Recipe:
    """A recipe record as a corpus holds it (data.py reads it; the templates write it as text)."""

    title: str
    directions: tuple[str, ...]
    ingredients: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedRecipe:
    title: str
    ingredients: list[str] | None  # None where the template has no ingredient list
    directions: list[str]
    problems: list[str] = field(default_factory=list)  # what had to be guessed; empty for a well-formed recipe

    def as_dict(self) -> dict:
        result: dict = {"title": self.title}
        if self.ingredients is not None:
            result["ingredients"] = self.ingredients
        return result | {"directions": self.directions, "problems": self.problems}


def recipe_pieces(recipe: Recipe, template: str) -> list[str]:
    """The record as text pieces and markers, in order, closed by the end token."""
    title = " ".join(recipe.title.split())  # one line, at the character level too
    if template == "book":
        return [f"Recipe for {book_title(title)} {SEPARATOR} {' '.join(recipe.directions)}", END_TOKEN]
    if template == "full":
        return [f"Recipe for {title}", INGREDIENTS, *_joined(recipe.ingredients, ITEM),
                DIRECTIONS, *_joined(recipe.directions, STEP), END_TOKEN]
    if template == "plain":
        return ["\n".join([recipe.title, *recipe.directions]), END_TOKEN]
    raise ValueError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")


def book_title(title: str) -> str:
    """A title for the book template, where the first separator ends the title: one inside it
    ("fish | chips") would start the directions early."""
    return title.replace(SEPARATOR, "/")


def recipe_text(recipe: Recipe, template: str, tokenizer: Tokenizer) -> str:
    """A record as the model trains on it: standardized at the tokenizer's level, markers included."""
    return tokenizer.model_text(recipe_pieces(recipe, template))


def given_pieces(template: str | None, title: str | None, ingredients: tuple[str, ...]) -> list[str]:
    """What a recipe asked for by its title and/or ingredient lines gives, as pieces after the prompt
    "recipe for" (the title with the prompt, to be standardized with it): ``generate.Request``'s text."""
    pieces: list[str] = []
    if title is not None:
        title = " ".join(title.split())
        pieces.append(f"{RECIPE_PREFIX} {book_title(title)} {SEPARATOR}" if template == "book"
                      else f"{RECIPE_PREFIX} {title}")
    if template == "full":
        pieces.append(INGREDIENTS)
    if ingredients:
        pieces += [*_joined(ingredients, ITEM), DIRECTIONS]
    return pieces


def template_markers(template: str) -> tuple[str, ...]:
    """Markers the vocabulary must hold for this template, however rare they are ("auto": as many as it may need)."""
    return (END_TOKEN, INGREDIENTS, ITEM, DIRECTIONS, STEP) if template in ("full", AUTO) else (END_TOKEN,)


def chosen_template(template: str, with_lists: int, recipes: int) -> str:
    """The template a run trains with: ``template``, or for "auto" the one the corpus can fill.

    With its ingredient list first, a recipe's directions have the foods to hold on to in view;
    without lists (most old cookbooks) the full template would be half empty markers.
    """
    if template != AUTO:
        return template
    return "full" if with_lists * 2 > recipes else "book"


def parse_recipe(tokens: Sequence[str], template: str, tokenizer: Tokenizer) -> ParsedRecipe | None:
    """Title, ingredients and steps of a sample's tokens (prompt included); None for ``plain``."""
    if template == "book":
        return _parse_book(tokens, tokenizer)
    if template == "full":
        return _parse_full(tokens, tokenizer)
    return None


def _joined(parts: Sequence[str], separator: str) -> list[str]:
    pieces: list[str] = []
    for i, part in enumerate(parts):
        pieces += [separator, part] if i else [part]
    return pieces


def _until_end(tokens: Sequence[str]) -> tuple[list[str], bool]:
    tokens = list(tokens)
    if END_TOKEN in tokens:
        return tokens[: tokens.index(END_TOKEN)], True
    return tokens, False


def _title(tokens: list[str], tokenizer: Tokenizer) -> str:
    title = tokenizer.readable(tokens)
    if title.lower().startswith(RECIPE_PREFIX):
        title = title[len(RECIPE_PREFIX):].strip()
    return title[:1].upper() + title[1:]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _parse_book(tokens: Sequence[str], tokenizer: Tokenizer) -> ParsedRecipe:
    tokens, ended = _until_end(tokens)
    problems = [] if ended else ["no end token: cut short"]
    if SEPARATOR not in tokens:
        return ParsedRecipe(_title(tokens, tokenizer), None, [],
                            problems + [f"no {SEPARATOR!r} between title and directions"])
    cut = tokens.index(SEPARATOR)
    if tokens.count(SEPARATOR) > 1:
        problems.append(f"{SEPARATOR!r} appears {tokens.count(SEPARATOR)} times")
    directions = _sentences(tokenizer.readable(tokens[cut + 1:]))
    if not directions:
        problems.append("no directions")
    return ParsedRecipe(_title(tokens[:cut], tokenizer), None, directions, problems)


def _parse_full(tokens: Sequence[str], tokenizer: Tokenizer) -> ParsedRecipe:
    """A small state machine over the markers: each section collects its parts, and a marker
    out of place is read the nearest sensible way and noted."""
    tokens, ended = _until_end(tokens)
    problems = [] if ended else ["no end token: cut short"]
    title: list[str] = []
    parts: dict[str, list[list[str]]] = {INGREDIENTS: [], DIRECTIONS: []}
    section = None  # None while in the title
    seen: dict[str, int] = {INGREDIENTS: 0, DIRECTIONS: 0}
    for token in tokens:
        if token in (INGREDIENTS, DIRECTIONS):
            seen[token] += 1
            if seen[token] == 2:
                problems.append(f"{token} appears more than once")
            if token == INGREDIENTS and seen[DIRECTIONS]:
                problems.append(f"{INGREDIENTS} after {DIRECTIONS}")
            section = token
            parts[section].append([])
        elif token in (ITEM, STEP):
            if section is None:  # the section marker was skipped: the separator says which section this is
                problems.append(f"{token} before any section marker")
                section = INGREDIENTS if token == ITEM else DIRECTIONS
            elif token != (ITEM if section == INGREDIENTS else STEP):
                problems.append(f"{token} in {section}")
            parts[section].append([])
        elif section is None:
            title.append(token)
        else:
            parts[section][-1].append(token)
    found: dict[str, list[str]] = {}
    for marker, name in ((INGREDIENTS, "ingredients"), (DIRECTIONS, "directions")):
        texts = [tokenizer.readable(part) for part in parts[marker]]
        found[marker] = [text for text in texts if text]
        if not seen[marker]:
            problems.append(f"no {marker} marker")
        elif not found[marker]:
            problems.append(f"no {name}")
        elif len(found[marker]) < len(texts):
            problems.append(f"an empty entry in {name}")
    ingredients, directions = found[INGREDIENTS], found[DIRECTIONS]
    return ParsedRecipe(_title(title, tokenizer), ingredients, directions, list(dict.fromkeys(problems)))
