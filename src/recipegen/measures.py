"""Numbers about the text a model writes, beyond perplexity.

Perplexity says how well a model predicts held-out recipes; it does not say whether its own
samples loop, ramble, forget to end or cook something else than they promise. These measures read
samples directly. All are pure functions over token lists and parsed recipes, pooled over the
samples (n-grams never cross two samples):

- ``distinct_n``: unique n-grams / all n-grams. Low means the samples repeat themselves and
  each other.
- ``repeated_ngram_rate``: share of n-grams (n = 4) that already occurred earlier in the same
  sample: a model stuck in a loop scores high.
- ``mean_tokens`` and ``ended``: length, and the share of samples that wrote the end token
  before the token limit.
- ``well_formed``: share of samples that their template reads back with no problem (sections
  present, markers in place, the end token written).
- ``title_foods_used``: share of the foods a title names that the directions mention: does the
  recipe cook what its title promises?
- ``ingredients_used``: share of listed ingredients whose main word the directions mention (for
  a list given to ``generate --ingredients``: the given ingredients used).
- ``foods_listed``: share of the foods the directions mention that the ingredient list holds.
- ``extra_foods``: foods per recipe that the directions mention and the list does not hold.
- ``dish_drift``: foods per recipe that the directions mention and neither the title nor the
  list names: a recipe for grilled chicken that roasts a turkey drifts by one.
- ``distinct_titles``: distinct titles over samples. Real recipes rarely share one; a model that
  writes the same dish every time does.

Foods and main words are read as foods.py reads them. Crude, but the same reading is applied to
samples and to real recipes, so the figures compare.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from recipegen.foods import food_lexicon, foods_in, main_word, singular, words  # noqa: F401 (re-exported)
from recipegen.templates import ParsedRecipe


@dataclass(frozen=True)
class SampleText:
    """What the measures read of a sample (``generate.Sample.for_measures``)."""

    tokens: list[str]  # the tokens the model wrote: no prompt, nothing given, no end token
    ended: bool  # the end token was written before the token limit
    parsed: ParsedRecipe | None = None  # the whole sample (prompt included) read back by its template


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Iterable[Sequence[str]], n: int) -> float:
    """Unique n-grams over all n-grams of the samples; NaN when there are none."""
    total: list[tuple[str, ...]] = []
    for tokens in samples:
        total += ngrams(tokens, n)
    return len(set(total)) / len(total) if total else math.nan


def repeated_ngram_rate(samples: Iterable[Sequence[str]], n: int = 4) -> float:
    """Share of n-grams already seen earlier in the same sample; NaN when there are none."""
    repeats = total = 0
    for tokens in samples:
        grams = ngrams(tokens, n)
        repeats += len(grams) - len(set(grams))
        total += len(grams)
    return repeats / total if total else math.nan


@dataclass(frozen=True)
class FoodUse:
    """How one recipe's directions use the foods its title and list name."""

    used: list[str]  # ingredient lines whose main word the directions mention
    unused: list[str]  # ingredient lines (with a main word) whose main word they do not
    extra: list[str]  # foods the directions mention that no ingredient line holds (full template)
    title_foods: list[str]  # foods the title names
    title_used: list[str]  # those the directions mention
    drift: list[str]  # foods the directions mention that neither the title nor the list names

    def as_dict(self) -> dict[str, list[str]]:
        return dataclasses.asdict(self)


def food_use(recipe: ParsedRecipe, foods: set[str] | None) -> FoodUse:
    """Read one recipe as ``ingredients_used``, ``extra_foods`` and ``title_foods_used`` read it."""
    mentioned = set(words(" ".join(recipe.directions)))
    used, unused = [], []
    for line in recipe.ingredients or []:
        word = main_word(line)
        if word:
            (used if word in mentioned else unused).append(line)
    foods = foods or set()
    cooked = foods_in(" ".join(recipe.directions), foods)
    in_list = set(words(" ".join(recipe.ingredients or [])))
    extra = sorted(cooked - in_list) if recipe.ingredients is not None else []
    title_foods = sorted(foods_in(recipe.title, foods))
    drift = sorted(cooked - in_list - set(title_foods))
    return FoodUse(used, unused, extra, title_foods, [food for food in title_foods if food in mentioned], drift)


def coherence(recipe: ParsedRecipe, foods: set[str] | None) -> int:
    """How well a recipe holds together, as one number to rank candidates by: ingredient lines and
    title foods its directions use, less the foods they cook that the list does not hold."""
    use = food_use(recipe, foods)
    return len(use.used) + len(use.title_used) - len(use.extra)


def ingredients_used(recipes: Iterable[ParsedRecipe]) -> float:
    """Share of listed ingredients (with a main word) whose main word the directions mention."""
    listed = used = 0
    for recipe in recipes:
        use = food_use(recipe, None)
        used += len(use.used)
        listed += len(use.used) + len(use.unused)
    return used / listed if listed else math.nan


def foods_listed(recipes: Iterable[ParsedRecipe], foods: set[str]) -> float:
    """Share of food words in the directions (distinct per recipe) that the ingredient list holds."""
    mentioned = held = 0
    for recipe in recipes:
        in_list = set(words(" ".join(recipe.ingredients or [])))
        in_directions = {w for w in words(" ".join(recipe.directions)) if w in foods}
        mentioned += len(in_directions)
        held += len(in_directions & in_list)
    return held / mentioned if mentioned else math.nan


def extra_foods(recipes: Sequence[ParsedRecipe], foods: set[str]) -> float:
    """Foods per recipe that the directions mention and the ingredient list does not hold."""
    return sum(len(food_use(recipe, foods).extra) for recipe in recipes) / len(recipes) if recipes else math.nan


def dish_drift(recipes: Sequence[ParsedRecipe], foods: set[str]) -> float:
    """Foods per recipe that the directions mention and neither the title nor the list names."""
    return sum(len(food_use(recipe, foods).drift) for recipe in recipes) / len(recipes) if recipes else math.nan


def distinct_titles(recipes: Sequence[ParsedRecipe]) -> float:
    """Distinct titles (as words, case aside) over recipes."""
    titles = [" ".join(words(recipe.title)) for recipe in recipes]
    return len(set(titles)) / len(titles) if titles else math.nan


def title_foods_used(recipes: Iterable[ParsedRecipe], foods: set[str]) -> float:
    """Share of the foods the titles name (distinct per recipe) that their directions mention."""
    named = used = 0
    for recipe in recipes:
        use = food_use(recipe, foods)
        named += len(use.title_foods)
        used += len(use.title_used)
    return used / named if named else math.nan


def text_measures(samples: Sequence[SampleText], foods: set[str] | None = None) -> dict[str, float]:
    """Every measure that applies to these samples, by name, in a fixed order."""
    tokens = [s.tokens for s in samples]
    result = {
        "samples": len(samples),
        "mean_tokens": sum(map(len, tokens)) / len(samples) if samples else math.nan,
        "ended": sum(s.ended for s in samples) / len(samples) if samples else math.nan,
        "distinct_1": distinct_n(tokens, 1),
        "distinct_2": distinct_n(tokens, 2),
        "repeated_4grams": repeated_ngram_rate(tokens, 4),
    }
    parsed = [s.parsed for s in samples if s.parsed is not None]
    if parsed:
        result["well_formed"] = sum(not p.problems for p in parsed) / len(parsed)
        result["distinct_titles"] = distinct_titles(parsed)
    if parsed and foods is not None:
        result["title_foods_used"] = title_foods_used(parsed, foods)
        result["dish_drift"] = dish_drift(parsed, foods)
    if parsed and parsed[0].ingredients is not None:
        result["ingredients_used"] = ingredients_used(parsed)
        if foods is not None:
            result["foods_listed"] = foods_listed(parsed, foods)
            result["extra_foods"] = extra_foods(parsed, foods)
    return result


LABELS = {  # how each measure reads in one line of text
    "mean_tokens": "mean tokens", "ended": "ended", "distinct_1": "distinct-1", "distinct_2": "distinct-2",
    "repeated_4grams": "repeated 4-grams", "well_formed": "well formed", "title_foods_used": "title foods used",
    "ingredients_used": "ingredients used", "foods_listed": "foods listed", "extra_foods": "extra foods",
    "distinct_titles": "distinct titles", "dish_drift": "dish drift",
}
_SHARES = {"ended", "repeated_4grams", "well_formed", "title_foods_used", "ingredients_used", "foods_listed",
           "distinct_titles"}


def format_measure(name: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if name in _SHARES:
        return f"{value:.1%}"
    return f"{value:.1f}" if name in ("mean_tokens", "extra_foods", "dish_drift") else f"{value:.3f}"


def describe_measures(measures: dict[str, float]) -> str:
    """``"mean tokens 142.0, ended 75.0%, distinct-1 0.420, ..."``"""
    return ", ".join(f"{LABELS[name]} {format_measure(name, value)}"
                     for name, value in measures.items() if name in LABELS)


