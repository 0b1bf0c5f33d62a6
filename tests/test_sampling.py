"""Samplers on hand-made logits: no model, no training."""

import numpy as np
import pytest
import tensorflow as tf

from recipegen.generation.samplers import min_p_filter, sample_next, top_k_filter, top_p_filter

LOGITS = tf.math.log(tf.constant([[0.05, 0.5, 0.2, 0.15, 0.1]]))  # probabilities, as logits


def draws(logits, n=300, **kwargs):
    return {int(sample_next(logits, tf.constant([seed, 0], tf.int64), **kwargs)[0]) for seed in range(n)}


def test_temperature_zero_is_greedy():
    batch = tf.constant([[0.1, 3.0, -1.0], [5.0, 0.0, 4.9]])
    assert sample_next(batch, tf.constant([0, 0], tf.int64), temperature=0).numpy().tolist() == [1, 0]


def test_low_temperature_concentrates_high_temperature_spreads():
    assert draws(LOGITS, temperature=0.01) == {1}
    assert draws(LOGITS, temperature=5.0) == {0, 1, 2, 3, 4}


def test_top_k_never_samples_outside_the_k_most_likely():
    assert draws(LOGITS, top_k=2, temperature=3.0) == {1, 2}
    assert draws(LOGITS, top_k=1, temperature=3.0) == {1}


def test_top_k_larger_than_vocabulary_keeps_everything():
    assert np.isfinite(top_k_filter(LOGITS, 99).numpy()).all()


def test_top_p_keeps_the_smallest_set_reaching_p():
    # Sorted: 0.5, 0.2, 0.15, 0.1, 0.05. Mass 0.7 needs {1, 2}; 0.71 needs {1, 2, 3}; 0.5 needs {1}.
    def kept(p):
        return set(np.flatnonzero(np.isfinite(top_p_filter(LOGITS, p).numpy()[0])).tolist())

    assert kept(0.5) == {1}
    assert kept(0.69) == {1, 2}
    assert kept(0.71) == {1, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3, 4}
    assert kept(1e-9) == {1}
    assert draws(LOGITS, top_p=0.69) == {1, 2}


def test_top_p_applies_to_the_tempered_distribution():
    # At temperature 3 the distribution flattens, so reaching 0.69 takes a third token.
    assert draws(LOGITS, top_p=0.69, temperature=3.0) == {1, 2, 3}


def test_min_p_keeps_the_tokens_at_least_p_times_as_likely_as_the_best():
    # Probabilities 0.05, 0.5, 0.2, 0.15, 0.1: p = 0.3 keeps >= 0.15, p = 0.5 keeps >= 0.25.
    def kept(p, logits=LOGITS):
        return set(np.flatnonzero(np.isfinite(min_p_filter(logits, p).numpy()[0])).tolist())

    assert kept(0.3) == {1, 2, 3}
    assert kept(0.5) == {1}
    assert kept(1.0) == {1}
    assert kept(0.09) == {0, 1, 2, 3, 4}
    assert draws(LOGITS, min_p=0.35, temperature=1.0) == {1, 2}


def test_min_p_is_relative_to_the_tempered_distribution():
    # At temperature 3 the odds flatten: 0.05 is (0.1)^(1/3) = 0.46 of the best, so p = 0.4 keeps all.
    assert draws(LOGITS, min_p=0.4, temperature=3.0) == {0, 1, 2, 3, 4}
    assert draws(LOGITS, min_p=0.4, temperature=1.0) == {1, 2}


def test_each_row_can_have_its_own_temperature():
    """A title drawn hotter than its directions: rows in a title sample at their own temperature."""
    batch = tf.tile(LOGITS, [2, 1])
    row_temperature = tf.constant([0.01, 5.0])
    drawn = [sample_next(batch, tf.constant([seed, 0], tf.int64), temperature=0.01,
                         row_temperature=row_temperature).numpy() for seed in range(300)]
    assert {int(d[0]) for d in drawn} == {1}  # the cold row keeps to the likeliest token
    assert {int(d[1]) for d in drawn} == {0, 1, 2, 3, 4}  # the hot one spreads
    greedy = sample_next(batch, tf.constant([0, 0], tf.int64), temperature=0.0, row_temperature=row_temperature)
    assert greedy.numpy().tolist() == [1, 1], "temperature 0 stays greedy whatever the rows' temperatures"


def test_filters_compose():
    assert draws(LOGITS, top_k=3, top_p=0.69, temperature=2.0) == {1, 2}


def test_same_seed_same_draws_and_seeds_differ():
    seed = tf.constant([42, 7], tf.int64)
    batch = tf.tile(LOGITS, [64, 1])
    first = sample_next(batch, seed, temperature=1.0).numpy()
    assert (first == sample_next(batch, seed, temperature=1.0).numpy()).all()
    assert (first != sample_next(batch, tf.constant([43, 7], tf.int64), temperature=1.0).numpy()).any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -0.1}, "temperature must be a number >= 0"),
        ({"temperature": float("nan")}, "temperature must be a number >= 0"),
        ({"temperature": "hot"}, "temperature must be a number >= 0"),
        ({"temperature": 1.0, "top_k": 0}, "top_k must be an integer >= 1, got 0"),
        ({"temperature": 1.0, "top_p": 0.0}, r"top_p must be in \(0, 1\], got 0.0"),
        ({"temperature": 1.0, "top_p": 1.5}, r"top_p must be in \(0, 1\], got 1.5"),
        ({"temperature": 1.0, "min_p": 0.0}, r"min_p must be in \(0, 1\], got 0.0"),
        ({"temperature": 1.0, "min_p": 2}, r"min_p must be in \(0, 1\], got 2"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    from recipegen.generation.settings import Decoding

    with pytest.raises(ValueError, match=message):
        Decoding(**kwargs)


@pytest.mark.parametrize("vocab", [1, 2, 7, 50, 101])
def test_categorical_draws_follow_the_softmax(vocab):
    from recipegen.generation.samplers import sample_categorical

    rng = np.random.default_rng(vocab)
    logits = rng.normal(size=vocab).astype(np.float32) * 2
    if vocab > 2:
        logits[rng.choice(vocab, size=vocab // 3, replace=False)] = -np.inf  # banned or filtered entries
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    draws = np.concatenate([
        sample_categorical(tf.tile(tf.constant(logits)[None], [2000, 1]), tf.constant([seed, 1], tf.int64)).numpy()
        for seed in range(10)
    ])  # 20,000 draws
    counts = np.bincount(draws, minlength=vocab)
    assert counts[expected == 0].sum() == 0, "an entry with zero probability was drawn"
    observed = counts / counts.sum()
    # Within 5 standard errors of each expected probability.
    tolerance = 5 * np.sqrt(expected * (1 - expected) / counts.sum()) + 1e-9
    assert (np.abs(observed - expected) <= tolerance).all(), (observed, expected)


def test_categorical_is_seeded():
    from recipegen.generation.samplers import sample_categorical

    logits = tf.zeros((256, 40))
    a = sample_categorical(logits, tf.constant([1, 2], tf.int64)).numpy()
    assert (a == sample_categorical(logits, tf.constant([1, 2], tf.int64)).numpy()).all()
    assert (a != sample_categorical(logits, tf.constant([1, 3], tf.int64)).numpy()).any()


@pytest.mark.parametrize("settings", [dict(temperature=0.0), dict(temperature=1.0), dict(temperature=0.7, top_k=2),
                                      dict(temperature=2.0, top_p=0.69), dict(temperature=1.5, top_k=3, top_p=0.8),
                                      dict(temperature=1.0, min_p=0.3)])
def test_settings_as_tensors_draw_what_the_same_numbers_draw(settings):
    """An exported model passes its settings as tensors, decided per call, not when traced."""
    tensors = ({"top_k": tf.constant(0), "top_p": tf.constant(1.0), "min_p": tf.constant(0.0)}
               | {k: tf.constant(v) for k, v in settings.items()})
    draw = tf.function(lambda logits, seed, temperature, top_k, top_p, min_p:
                       sample_next(logits, seed, temperature, top_k, top_p, min_p))
    batch = tf.tile(LOGITS, [32, 1])
    for seed in range(5):
        seed = tf.constant([seed, 0], tf.int64)
        expected = sample_next(batch, seed, **settings).numpy()
        assert (draw(batch, seed, **tensors).numpy() == expected).all()
