"""Whole-recipe context: the state carried through each held-out recipe, however it is cut."""

import json

import numpy as np
import pytest
import tensorflow as tf

from recipegen.config import ModelConfig, TrainConfig, load_config
from recipegen.evaluate import Scorer
from recipegen.model import Recurrence, build_model, compile_model
from recipegen.pipeline import batches_dataset, recipe_batches

from conftest import RECIPES, TINY_OVERRIDES

VOCAB = 30


def sequences(lengths=(9, 5, 23, 7, 2, 14)):
    rng = np.random.default_rng(0)
    return [rng.integers(2, VOCAB, size=n).astype(np.int32) for n in lengths]


@pytest.mark.parametrize("model_config", [
    ModelConfig(cell="lstm", layers=2, units=6, embedding_dim=5, dropout=0.3, locked_dropout=True,
                embedding_dropout=0.1),
    ModelConfig(cell="gru", layers=1, units=7, embedding_dim=5, tie_embeddings=False),
], ids=["lstm-tied", "gru"])
def test_a_recipe_read_in_stretches_with_the_state_carried_reads_as_it_does_whole(model_config):
    model = build_model(model_config, VOCAB)
    recurrence = Recurrence(model)
    tokens = tf.constant(np.stack(sequences((17, 17))))
    whole = model(tokens).numpy()
    states = recurrence.zero_state(2)
    pieces = []
    for start, end in ((0, 5), (5, 6), (6, 17)):
        features, states = recurrence(tokens[:, start:end], states)
        pieces.append(recurrence.logits(features).numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, rtol=1e-5, atol=1e-6)


def test_scoring_a_recipe_in_windows_with_the_state_carried_gives_its_whole_loss():
    model = build_model(ModelConfig(units=6, embedding_dim=5), VOCAB)
    compile_model(model, TrainConfig(softmax="full"))
    dataset = batches_dataset(recipe_batches(sequences(), batch_size=4))
    expected_loss = expected_tokens = 0.0
    for inputs, targets, weights in dataset:  # each batch whole, in one call: what the chunks must add up to
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, model(inputs))
        expected_loss += float(tf.reduce_sum(losses * weights))
        expected_tokens += float(tf.reduce_sum(weights))
    for chunk in (1, 3, 128):
        score = Scorer(model, chunk=chunk)(dataset)
        assert score.tokens == expected_tokens == sum(len(s) - 1 for s in sequences())
        assert score.total_loss == pytest.approx(expected_loss, rel=1e-5)


def test_held_out_recipes_are_batched_whole_shortest_first():
    recipes = sequences((9, 5, 23, 7, 2, 14, 1))
    batches = recipe_batches(recipes, batch_size=2)
    assert [[len(row) for row in batch] for batch in batches] == [[2, 5], [7, 9], [14, 23]]  # one token: no target
    for (inputs, targets, weights), batch in zip(batches_dataset(batches), batches):
        assert inputs.shape == targets.shape == (len(batch), max(map(len, batch)) - 1)
        assert float(tf.reduce_sum(weights)) == sum(len(row) - 1 for row in batch)


def test_a_streamed_corpus_scores_its_held_out_recipes_whole(tmp_path):
    from recipegen.pipeline import encode
    from recipegen.prepare import write_corpus_files
    from recipegen.stream import prepare_stream

    corpus = tmp_path / "recipes.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in RECIPES * 3))
    config = load_config(None, {**TINY_OVERRIDES, "data.path": str(corpus), "data.stream": True,
                                "data.validation_fraction": 0.3})
    streamed = prepare_stream(config)
    write_corpus_files(streamed, tmp_path)
    texts = [json.loads(line)["text"] for line in (tmp_path / "heldout.jsonl").read_text().splitlines()]
    found = []
    for inputs, targets, weights in streamed.heldout_dataset(config):
        for row_inputs, row_targets, row_weights in zip(inputs.numpy(), targets.numpy(), weights.numpy()):
            found.append((row_inputs[0], *row_targets[: int(row_weights.sum())]))
    assert sorted(found) == sorted(tuple(ids) for ids in encode(texts, streamed.vocabulary))
