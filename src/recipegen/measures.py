"""Numbers about the text a model writes, beyond perplexity.

Perplexity says how well a model predicts held-out recipes; it does not say whether its own
samples loop, ramble or forget to end. These measures read samples directly. All are pure
functions over token lists, pooled over the samples (n-grams never cross two samples):

- ``distinct_n``: unique n-grams / all n-grams. Low means the samples repeat themselves and
  each other.
- ``repeated_ngram_rate``: share of n-grams (n = 4) that already occurred earlier in the same
  sample: a model stuck in a loop scores high.
- ``mean_tokens`` and ``ended``: length, and the share of samples that wrote the end token
  before the token limit.
- ``well_formed``: share of samples that their template reads back with no problem (sections
  present, markers in place, the end token written).
- ``ingredients_used``: share of listed ingredients whose main word the directions mention.
- ``foods_listed``: share of the foods the directions mention that the ingredient list holds.
  A "food" is a word that is the main word of some ingredient line of the training recipes.

An ingredient's main word is a simple reading of a line: parentheses dropped, the first
comma-separated part that names something, cut before "for", "to", "or" and the like, and its
last word that is not a unit, size or preparation, in the singular ("2 large eggs, beaten" ->
egg; "1 cup chopped onions" -> onion; "vegetable oil for frying" -> oil). Crude, but the same
reading is applied to samples and to real recipes, so the figures compare.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from recipegen.templates import ParsedRecipe

_WORD = re.compile(r"[^\W\d_]+")
_PARENTHESES = re.compile(r"\([^)]*\)")
_CONNECTIVE = re.compile(r"\b(?:for|at|to|or|such as|plus|if|as|about)\b")  # "oil for frying", "salt to taste"
# Words that end an ingredient phrase without being the ingredient: units, sizes, preparations.
_NOT_FOOD = frozenset("""
    c cup cups tablespoon tablespoons tbsp tbs tbl teaspoon teaspoons tsp t g gram grams kg kilogram
    kilograms mg ml milliliter milliliters millilitre millilitres l liter liters litre litres dl
    pound pounds lb lbs ounce ounces oz quart quarts qt pint pints pt gallon gallons
    can cans package packages pkg jar jars bottle bottles box boxes bag bags container containers
    stick sticks slice slices piece pieces pinch pinches dash dashes bunch bunches sprig sprigs
    handful handfuls inch inches cm x large small medium whole extra
    taste needed divided optional serving garnish more and of the a an in into with without your any other
    chopped minced diced sliced grated shredded crushed melted softened beaten peeled packed drained rinsed
    cubed halved quartered toasted cooked trimmed seeded cored pitted thawed frozen fresh dried ground
    skinless boneless finely coarsely thinly roughly lightly firmly well halves halve half leaves leave whites white
""".split())


@dataclass(frozen=True)
class SampleText:
    """What the measures read of a sample; ``generate.Sample`` has the same three fields."""

    tokens: list[str]  # generated tokens only: no prompt, no end token
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


def singular(word: str) -> str:
    """A crude singular, applied alike to lists and directions so that "eggs" meets "egg"."""
    for suffix, replacement in (("ies", "y"), ("oes", "o"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + replacement
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lowercase words of a text, in the singular; digits, marks such as "¹" and punctuation dropped."""
    letters = ("".join(c for c in w if c.isalpha()) for w in _WORD.findall(text.lower()))
    return [singular(w) for w in letters if w]


def main_word(ingredient: str) -> str | None:
    """The word an ingredient line is about, or None when it has none ("1 cup").

    The first comma-separated part that names something, cut before "for", "to", "or" and the
    like; its last word that is not a unit, size or preparation."""
    for part in _PARENTHESES.sub(" ", ingredient.lower()).split(","):
        phrase = _CONNECTIVE.split(part)[0]
        candidates = [w for w in words(phrase) if w not in _NOT_FOOD and len(w) > 1]
        if candidates:
            return candidates[-1]
    return None


def food_lexicon(ingredient_lines: Iterable[str]) -> set[str]:
    """Every main word of the given ingredient lines: the words that count as foods."""
    return {word for line in ingredient_lines if (word := main_word(line))}


def ingredients_used(recipes: Iterable[ParsedRecipe]) -> float:
    """Share of listed ingredients (with a main word) whose main word the directions mention."""
    listed = used = 0
    for recipe in recipes:
        mentioned = set(words(" ".join(recipe.directions)))
        for line in recipe.ingredients or []:
            word = main_word(line)
            if word:
                listed += 1
                used += word in mentioned
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
    if parsed and parsed[0].ingredients is not None:
        result["ingredients_used"] = ingredients_used(parsed)
        if foods is not None:
            result["foods_listed"] = foods_listed(parsed, foods)
    return result


LABELS = {  # how each measure reads in one line of text
    "mean_tokens": "mean tokens", "ended": "ended", "distinct_1": "distinct-1", "distinct_2": "distinct-2",
    "repeated_4grams": "repeated 4-grams", "well_formed": "well formed", "ingredients_used": "ingredients used",
    "foods_listed": "foods listed",
}
_SHARES = {"ended", "repeated_4grams", "well_formed", "ingredients_used", "foods_listed"}


def format_measure(name: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if name in _SHARES:
        return f"{value:.1%}"
    return f"{value:.1f}" if name == "mean_tokens" else f"{value:.3f}"


def describe_measures(measures: dict[str, float]) -> str:
    """``"mean tokens 142.0, ended 75.0%, distinct-1 0.420, ..."``"""
    return ", ".join(f"{LABELS[name]} {format_measure(name, value)}" for name, value in measures.items() if name in LABELS)


def most_common_problems(samples: Sequence[SampleText], k: int = 3) -> list[tuple[str, int]]:
    """The parser's most frequent complaints, for a one-line summary."""
    counts = Counter(problem for s in samples if s.parsed for problem in s.parsed.problems)
    return counts.most_common(k)
