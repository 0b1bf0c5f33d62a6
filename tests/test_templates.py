"""Templates: a record written as training text parses back into the same record, and samples
that break the template are read as well as possible, never with an exception."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipegen.data import Recipe
from recipegen.templates import TEMPLATES, parse_recipe, recipe_text, template_markers
from recipegen.text import CHARS, DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, MARKERS, STEP, WORDS, tokenize

LEVELS = [WORDS, CHARS]
RECIPE = Recipe(title="Lemon Rice",
                directions=("Rinse the rice, then simmer in 2 cups water for 15 minutes.", "Stir in the lemon juice."),
                ingredients=("1 cup rice", "1/2 lemon, juiced", "1/2 teaspoon salt"))


def parse_text(text, template, tokenizer):
    return parse_recipe(tokenizer.tokens(text), template, tokenizer)


@pytest.mark.parametrize("tokenizer", LEVELS, ids=lambda t: t.level)
def test_full_template_round_trip_keeps_title_ingredients_and_steps(tokenizer):
    text = recipe_text(RECIPE, "full", tokenizer)
    parsed = parse_text(text, "full", tokenizer)
    assert parsed.problems == []
    assert parsed.title == "Lemon rice"
    assert parsed.ingredients == ["1 cup rice", "1/2 lemon, juiced", "1/2 teaspoon salt"]
    assert parsed.directions == ["Rinse the rice, then simmer in 2 cups water for 15 minutes.",
                                 "Stir in the lemon juice."]


@pytest.mark.parametrize("tokenizer", LEVELS, ids=lambda t: t.level)
def test_book_template_reads_back_title_and_sentences(tokenizer):
    parsed = parse_text(recipe_text(RECIPE, "book", tokenizer), "book", tokenizer)
    assert (parsed.title, parsed.ingredients, parsed.problems) == ("Lemon rice", None, [])
    assert parsed.directions == ["Rinse the rice, then simmer in 2 cups water for 15 minutes.",
                                 "Stir in the lemon juice."]


def test_templates_end_every_text_with_the_end_marker_and_only_full_has_sections():
    for template in TEMPLATES:
        assert WORDS.tokens(recipe_text(RECIPE, template, WORDS))[-1] == END_TOKEN
        assert CHARS.tokens(recipe_text(RECIPE, template, CHARS))[-1] == END_TOKEN
    assert set(template_markers("full")) == set(MARKERS)
    assert template_markers("book") == (END_TOKEN,)
    assert parse_text(recipe_text(RECIPE, "plain", WORDS), "plain", WORDS) is None
    assert recipe_text(RECIPE, "plain", CHARS).startswith("lemon rice\nrinse the rice")  # lines kept at the char level


part = st.text(alphabet=st.sampled_from(list("abcxyz 0123456789.,;:/-'()°%!?\n") + ["é", "½", "<", ">"]), max_size=30)
nonempty = part.filter(lambda t: tokenize(t))  # a part with at least one token survives standardization


@settings(max_examples=150, deadline=None)
@given(title=nonempty, ingredients=st.lists(nonempty, min_size=1, max_size=4),
       directions=st.lists(nonempty, min_size=1, max_size=4), level=st.sampled_from(LEVELS))
def test_full_round_trip_on_generated_records(title, ingredients, directions, level):
    recipe = Recipe(title=title, directions=tuple(directions), ingredients=tuple(ingredients))
    parsed = parse_text(recipe_text(recipe, "full", level), "full", level)
    same = level.standardize
    assert parsed.problems == []
    assert same(f"recipe for {parsed.title}") == same(f"recipe for {' '.join(title.split())}")  # titles are one line
    assert [same(i) for i in parsed.ingredients] == [same(i) for i in ingredients]
    assert [same(d) for d in parsed.directions] == [same(d) for d in directions]


def words(text):
    return WORDS.tokens(WORDS.model_text([text]))


def test_missing_sections_are_flagged_and_the_rest_is_kept():
    tokens = words("recipe for toast") + [DIRECTIONS] + words("toast the bread .") + [END_TOKEN]
    parsed = parse_recipe(tokens, "full", WORDS)
    assert parsed.title == "Toast" and parsed.directions == ["Toast the bread."] and parsed.ingredients == []
    assert parsed.problems == ["no <ingredients> marker"]

    parsed = parse_recipe(words("recipe for toast"), "full", WORDS)
    assert parsed.title == "Toast"
    assert parsed.problems == ["no end token: cut short", "no <ingredients> marker", "no <directions> marker"]


def test_repeated_and_misplaced_markers_are_read_best_effort():
    tokens = (words("recipe for soup") + [INGREDIENTS] + words("1 onion") + [STEP] + words("2 carrots")
              + [INGREDIENTS] + words("salt") + [DIRECTIONS] + words("chop .") + [DIRECTIONS, STEP] + words("boil .")
              + [ITEM, END_TOKEN, *words("ignored after the end")])
    parsed = parse_recipe(tokens, "full", WORDS)
    assert parsed.title == "Soup"
    assert parsed.ingredients == ["1 onion", "2 carrots", "Salt"]
    assert parsed.directions == ["Chop.", "Boil."]
    assert parsed.problems == ["<step> in <ingredients>", "<ingredients> appears more than once",
                               "<directions> appears more than once", "<item> in <directions>",
                               "an empty entry in directions"]


def test_a_skipped_section_marker_is_inferred_from_the_separator():
    tokens = (words("recipe for jam") + words("1 cup berries") + [ITEM] + words("sugar") + [DIRECTIONS]
              + words("cook .") + [END_TOKEN])
    parsed = parse_recipe(tokens, "full", WORDS)
    assert parsed.ingredients == ["Sugar"] and parsed.directions == ["Cook."]
    assert "<item> before any section marker" in parsed.problems


def test_book_template_without_separator_or_with_two():
    parsed = parse_recipe(words("recipe for stew . cook it long ."), "book", WORDS)
    assert parsed.directions == [] and "no '|' between title and directions" in parsed.problems
    parsed = parse_recipe(words("recipe for stew | cook . | serve .") + [END_TOKEN], "book", WORDS)
    assert parsed.title == "Stew" and parsed.problems == ["'|' appears 2 times"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(MARKERS) + ["recipe", "for", "salt", ".", "|", "1", "cup"]), max_size=40),
       st.sampled_from(["book", "full"]))
def test_the_parser_never_raises(tokens, template):
    parsed = parse_recipe(tokens, template, WORDS)
    assert isinstance(parsed.title, str) and all(parsed.directions)
    assert parsed.problems == list(dict.fromkeys(parsed.problems)), "each problem is listed once"
    if END_TOKEN not in tokens:
        assert "no end token: cut short" in parsed.problems


def test_auto_chooses_the_full_template_when_most_recipes_have_lists():
    from recipegen.templates import chosen_template

    assert chosen_template("auto", with_lists=6, recipes=10) == "full"
    assert chosen_template("auto", with_lists=5, recipes=10) == "book"
    assert chosen_template("book", with_lists=10, recipes=10) == "book"
    assert chosen_template("plain", with_lists=10, recipes=10) == "plain"


@pytest.mark.parametrize("level", ["word", "char"])
def test_a_line_that_reads_like_a_marker_is_text_not_a_marker(level):
    """An ingredient line "<end>" (or a corpus's step that says "<step>") must not close the recipe
    or open a section: only the template writes markers."""
    from recipegen.templates import given_pieces
    from recipegen.text import DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, STEP, tokenizer_for

    tokenizer = tokenizer_for(level)
    tokens = tokenizer.tokens(tokenizer.model_text(given_pieces("full", None, ("<end>", "<step>", "2 eggs"))))
    assert END_TOKEN not in tokens and STEP not in tokens
    assert tokens[0] == INGREDIENTS and tokens[-1] == DIRECTIONS and tokens.count(ITEM) == 2
