from hypothesis import given, settings
from hypothesis import strategies as st

from recipegen.templates import Recipe, recipe_pieces, recipe_text
from recipegen.text import END_TOKEN, WORDS, detokenize, standardize, tokenize


def test_punctuation_becomes_tokens_and_case_folds():
    assert (tokenize("Mix 1/2 Cup Butter, then SALT.")
            == ["mix", "1", "/", "2", "cup", "butter", ",", "then", "salt", "."])


def test_prompt_and_training_text_share_one_standard_form():
    text = recipe_text(Recipe("Chocolate Cake", ("Melt the butter.",)), "book", WORDS)
    assert text.startswith(standardize("Recipe for CHOCOLATE   cake |"))
    assert text.endswith(" " + END_TOKEN)


def test_the_book_template_is_the_books():
    assert recipe_pieces(Recipe(" Toast ", ("Toast bread.", "Butter it.")), "book")[0] == (
        "Recipe for Toast | Toast bread. Butter it.")


def test_detokenize_reattaches_punctuation():
    tokens = tokenize("recipe for mom's all-purpose cake | add 1/2 cup sugar, salt, pepper. bake at 350°F (1.5 hours).")
    assert detokenize(tokens) == (
        "Recipe for mom's all-purpose cake | Add 1/2 cup sugar, salt, pepper. Bake at 350°f (1.5 hours)."
    )


def test_detokenize_stops_at_end_token():
    assert detokenize(["salt", ".", END_TOKEN, "more"]) == "Salt."


def test_end_token_cannot_come_from_text():
    assert END_TOKEN not in tokenize(f"cook {END_TOKEN} now")


recipe_like = st.text(
    alphabet=st.sampled_from(list("abcdefghij XYZ0123456789.,;:/-'()°%!?|\n\t") + ["é", "½", "ß", "—", "İ"]),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(recipe_like)
def test_round_trip_on_recipe_like_text(text):
    tokens = tokenize(text)
    assert tokenize(detokenize(tokens)) == tokens


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_round_trip_on_any_unicode(text):
    tokens = tokenize(text)
    assert tokenize(detokenize(tokens)) == tokens


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_standardize_is_idempotent(text):
    once = standardize(text)
    assert standardize(once) == once


# --- the character level and markers --------------------------------------------------------------

from recipegen.text import CHARS, INGREDIENTS, MARKERS, standardize_chars  # noqa: E402


def test_character_level_keeps_punctuation_in_place_and_lines_apart():
    assert (standardize_chars("Mix 1/2 Cup  Butter,\tthen SALT.\n\n  Serve. ")
            == "mix 1/2 cup butter, then salt.\nserve.")
    assert CHARS.tokens("ab.\n") == ["a", "b", ".", "\n"]


def test_no_text_can_write_a_marker_at_either_level():
    for marker in MARKERS:
        assert marker not in WORDS.tokens(WORDS.model_text([f"cook {marker} now"]))
        assert marker not in CHARS.tokens(CHARS.model_text([f"cook {marker} now {CHARS.symbol(marker)}"]))


def test_markers_are_one_token_at_either_level_and_read_back_by_name():
    for tokenizer in (WORDS, CHARS):
        text = tokenizer.model_text(["Toast", INGREDIENTS, "Bread", END_TOKEN])
        assert tokenizer.tokens(text).count(INGREDIENTS) == 1 and tokenizer.tokens(text)[-1] == END_TOKEN
        assert tokenizer.readable(tokenizer.tokens(text)) == "Toast <ingredients> Bread"


def test_prompts_may_name_section_markers_but_not_the_end():
    assert WORDS.prompt_tokens("Toast <ingredients> 1 egg") == ["toast", INGREDIENTS, "1", "egg"]
    assert END_TOKEN not in WORDS.prompt_tokens("toast <end>") and END_TOKEN not in WORDS.prompt_tokens("<end>")
    assert END_TOKEN not in CHARS.prompt_tokens("<end>")
    assert CHARS.prompt_tokens("Hi<ingredients>") == ["h", "i", INGREDIENTS]
    assert CHARS.prompt_tokens("CAPTAIN\n") == list("captain\n") and CHARS.prompt_tokens("to ") == list("to ")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_character_round_trip_and_idempotence(text):
    once = standardize_chars(text)
    assert standardize_chars(once) == once
    assert standardize_chars(CHARS.readable(CHARS.tokens(once))) == once
