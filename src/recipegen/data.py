"""Loading recipe corpora and splitting them into training and held-out recipes.

Three formats, chosen by file extension:

- ``.json``: the Epicurious ``full_format_recipes.json`` shape, a list of objects with
  ``title`` and ``directions`` (a list of steps or one string); ``ingredients`` is optional.
- ``.jsonl`` / ``.ndjson``: one such object per line.
- ``.txt``: recipes separated by blank lines; a block's first line is the title and the
  remaining lines are the directions.

Records whose title or directions are missing, null, empty or of the wrong type are skipped
and counted, never silently dropped: ``Corpus.skipped`` says how many.

The held-out recipes are chosen by a hash of (seed, position), the same rule whether the corpus is
held in memory or streamed (stream.py), so the same corpus and seed hold out the same recipes
either way, and a stream needs no pass to decide a recipe's side. Runs from before chose by other
rules and recorded none: ``run.Run.split`` says which rule a run used, and a resumed run's corpus
is split again by that rule (``prepare.resume_data``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
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


# How a run chose its held-out recipes; run.py reads which from the run.
PERMUTATION = "permutation"  # in memory, before the rules agreed: a seeded permutation's first share
CRC32 = "crc32"  # streamed, before the rules agreed: BLAKE2B's rule with crc32 as the hash
BLAKE2B = "blake2b"  # every run since, in memory or streamed
SPLIT_RULES = (PERMUTATION, CRC32, BLAKE2B)
# crc32 is linear: it held out positions in runs (1, 5, 9, 10, 14, 18, ...), and two seeds held
# out 37% or 3% of the same recipes where chance is 20%; blake2b is a hash without such patterns.
SPLIT_RULE = BLAKE2B

@dataclass(frozen=True)
class Split:
    """Which recipes are held out, by position among a corpus's usable recipes (from 0).

    A recipe is held out when the hash of (seed, position) falls in the lowest ``fraction`` of
    its range, so its side needs nothing but its position. Where that leaves a side empty (few
    recipes, or an extreme fraction), ``settled`` moves one recipe across: ``moved``.
    """

    seed: int
    fraction: float
    rule: str = SPLIT_RULE
    moved: int | None = None

    def key(self, position: int) -> int:
        """The hash of a position, as a fraction of 2**64."""
        text = f"{self.seed}:{position}".encode()
        if self.rule == BLAKE2B:
            return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
        if self.rule == CRC32:
            return zlib.crc32(text) << 32
        raise ValueError(f"the {self.rule!r} split is not by position")

    def held_out(self, position: int) -> bool:
        return (self.key(position) < self.fraction * 2**64) != (position == self.moved)

    def settled(self, recipes: int, held: int | None = None) -> Split:
        """This split for a corpus of ``recipes``, of which the hash alone holds out ``held`` (counted
        here when not given). Where it holds out none, the recipe with the smallest hash is held
        out; where it holds out all, the one with the largest is kept for training."""
        if held is None:
            held = sum(self.key(p) < self.fraction * 2**64 for p in range(recipes))
        if recipes < 2 or 0 < held < recipes:
            return dataclasses.replace(self, moved=None)
        pick = min if held == 0 else max
        return dataclasses.replace(self, moved=pick(range(recipes), key=self.key))


def split_corpus(recipes: list[Recipe], validation_fraction: float, seed: int,
                 rule: str = SPLIT_RULE) -> tuple[list[Recipe], list[Recipe]]:
    """Deterministic split by recipe: the same seed and corpus always hold out the same recipes.

    Both sides get at least one recipe, so a corpus needs at least two. ``rule``: a run's own,
    where it was trained by an older one.
    """
    if len(recipes) < 2:
        raise DataError(f"corpus has {len(recipes)} recipe(s); at least 2 are needed to hold some out for validation")
    if rule == PERMUTATION:
        order = np.random.default_rng(seed).permutation(len(recipes))
        n_held_out = min(max(1, round(len(recipes) * validation_fraction)), len(recipes) - 1)
        held = set(order[:n_held_out].tolist())
    else:
        split = Split(seed, validation_fraction, rule).settled(len(recipes))
        held = {position for position in range(len(recipes)) if split.held_out(position)}
    return ([r for i, r in enumerate(recipes) if i not in held],
            [r for i, r in enumerate(recipes) if i in held])


def _json_records(path: Path) -> list[Any]:
    text = _read_text(path)
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:  # Python's parser recurses once per level of nesting
        raise DataError(f"{path}: JSON nested too deeply to be a recipe corpus") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of recipe objects, got {type(data).__name__}")
    return data


def _jsonl_records(path: Path) -> Iterator[Any]:
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: invalid JSON on line {lineno}, column {e.colno}: {e.msg}") from None
        except RecursionError:
            raise DataError(f"{path}: JSON on line {lineno} nested too deeply to be a recipe") from None
        yield record


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
