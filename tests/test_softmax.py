"""Sampled softmax (train.softmax) and tied embeddings (model.tie_embeddings).

Sampled softmax changes only the training loss: what the model outputs, and so every held-out
score, is the full softmax. Tied embeddings change the model: one matrix at both ends. The
multiworker step with sampled softmax against Keras's fit is in test_distribute.py.
"""

import csv
import json

import numpy as np
import pytest

from conftest import RECIPES, TINY_OVERRIDES

SAMPLED = {"train.softmax": "sampled", "train.sampled_classes": 20}


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "recipes.json"
    path.write_text(json.dumps(RECIPES), encoding="utf-8")
    return path


def tiny_config(corpus, overrides=None):
    from recipegen.config import load_config

    return load_config(None, {**TINY_OVERRIDES, "data.path": str(corpus), **(overrides or {})})


def test_candidates_are_distinct_words_drawn_as_a_function_of_the_step():
    import tensorflow as tf

    from recipegen.loss import log_uniform_candidates

    first, tries = log_uniform_candidates(64, 1000, tf.constant(7))
    ids = first.numpy()
    assert len(ids) == len(set(ids)) == 64 and ids.min() >= 0 and ids.max() < 1000
    assert int(tries) >= 64
    again, _ = log_uniform_candidates(64, 1000, tf.constant(7))
    other, _ = log_uniform_candidates(64, 1000, tf.constant(8))
    np.testing.assert_array_equal(again.numpy(), ids)  # what a resumed run draws at the same step
    assert set(other.numpy()) != set(ids)


def test_expected_counts_are_how_often_each_word_is_drawn():
    """The correction the loss subtracts (log of each word's expected count) must be the sampler's
    real inclusion probability, or the sampled softmax estimates the wrong distribution."""
    import tensorflow as tf

    from recipegen.loss import expected_counts, log_uniform_candidates

    vocab, count, steps = 40, 8, 3000
    seen = np.zeros(vocab)
    expected = np.zeros(vocab)

    @tf.function
    def draw(step):
        ids, tries = log_uniform_candidates(count, vocab, step)
        return ids, expected_counts(tf.range(vocab), vocab, tries)

    for step in range(steps):
        ids, probabilities = draw(tf.constant(step))
        seen[ids.numpy()] += 1
        expected += probabilities.numpy()
    np.testing.assert_allclose(seen / steps, expected / steps, atol=0.03)
    assert seen[0] > seen[-1] * 3  # frequent (low) ids are drawn far more often


def test_sampled_loss_approaches_the_full_loss_as_candidates_approach_the_vocabulary():
    import tensorflow as tf

    from recipegen.loss import sampled_loss_sum

    rng = np.random.default_rng(0)
    vocab, dim = 50, 6
    kernel = tf.constant(rng.normal(size=(vocab, dim)), tf.float32)
    bias = tf.constant(rng.normal(size=vocab), tf.float32)
    features = tf.constant(rng.normal(size=(3, 7, dim)), tf.float32)
    targets = tf.constant(rng.integers(1, vocab, (3, 7)), tf.int32)
    weights = tf.constant(np.ones((3, 7)) * (rng.random((3, 7)) > 0.2), tf.float32)  # some padding
    logits = tf.einsum("btd,vd->btv", features, kernel) + bias
    full = float(tf.reduce_sum(weights * tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)))

    gaps = [abs(float(sampled_loss_sum(kernel, bias, features, targets, weights, candidates, tf.constant(1)))
                - full) for candidates in (5, 20, 45, vocab)]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 10 * gaps[2]
    assert gaps[-1] == pytest.approx(0, abs=1e-4)  # every word a candidate: exactly the full softmax


def test_tied_embeddings_are_one_matrix_and_stay_tied_when_loaded(tmp_path):
    import keras

    from recipegen.config import ModelConfig
    from recipegen.model import build_model, feature_model

    model = build_model(ModelConfig(units=8, embedding_dim=6, tie_embeddings=True, dropout=0.0), 30)
    untied = build_model(ModelConfig(units=8, embedding_dim=6, dropout=0.0, tie_embeddings=False), 30)
    assert [w.path for w in model.weights if 30 in w.shape] == ["embedding/embeddings", "embedding/bias"]
    assert model.count_params() == untied.count_params() - 8 * 30 + 8 * 6  # a projection instead of a Dense kernel

    keras.saving.save_model(model, tmp_path / "tied.keras")
    loaded = keras.saving.load_model(tmp_path / "tied.keras")
    tokens = np.array([[3, 5, 7, 2]], dtype=np.int32)
    np.testing.assert_allclose(loaded(tokens), model(tokens), rtol=1e-5, atol=1e-6)
    embedding = loaded.get_layer("embedding")
    embedding.embeddings.assign(embedding.embeddings * 2.0)  # the output layer must move with it
    features = loaded.get_layer("projection")(feature_model(loaded)(tokens))
    by_hand = features.numpy() @ embedding.embeddings.numpy().T + embedding.bias.numpy()
    np.testing.assert_allclose(loaded(tokens), by_hand, rtol=1e-4, atol=1e-5)


def test_the_decoder_steps_a_tied_model_as_the_model_reads_its_prefix():
    import tensorflow as tf

    from recipegen.config import ModelConfig
    from recipegen.generation.loop import Decoder
    from recipegen.model import build_model
    from recipegen.text import END_TOKEN

    vocabulary = ["", "[UNK]", END_TOKEN] + [f"w{i}" for i in range(27)]
    model = build_model(ModelConfig(units=8, embedding_dim=6, tie_embeddings=True, layers=2), len(vocabulary))
    decoder = Decoder(model, vocabulary, "word", "plain", None)
    prefix = [4, 9, 11]
    states = decoder.initial_states(tf.constant(1))
    for token in prefix:
        logits, states = decoder.step(tf.constant([token]), states)
    whole = model(np.array([prefix], dtype=np.int32), training=False)[:, -1]
    np.testing.assert_allclose(logits, whole, rtol=1e-5, atol=1e-5)


def test_held_out_scores_are_the_full_softmax_whatever_training_used(corpus, tmp_path):
    import tensorflow as tf

    from recipegen.pipeline import batches_dataset, recipe_batches
    from recipegen.prepare import prepare_data
    from recipegen.run import load_run
    from recipegen.train import train

    config = tiny_config(corpus, {**SAMPLED, "model.tie_embeddings": True})
    metrics = train(config, tmp_path / "run", verbose=False).metrics
    run = load_run(tmp_path / "run")
    assert run.config.train.softmax == "sampled"
    losses = tokens = 0.0
    heldout = prepare_data(config, vocabulary=run.vocabulary).heldout_sequences
    for inputs, targets, weights in batches_dataset(recipe_batches(heldout, 4)):  # whole recipes, in one call
        logits = run.model(inputs, training=False)
        assert logits.shape[-1] == len(run.vocabulary)
        losses += float(tf.reduce_sum(weights * tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)))
        tokens += float(tf.reduce_sum(weights))
    assert metrics["val_loss"] == pytest.approx(losses / tokens, rel=1e-5)
    assert metrics["val_tokens"] == tokens
    history = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert all(np.isfinite(float(row["loss"])) and row["accuracy"] == "nan" for row in history)


@pytest.mark.slow  # trains runs of its own to compare an interrupted one with a straight one
def test_a_resumed_sampled_run_matches_an_uninterrupted_one(corpus, tmp_path):
    """The candidates are drawn from the optimizer's step, which the checkpoint keeps."""
    from recipegen.run import load_run
    from recipegen.train import resume, train

    overrides = {**SAMPLED, "model.tie_embeddings": True, "model.dropout": 0.2}
    train(tiny_config(corpus, {**overrides, "train.epochs": 3}), tmp_path / "straight", verbose=False)
    train(tiny_config(corpus, {**overrides, "train.epochs": 1}), tmp_path / "resumed", verbose=False)
    resume(tmp_path / "resumed", epochs=3, verbose=False)
    rows = [list(csv.DictReader((tmp_path / name / "history.csv").open())) for name in ("straight", "resumed")]
    assert [[row["loss"], row["val_loss"]] for row in rows[0]] == [[row["loss"], row["val_loss"]] for row in rows[1]]
    models = [load_run(tmp_path / name).model for name in ("straight", "resumed")]
    for left, right in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(left, right)


def test_softmax_settings_are_checked():
    from recipegen.config import load_config
    from recipegen.errors import ConfigError

    with pytest.raises(ConfigError, match="train.softmax = 'hierarchical' must be one of full, sampled"):
        load_config(None, {"train.softmax": "hierarchical"})
    with pytest.raises(ConfigError, match="train.sampled_classes = 0 must be at least 1"):
        load_config(None, {"train.sampled_classes": 0})
    with pytest.raises(ConfigError, match="model.tie_embeddings"):
        load_config(None, {"model.tie_embeddings": "yes"})
