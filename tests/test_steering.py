"""Steering on hand-built histories and logits over a tiny vocabulary: no trained model."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from recipegen.generation.steering import LIST, STEPS, TITLE, RecipeReader, ban, repeated_ngram_bans
from recipegen.text import DIRECTIONS, END_TOKEN, INGREDIENTS, ITEM, STEP

VOCABULARY = ["", "[UNK]", END_TOKEN, INGREDIENTS, ITEM, DIRECTIONS, STEP, "recipe", "for", "egg", "eggs", "flour",
              "water", "salt", "beat", "the", "add", ",", "2", "1", "cup", "(", ")", "to", "taste", "lemon", "pan", "|"]
ID = {token: i for i, token in enumerate(VOCABULARY)}
FOODS = {"egg", "flour", "water", "salt", "lemon"}
HERE = tf.constant(20)  # the position of the next token: any will do but for titles
IS_WORD = tf.constant([token.isalpha() for token in VOCABULARY], tf.float32)


def ids(text):
    return [ID[token] for token in text.split()]


def bans_after(tokens, n, since=0, capacity=12, is_word=None):
    history = np.full((1, capacity), -1, dtype=np.int32)
    history[0, :len(tokens)] = tokens
    banned = repeated_ngram_bans(tf.constant(history), tf.constant(len(tokens)), tf.constant([since]), n,
                                 len(VOCABULARY), is_word)
    return {VOCABULARY[i] for i in np.flatnonzero(banned.numpy()[0])}


def test_the_token_that_would_repeat_an_ngram_is_banned():
    assert bans_after(ids("beat the egg , beat the"), 3) == {"egg"}
    assert bans_after(ids("beat the egg , beat the"), 4) == set(), "'beat the' alone is not a 4-gram"
    assert bans_after(ids("beat the egg , add the flour , beat the"), 3) == {"egg"}
    assert bans_after(ids("beat the egg , the flour , the"), 2) == {"egg", "flour"}


def test_an_ngram_before_the_section_start_does_not_count():
    tokens = ids("beat the egg <directions> beat the")
    assert bans_after(tokens, 3, since=0) == {"egg"}
    assert bans_after(tokens, 3, since=4) == set()


def test_numbers_and_marks_alone_never_block_what_follows():
    tokens = ids("2 cup flour <item> 1 cup water <item> 1 cup")
    assert bans_after(tokens, 3) == {"water"}, "without the word rule '1 cup' blocks 'water' ..."
    assert bans_after(ids("<item> 1 cup water <item> 1"), 3, is_word=IS_WORD) == set(), "... '<item> 1' blocks nothing"
    assert bans_after(tokens, 3, is_word=IS_WORD) == {"water"}, "'1 cup' holds a word: 'water' would repeat the line"


def test_ban_sets_banned_logits_to_minus_infinity():
    logits = tf.constant([[1.0, 2.0, 3.0]])
    assert ban(logits, tf.constant([[False, True, False]])).numpy().tolist() == [[1.0, float("-inf"), 3.0]]


# --- the decoder never writes a blocked n-gram ------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_generator():
    import keras

    from recipegen.config import ModelConfig
    from recipegen.generation.generator import Generator
    from recipegen.model import build_model

    keras.utils.set_random_seed(1)
    words = ["", "[UNK]", END_TOKEN, "a", "b", "c", "d", "e"]
    model = build_model(ModelConfig(units=8, embedding_dim=4, tie_embeddings=False), len(words))  # logits set below
    kernel, bias = model.get_layer("logits").get_weights()
    bias[2] = -3.0  # the end token is unlikely, so samples run long enough to want to repeat themselves
    model.get_layer("logits").set_weights([kernel * 3, bias])
    return Generator(model, words)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 4), seed=st.integers(0, 2**31 - 1), temperature=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
       prompt=st.lists(st.sampled_from("abcde"), min_size=1, max_size=5))
def test_a_sampled_token_never_completes_an_ngram_written_before(tiny_generator, n, seed, temperature, prompt):
    generation = tiny_generator.generate(" ".join(prompt), n=3, max_tokens=40, seed=seed, temperature=temperature,
                                         no_repeat_ngram=n)
    start = len(generation.prompt_tokens)
    for sample in generation.samples:
        tokens = generation.prompt_tokens + sample.tokens
        for end in range(max(start, n - 1), len(tokens)):  # every n-gram that a sampled token completes ...
            gram = tokens[end - n + 1:end + 1]
            earlier = [tokens[i:i + n] for i in range(end - n + 1)]
            assert gram not in earlier, (n, tokens, end)  # ... is new, even when the prompt repeats itself


# --- reading a recipe as it is written ---------------------------------------------------------------

def read(text, template="full", listed=None):
    reader = RecipeReader(VOCABULARY, template, FOODS)
    tokens = ids(text)
    state = reader.initial_state(tf.constant(1), None if listed is None else tf.constant([ids(listed)]))
    for position, token in enumerate(tokens):
        state = reader.observe(state, tf.constant([token]), tf.constant(position))
    return reader, state


def foods_where(reader, row):
    names = sorted(FOODS)
    return {names[g] for g in np.flatnonzero(row.numpy()[0][:reader.n_foods])}


def test_sections_follow_the_markers():
    for text, section in [("recipe for lemon", TITLE), ("recipe for lemon <ingredients> 2 eggs", LIST),
                          ("recipe for <ingredients> 2 eggs <directions> beat", STEPS)]:
        assert int(read(text)[1]["section"][0]) == section
    assert int(read("recipe for lemon | beat", template="book")[1]["section"][0]) == STEPS
    assert int(read("recipe for lemon | beat", template="full")[1]["section"][0]) == TITLE, "'|' is text there"
    _, state = read("recipe for <ingredients> 2 eggs <directions> beat")
    assert int(state["since"][0]) == 6, "the directions start after their marker"


def test_the_title_and_each_lines_main_food_are_wanted_every_listed_food_allowed():
    reader, state = read("recipe for lemon <ingredients> 2 eggs , beat <item> 1 cup flour ( water ) <item> salt "
                         "to taste <directions>")
    assert foods_where(reader, state["wanted"]) == {"lemon", "egg", "flour", "salt"}, "water is in parentheses"
    assert foods_where(reader, state["allowed"]) == {"lemon", "egg", "flour", "water", "salt"}


def test_a_food_the_directions_use_is_no_longer_wanted():
    reader, state = read("recipe for lemon <ingredients> 2 eggs <item> flour <directions> beat the egg")
    assert foods_where(reader, state["wanted"]) == {"lemon", "flour"}, "'egg' uses 'eggs'"


def test_steering_pushes_wanted_foods_and_pushes_away_unlisted_ones():
    reader, state = read("recipe for <ingredients> 2 eggs <item> flour <directions> beat the egg , add")
    logits = np.zeros((1, len(VOCABULARY)), np.float32)
    logits[0, ID["the"]] = 1.0  # the model's first choice
    logits[0, ID["flour"]] = 0.5  # a wanted food, plausible here
    logits[0, ID["water"]] = 0.9  # a food the list does not name
    plain = tf.constant(logits)
    assert VOCABULARY[int(tf.argmax(plain[0]))] == "the"
    steered = reader.steer(plain, state, 2.0, 0.0, HERE).numpy()[0]
    assert VOCABULARY[int(np.argmax(steered))] == "flour"
    assert steered[ID["egg"]] == steered[ID["salt"]] == 0.0, "egg is used; salt is not wanted"
    penalized = reader.steer(plain, state, 0.0, 5.0, HERE).numpy()[0]
    assert penalized[ID["water"]] == pytest.approx(0.9 - 5.0) and penalized[ID["flour"]] == 0.5
    assert reader.steer(plain, state, 0.0, float("inf"), HERE).numpy()[0][ID["water"]] < -1e8, "inf: never"


def test_an_implausible_food_is_not_pushed():
    reader, state = read("recipe for <ingredients> flour <directions> beat the")
    logits = np.zeros((1, len(VOCABULARY)), np.float32)
    logits[0, ID["egg"]] = 7.0  # flour is more than 6 nats below the first choice
    steered = reader.steer(tf.constant(logits), state, 3.0, 0.0, HERE).numpy()[0]
    assert steered[ID["flour"]] == 0.0


def test_markers_out_of_place_are_never_written_while_steering():
    reader, state = read("recipe for <ingredients> flour <directions> beat")
    steered = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 1.0, 0.0, HERE).numpy()[0]
    assert all(steered[ID[marker]] == float("-inf") for marker in (INGREDIENTS, ITEM, DIRECTIONS))
    assert steered[ID[STEP]] == steered[ID[END_TOKEN]] == 0.0
    unsteered = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 0.0, 0.0, HERE).numpy()[0]
    assert (unsteered == 0).all(), "with both settings at 0 nothing changes"


def test_a_given_list_checks_the_title_before_it_is_written():
    reader, state = read("recipe for", listed="<ingredients> 2 eggs <directions>")
    logits = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 0.0, 4.0, HERE).numpy()[0]
    assert logits[ID["flour"]] == -4.0 and logits[ID["egg"]] == logits[ID["eggs"]] == 0.0


def test_a_title_that_runs_on_is_closed_while_steering():
    reader, state = read("recipe for lemon")
    short = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 1.0, 0.0, tf.constant(3)).numpy()[0]
    assert short[ID["lemon"]] == 0.0 and short[ID[INGREDIENTS]] == 0.0
    long = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 1.0, 0.0, tf.constant(30)).numpy()[0]
    assert [VOCABULARY[i] for i in np.flatnonzero(long > float("-inf"))] == [INGREDIENTS]


def test_once_every_food_is_used_the_end_is_favoured():
    reader, state = read("recipe for <ingredients> 2 eggs <directions> beat the eggs")
    logits = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 1.0, 0.0, HERE).numpy()[0]
    assert logits[ID[END_TOKEN]] == 2.0 and logits[ID["the"]] == 0.0
    reader, state = read("recipe for <ingredients> <directions> beat the", listed=None)
    logits = reader.steer(tf.zeros((1, len(VOCABULARY))), state, 1.0, 0.0, HERE).numpy()[0]
    assert logits[ID[END_TOKEN]] == 0.0, "a recipe that named no food is not hurried to its end"
