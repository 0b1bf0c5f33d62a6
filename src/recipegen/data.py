"""Loading recipe corpora and splitting them into training and held-out recipes.

What a corpus file may be (CSV, JSON, JSON-LD, JSON Lines, text, pages, Markdown, app exports),
a folder or a glob of them, and how each is read, is the corpora package's; here a corpus is read
whole into memory. Records whose title or directions are missing, null, empty or of the wrong
type are skipped and counted, never silently dropped: ``Corpus.skip_reasons`` says why.

The held-out recipes are chosen by a hash of (seed, position), the same rule whether the corpus is
held in memory or streamed (stream.py), so the same corpus and seed hold out the same recipes
either way, and a stream needs no pass to decide a recipe's side. Runs from before chose by other
rules and recorded none: ``run.Run.split`` says which rule a run used, and a resumed run's corpus
is split again by that rule (``prepare.resume_data``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recipegen.corpora.formats import Reading
from recipegen.corpora.records import no_recipe
from recipegen.corpora.sources import resolve
from recipegen.errors import DataError
from recipegen.templates import Recipe

if TYPE_CHECKING:
    from recipegen.config import DataConfig


@dataclass(frozen=True)
class Corpus:
    recipes: list[Recipe]
    skipped: int = 0  # records without a usable title or directions
    source: str = ""
    skip_reasons: dict[str, int] = field(default_factory=dict)


def load_corpus(path: str | Path, reading: Reading | None = None) -> Corpus:
    """Read every usable recipe from ``path`` (a file, a folder or a glob); raise DataError naming it if none are."""
    source = resolve(path)
    reasons: dict[str, int] = {}
    recipes = list(source.recipes(reading or Reading(), reasons))
    skipped = sum(reasons.values())
    name = source.files[0] if source.single else source.given
    if not recipes:
        raise DataError(no_recipe(name, reasons))
    return Corpus(recipes=recipes, skipped=skipped, source=str(name), skip_reasons=reasons)


def reading_of(data: DataConfig) -> Reading:
    """How a config's ``[data]`` table says to read its corpus."""
    fields = {name: value for name, value in dataclasses.asdict(data.fields).items() if value}
    return Reading(fields=fields, encoding=data.encoding)


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
