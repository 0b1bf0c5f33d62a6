"""Which words of a recipe are foods: one reading shared by the measures, data preparation and
the decoder's steering (generation/steering.py), so that what is steered is what is measured.

An ingredient line's *main word* is what the line is about: parentheses dropped, the first
comma-separated part that names something, cut before "for", "to", "or" and the like, and its
last word that is not a unit, size or preparation, in the singular ("2 large eggs, beaten" ->
egg; "1 cup chopped onions" -> onion; "vegetable oil for frying" -> oil).

A *food* is a main word of the training recipes' ingredient lines that ingredient lines name
at least a tenth as often as directions do. Lines without commas or with headings make main
words of kitchen words ("beans, rinsed and picked over" -> over, "Spice Mixture:" -> mixture,
"depending on desired heat" -> heat); directions use those words far more often than any list
does, which is what the ratio catches, on any corpus, without a list of them. Crude readings,
but applied alike to samples and to real recipes, so the figures compare.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[^\W\d_]+")
_PARENTHESES = re.compile(r"\([^)]*\)")
CONNECTIVES = ("for", "at", "to", "or", "such as", "plus", "if", "as", "about")  # "oil for frying", "salt to taste"
_CONNECTIVE = re.compile(r"\b(?:" + "|".join(CONNECTIVES) + r")\b")
# Words that end an ingredient phrase without being the ingredient: units, sizes, preparations,
# and English words that are never foods.
NOT_FOOD = frozenset("""
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
    it its this that these those is are be was were you we they one two three some each all only just not no
    like very up down off on over out from by than then so but here preferably used choice
    have want need around little per work doesn ingredient ingredients cooking
    cut size sized bite thick thickness thin light dark hot warm cold room temperature round long bit flavor color
    creamy cooled boiling food recipe recipes mashed crumbled pureed whipped juiced zested torn warmed heated chilled
""".split())
FOOD_RATIO = 0.1  # a food is named by ingredient lines at least this often per direction step that names it
MAIN_SHARE = 0.05  # and is the main word of at least this share of the lines that name it


def singular(word: str) -> str:
    """A crude singular, applied alike to lists and directions so that "eggs" meets "egg"."""
    for suffix, replacement in (("ies", "y"), ("oes", "o"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"),
                                ("xes", "x")):
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
    """The word an ingredient line is about, or None when it has none ("1 cup")."""
    for part in _PARENTHESES.sub(" ", ingredient.lower()).split(","):
        phrase = _CONNECTIVE.split(part)[0]
        candidates = [w for w in words(phrase) if w not in NOT_FOOD and len(w) > 1]
        if candidates:
            return candidates[-1]
    return None


class FoodCounter:
    """Counts what the lexicon needs, a recipe at a time, so a streamed corpus is read once."""

    def __init__(self) -> None:
        self.as_main_word: Counter[str] = Counter()  # ingredient lines whose main word it is
        self.in_lines: Counter[str] = Counter()  # ingredient lines naming each word
        self.in_steps: Counter[str] = Counter()  # direction steps naming each word

    def add(self, ingredient_lines: Iterable[str], direction_steps: Iterable[str] = ()) -> None:
        for line in ingredient_lines:
            if word := main_word(line):
                self.as_main_word[word] += 1
            self.in_lines.update(set(words(line)))
        for step in direction_steps:
            self.in_steps.update(set(words(step)))

    def lexicon(self) -> set[str]:
        return {word for word, count in self.as_main_word.items()
                if self.in_lines[word] >= FOOD_RATIO * self.in_steps[word]
                and count >= MAIN_SHARE * self.in_lines[word]}


def food_lexicon(ingredient_lines: Iterable[str], direction_steps: Iterable[str] = ()) -> set[str]:
    """The foods of a corpus: main words of its ingredient lines that its directions do not
    name ten times as often (see the module docstring)."""
    counter = FoodCounter()
    counter.add(ingredient_lines, direction_steps)
    return counter.lexicon()


def foods_in(text: str, foods: set[str]) -> set[str]:
    """The distinct foods a text names."""
    return {word for word in words(text) if word in foods}
