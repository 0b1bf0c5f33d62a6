"""Loading recipe corpora and splitting them into training and held-out recipes.

Three formats, chosen by file extension:

- ``.json``: the Epicurious ``full_format_recipes.json`` shape, a list of objects with
  ``title`` and ``directions`` (a list of steps or one string); ``ingredients`` is optional.
- ``.jsonl`` / ``.ndjson``: one such object per line.
- ``.txt``: recipes separated by blank lines; a block's first line is the title and the
  remaining lines are the directions.

Records whose title or directions are missing, null, empty or of the wrong type are skipped
and counted, never silently dropped: ``Corpus.skipped`` says how many.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recipegen import shipped
from recipegen.errors import DataError
from recipegen.templates import Recipe
from recipegen.text import RECIPE_PREFIX

JSON_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TEXT_SUFFIXES = (".txt", ".text")


@dataclass(frozen=True)
class Corpus:
    recipes: list[Recipe]
    skipped: int = 0  # records without a usable title or directions
    source: str = ""
    skip_reasons: dict[str, int] = field(default_factory=dict)


def load_corpus(path: str | Path) -> Corpus:
    """Read every usable recipe from ``path``; raise DataError naming the file if none are."""
    path = check_corpus_path(path)
    reasons: dict[str, int] = {}
    recipes = list(iter_recipes(path, reasons))
    skipped = sum(reasons.values())
    if not recipes:
        raise DataError(f"{path}: no usable recipe ({skipped} records skipped: {describe_skips(reasons)})")
    return Corpus(recipes=recipes, skipped=skipped, source=str(path), skip_reasons=reasons)


def check_corpus_path(path: str | Path) -> Path:
    """The path of a corpus that exists (or the bundled one it names), is a file and has a known
    format; else DataError."""
    path = shipped.corpus_path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a .json, .jsonl or .txt file")
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES + JSONL_SUFFIXES + TEXT_SUFFIXES:
        raise DataError(f"{path}: unknown corpus format {suffix or '(no extension)'!r}; use .json, .jsonl or .txt")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    return path


def iter_recipes(path: Path, reasons: dict[str, int]) -> Iterator[Recipe]:
    """The usable recipes of a corpus, in file order, counting each skipped record in ``reasons``.

    JSON Lines and plain text are read lazily, a line or a block at a time, so a corpus larger
    than memory can be streamed; a ``.json`` list has to be parsed whole.
    """
    suffix = path.suffix.lower()
    records = _json_records(path) if suffix in JSON_SUFFIXES else (
        _jsonl_records(path) if suffix in JSONL_SUFFIXES else _text_records(path))
    empty = True
    for record in records:
        empty = False
        recipe, reason = _recipe_from_record(record)
        if recipe is None:
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            yield recipe
    if empty:
        raise DataError(f"{path}: file is empty")


def describe_skips(reasons: dict[str, int]) -> str:
    """``"3 without a title, 1 not an object"``."""
    return ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))


def split_corpus(recipes: list[Recipe], validation_fraction: float, seed: int) -> tuple[list[Recipe], list[Recipe]]:
    """Deterministic split by recipe: the same seed and corpus always hold out the same recipes.

    Both sides get at least one recipe, so a corpus needs at least two.
    """
    if len(recipes) < 2:
        raise DataError(f"corpus has {len(recipes)} recipe(s); at least 2 are needed to hold some out for validation")
    order = np.random.default_rng(seed).permutation(len(recipes))
    n_held_out = min(max(1, round(len(recipes) * validation_fraction)), len(recipes) - 1)
    held_out = sorted(order[:n_held_out])
    train = sorted(order[n_held_out:])
    return [recipes[i] for i in train], [recipes[i] for i in held_out]


def _json_records(path: Path) -> list[Any]:
    text = _read_text(path)
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of recipe objects, got {type(data).__name__}")
    return data


def _jsonl_records(path: Path) -> Iterator[Any]:
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: invalid JSON on line {lineno}, column {e.colno}: {e.msg}") from None


def _text_records(path: Path) -> Iterator[dict[str, Any]]:
    block: list[str] = []
    for _, line in _lines(path):
        if line.strip():
            block.append(line.strip())
        elif block:
            yield _text_record(block)
            block = []
    if block:
        yield _text_record(block)


def _text_record(lines: list[str]) -> dict[str, Any]:
    title = lines[0]
    if title.lower().startswith(RECIPE_PREFIX + " "):
        title = title[len(RECIPE_PREFIX) + 1 :]
    return {"title": title, "directions": lines[1:]}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors write one) is not text
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines, read lazily; a byte that is not UTF-8 is a DataError naming its line."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # the first may start with a BOM
            except UnicodeDecodeError as e:
                raise DataError(f"{path}: not UTF-8 text (line {lineno}, byte {e.start} of the line)") from None


def _recipe_from_record(record: Any) -> tuple[Recipe | None, str]:
    if not isinstance(record, dict):
        return None, "not an object"
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        return None, "without a title"
    directions = record.get("directions")
    if isinstance(directions, str):
        directions = [directions]
    if not isinstance(directions, list):
        return None, "without directions"
    steps = tuple(step.strip() for step in directions if isinstance(step, str) and step.strip())
    if not steps:
        return None, "without directions"
    ingredients = record.get("ingredients")
    if isinstance(ingredients, str):  # one ingredient per line, as a text field holds a list
        ingredients = ingredients.splitlines()
    if not isinstance(ingredients, list):
        ingredients = []
    return Recipe(
        title=title.strip(),
        directions=steps,
        ingredients=tuple(i.strip() for i in ingredients if isinstance(i, str) and i.strip()),
    ), ""
