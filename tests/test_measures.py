"""Each measure of sample text on hand-made texts whose values are worked out by hand."""

import math

import pytest

from recipegen.measures import (
    SampleText,
    coherence,
    describe_measures,
    dish_drift,
    distinct_n,
    distinct_titles,
    food_lexicon,
    food_use,
    foods_listed,
    ingredients_used,
    main_word,
    repeated_ngram_rate,
    singular,
    text_measures,
)
from recipegen.templates import ParsedRecipe


def test_distinct_n_pools_samples_without_crossing_them():
    assert distinct_n([["a", "b", "a", "b"]], 1) == 0.5  # {a, b} of 4
    assert distinct_n([["a", "b", "a", "b"]], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    # Two samples: bigrams ab, bc and ab, bc; none spans "c" -> "a" across the samples.
    assert distinct_n([["a", "b", "c"], ["a", "b", "c"]], 2) == 0.5
    assert math.isnan(distinct_n([["a"]], 2)) and math.isnan(distinct_n([], 1))


def test_repeated_4grams_count_only_repeats_within_a_sample():
    loop = "a b c d a b c d".split()  # abcd bcda cdab dabc abcd: one repeat in five
    assert repeated_ngram_rate([loop], 4) == pytest.approx(1 / 5)
    assert repeated_ngram_rate([list("abcd"), list("abcd")], 4) == 0.0  # the same 4-gram in two samples is not a loop
    assert repeated_ngram_rate([list("aaaaaa")], 4) == pytest.approx(2 / 3)  # aaaa three times
    assert math.isnan(repeated_ngram_rate([list("abc")], 4))


@pytest.mark.parametrize("line, word", [
    ("2 large eggs, beaten", "egg"),
    ("1 cup chopped onions", "onion"),
    ("salt and pepper to taste", "pepper"),
    ("1 (16 ounce) can chickpeas, drained", "chickpea"),
    ("3 cloves garlic", "garlic"),
    ("2 cups fresh blueberries", "blueberry"),
    ("4 ripe tomatoes", "tomato"),
    ("vegetable oil for frying", "oil"),
    ("2 skinless, boneless chicken breast halves", "breast"),
    ("1/2 cup butter at room temperature", "butter"),
    ("1 cup fresh basil leaves, torn", "basil"),
    ("1 cup chocolate chips²", "chip"),  # a footnote mark is not a letter
    ("1 cup", None),
    ("", None),
])
def test_main_word_of_an_ingredient_line(line, word):
    assert main_word(line) == word


def test_singular_is_the_same_reading_on_both_sides():
    assert {singular(w) for w in ("egg", "eggs")} == {"egg"}
    assert singular("peaches") == singular("peach") == "peach"
    assert singular("glass") == "glass" and singular("couscous") == "couscous"


def recipe(ingredients, directions, problems=()):
    return ParsedRecipe(title="t", ingredients=ingredients, directions=directions, problems=list(problems))


def test_ingredients_used_is_the_share_of_listed_main_words_in_the_directions():
    r = recipe(["2 eggs", "1 cup flour", "1 tsp salt", "1 cup"], ["Beat the egg.", "Fold in the flour."])
    assert ingredients_used([r]) == pytest.approx(2 / 3)  # egg and flour of egg, flour, salt; "1 cup" has no food
    assert ingredients_used([r, recipe(["butter"], ["Melt the butter."])]) == pytest.approx(3 / 4)
    assert math.isnan(ingredients_used([recipe([], ["Stir."])]))


def test_foods_listed_is_the_share_of_mentioned_foods_on_the_list():
    foods = food_lexicon(["3 eggs", "flour", "1 pinch salt", "2 tablespoons butter", "1 cup olive oil"])
    assert foods == {"egg", "flour", "salt", "butter", "oil"}
    r = recipe(["2 eggs", "1 cup flour"], ["Beat the eggs with butter.", "Add flour, then stir."])
    assert foods_listed([r], foods) == pytest.approx(2 / 3)  # egg, flour listed; butter not
    r = recipe(["2 tablespoons olive oil"], ["Heat the oil."])
    assert foods_listed([r], foods) == 1.0  # any word of a listed line counts as listing it
    assert math.isnan(foods_listed([recipe(["x"], ["Stir."])], foods))


def test_text_measures_of_hand_made_samples():
    samples = [
        SampleText(tokens="a b c d a b c d".split(), ended=True,
                   parsed=recipe(["2 eggs", "salt"], ["Beat the eggs."])),
        SampleText(tokens="x y".split(), ended=False,
                   parsed=recipe(["flour"], ["Stir."], problems=["no end token: cut short"])),
    ]
    m = text_measures(samples, foods={"egg", "salt", "flour"})
    assert m["samples"] == 2 and m["mean_tokens"] == 5.0 and m["ended"] == 0.5
    assert m["distinct_1"] == pytest.approx(6 / 10) and m["distinct_2"] == pytest.approx(5 / 8)
    assert m["repeated_4grams"] == pytest.approx(1 / 5)
    assert m["well_formed"] == 0.5
    assert m["ingredients_used"] == pytest.approx(1 / 3)  # egg of egg, salt, flour
    assert m["foods_listed"] == 1.0
    assert "ingredients used 33.3%" in describe_measures(m)


def test_measures_without_sections_leave_out_the_ingredient_figures():
    m = text_measures([SampleText(tokens=["a", "b"], ended=True)])
    assert set(m) == {"samples", "mean_tokens", "ended", "distinct_1", "distinct_2", "repeated_4grams"}
    book = text_measures([SampleText(tokens=["a"], ended=True, parsed=recipe(None, ["Stir."]))])
    assert "well_formed" in book and "ingredients_used" not in book
    assert "title_foods_used" not in book, "no foods known"


FOODS = {"egg", "flour", "lemon", "rice", "salt", "chicken"}


def test_food_use_says_what_the_directions_use_and_what_else_they_cook():
    r = ParsedRecipe(title="Lemon chicken", ingredients=["2 chicken breasts", "1 lemon", "1 cup rice", "salt"],
                     directions=["Season the chicken with salt.", "Serve with eggs and rice."])
    use = food_use(r, FOODS)
    assert use.used == ["1 cup rice", "salt"], "main words: breast, lemon, rice, salt"
    assert use.unused == ["2 chicken breasts", "1 lemon"]
    assert use.extra == ["egg"], "chicken is on the list (as a word of a line), egg is not"
    assert (use.title_foods, use.title_used) == (["chicken", "lemon"], ["chicken"])
    assert coherence(r, FOODS) == 2 + 1 - 1


def test_title_foods_used_and_extra_foods_pool_over_samples():
    a = ParsedRecipe(title="Lemon rice", ingredients=["1 cup rice"], directions=["Cook the rice with flour."])
    b = ParsedRecipe(title="Eggs", ingredients=["2 eggs"], directions=["Boil the eggs."])
    m = text_measures([SampleText(["x"], True, a), SampleText(["y"], True, b)], FOODS)
    assert m["title_foods_used"] == pytest.approx(2 / 3), "rice and egg of lemon, rice, egg"
    assert m["extra_foods"] == 0.5, "flour in the first, nothing in the second"
    assert "title foods used 66.7%" in describe_measures(m) and "extra foods 0.5" in describe_measures(m)
    book = ParsedRecipe(title="Lemon rice", ingredients=None, directions=["Cook the rice."])
    assert set(text_measures([SampleText(["x"], True, book)], FOODS)) >= {"title_foods_used"}
    assert "extra_foods" not in text_measures([SampleText(["x"], True, book)], FOODS), "no list to be extra to"


def test_dish_drift_counts_foods_cooked_that_neither_title_nor_list_names():
    foods = {"chicken", "turkey", "lemon", "kale"}
    faithful = ParsedRecipe("Lemon chicken", ["1 chicken", "1 lemon"], ["Roast the chicken with the lemon."])
    drifting = ParsedRecipe("Chicken and kale", None, ["Roast the turkey until the chicken is done; add lemon."])
    assert dish_drift([faithful], foods) == 0
    assert dish_drift([drifting], foods) == 2  # turkey, lemon: the title names chicken and kale, there is no list
    assert dish_drift([faithful, drifting], foods) == 1
    measured = text_measures([SampleText(["x"], True, faithful), SampleText(["y"], True, drifting)], foods)
    assert measured["dish_drift"] == 1 and measured["distinct_titles"] == 1.0


def test_distinct_titles_read_titles_as_words():
    recipes = [ParsedRecipe(title, None, ["x."]) for title in ("Grilled chicken", "grilled  Chickens", "Kale salad")]
    assert distinct_titles(recipes) == pytest.approx(2 / 3)
