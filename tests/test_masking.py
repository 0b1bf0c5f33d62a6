"""Padding must never count: a padded batch scores exactly like the same tokens unpadded."""

import numpy as np
import pytest

from recipegen.config import ModelConfig, TrainConfig
from recipegen.evaluate import Scorer
from recipegen.model import build_model, compile_model
from recipegen.pipeline import batches_dataset, make_dataset, pad_windows, recipe_batches

VOCAB = 30


@pytest.fixture(scope="module")
def model():
    model = build_model(ModelConfig(units=6, embedding_dim=5), VOCAB)
    compile_model(model, TrainConfig(softmax="full"))  # Keras's own step and accuracy
    return model


def sequences():
    rng = np.random.default_rng(0)
    return [rng.integers(2, VOCAB, size=n).astype(np.int32) for n in (9, 5, 7)]


def test_scorer_ignores_padding(model):
    alone = batches_dataset(recipe_batches(sequences(), batch_size=1))  # each recipe in a batch of its own
    # The same recipes in one batch, padded to the longest: two rows of three are partly padding.
    together = batches_dataset(recipe_batches(sequences(), batch_size=3))
    scorer = Scorer(model)
    a, b = scorer(alone), scorer(together)
    assert a.tokens == b.tokens == 8 + 4 + 6
    assert a.total_loss == pytest.approx(b.total_loss, rel=1e-5)
    assert a.correct == b.correct


def test_keras_loss_and_accuracy_ignore_padding(model):
    windows = pad_windows(sequences()[:1], sequence_length=8)
    padded = np.zeros((1, 20), dtype=np.int32)
    padded[0, :9] = windows[0]
    tight = model.evaluate(make_dataset(windows, 1), verbose=0, return_dict=True)
    loose = model.evaluate(make_dataset(padded, 1), verbose=0, return_dict=True)
    assert loose["loss"] == pytest.approx(tight["loss"], rel=1e-5)
    assert loose["accuracy"] == pytest.approx(tight["accuracy"], rel=1e-6)


def test_extra_padding_rows_do_not_change_the_keras_loss(model):
    windows = pad_windows(sequences()[:1], sequence_length=8)
    with_empty_rows = np.concatenate([windows, np.zeros((3, 9), dtype=np.int32)])
    alone = model.evaluate(make_dataset(windows, 4), verbose=0, return_dict=True)
    crowded = model.evaluate(make_dataset(with_empty_rows, 4), verbose=0, return_dict=True)
    assert crowded["loss"] == pytest.approx(alone["loss"], rel=1e-5)
