"""The realism measure and the copying measure, on texts whose answer is known."""

import math

import numpy as np
import pytest

from recipegen import shipped
from recipegen.data import load_corpus
from recipegen.realism import NgramIndex, copying, reading, realism, roc_auc
from recipegen.templates import recipe_text
from recipegen.text import CHARS, WORDS


@pytest.fixture(scope="module")
def bundled_texts():
    """The bundled corpus, read as the classifier reads a recipe, in a shuffled order."""
    recipes = load_corpus(shipped.corpus_path("data/recipes.json")).recipes
    texts = [reading(WORDS.tokens(recipe_text(r, "book", WORDS))) for r in recipes]
    return [texts[i] for i in np.random.default_rng(0).permutation(len(texts))]


def test_roc_auc_is_the_share_of_pairs_ranked_right():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5  # ties count half
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=60).round(1), rng.integers(0, 2, size=60)
    pairs = [(s1 > s0) + 0.5 * (s1 == s0) for s1 in scores[labels == 1] for s0 in scores[labels == 0]]
    assert roc_auc(scores, labels) == pytest.approx(np.mean(pairs))
    assert math.isnan(roc_auc([1.0, 2.0], [1, 1]))


def test_two_halves_of_one_corpus_cannot_be_told_apart(bundled_texts):
    assert abs(realism(bundled_texts[:100], bundled_texts[100:200]).auc - 0.5) < 0.12


def test_word_shuffled_recipes_are_told_apart_and_the_giveaways_named(bundled_texts):
    rng = np.random.default_rng(2)
    shuffled = [" ".join(rng.permutation(text.split())) for text in bundled_texts[:100]]
    told = realism(shuffled, bundled_texts[100:200])
    assert told.auc > 0.95
    assert told.betraying and told.missing
    # Word order is what gives them away: the tells are word pairs real recipes never write.
    assert all(" " in gram for gram, _ in told.betraying[:3])


def test_too_few_texts_for_the_folds_give_no_figure(bundled_texts):
    assert math.isnan(realism(bundled_texts[:3], bundled_texts[3:10]).auc)


def test_the_classifier_reads_title_and_directions_only():
    tokens = ["recipe", "for", "toast", "<ingredients>", "1", "slice", "bread", "<directions>", "toast", "it", ".",
              "<step>", "serve", "<end>", "more"]
    assert reading(tokens) == "recipe for toast toast it . < step > serve"
    assert reading(list("toast it.") + ["<end>"], CHARS) == "toast it ."


def test_copied_ngrams_and_the_longest_copied_run():
    corpus = [np.arange(20), np.array([7, 7, 7, 7])]
    index = NgramIndex(corpus, n=3)
    copied_text = np.array([50, 3, 4, 5, 6, 51, 7, 7, 7])  # 3 4 5 6 (two 3-grams) and 7 7 7
    result = copying([copied_text], index)
    grams = 7  # 3-grams in a text of 9 tokens
    assert result["copied_ngrams"] == pytest.approx(3 / grams)  # 345, 456, 777
    assert result["longest_copied"] == 4  # 3 4 5 6
    assert copying([np.array([90, 91, 92, 93])], index) == {"copied_ngrams": 0.0, "longest_copied": 0}
    assert math.isnan(copying([np.array([1, 2])], index)["copied_ngrams"])  # shorter than one n-gram


def test_real_recipes_are_drawn_at_random_not_the_first_in_corpus_order():
    from recipegen.evaluate import chosen

    texts = [f"recipe for {letter} dish" for letter in "abcdefghijklmnopqrstuvwxyz"]  # alphabetical, as corpora are
    drawn = chosen(texts, 5, seed=42)
    assert drawn == chosen(texts, 5, seed=42), "seeded"
    assert len(set(drawn)) == 5 and set(drawn) <= set(texts)
    assert drawn == sorted(drawn, key=texts.index), "in their order"
    assert drawn != texts[:5]
    assert chosen(texts, 100, seed=1) == texts


def test_the_table_names_what_gives_the_samples_away_each_n_gram_quoted():
    from recipegen.render import measures_table

    realism_of_samples = {"auc": 0.9, "samples": 10, "real": 10, "betraying": ["stir until", ", about"],
                          "missing": ["drop"]}
    result = {"count": 10, "prompt": "recipe for", "max_tokens": 50, "seed": 1, "decoding": {},
              "by_temperature": [{"temperature": 0.5, "realism_auc": 0.9, "realism": realism_of_samples}],
              "real": {"samples": 10}}
    table = measures_table(result)
    assert "realism AUC" in table and "0.900" in table
    assert 'T=0.5 gives itself away by: "stir until", ", about"; real recipes have: "drop"' in table
