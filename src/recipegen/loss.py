"""Sampled softmax: the training loss over the true next word and a few hundred sampled words.

On a CPU about nine tenths of a full-softmax step is the output layer: units x vocabulary
multiply-adds per position, forward and backward. Sampled softmax (Jean et al., 2015) scores
each position's true word against one shared set of candidate words, drawn without replacement
from a log-uniform (Zipf) distribution over the vocabulary's ids, which TextVectorization sorts
by frequency; each logit is corrected by the log of its word's expected count, so the candidates'
softmax estimates the full one. With as many candidates as words, every word is drawn and the
loss is exactly the full softmax's.

TensorFlow's candidate samplers keep a hidden random state that no checkpoint saves; these draws
are a function of (step) alone, so a resumed run draws what an uninterrupted one would, and every
replica of a distributed step draws the same set.
"""

from __future__ import annotations

import tensorflow as tf

DRAWS_PER_CANDIDATE = 8  # draws with replacement taken to find the distinct candidates; frequent words repeat
SEED = 0x5EED  # the sampler's own stream, apart from dropout's and the data order's


def log_uniform_candidates(count: int, vocab_size: int, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``count`` distinct ids drawn log-uniformly (fewer if the draws run out), and the number of
    draws it took: as TensorFlow's unique samplers do, draw with replacement until ``count`` are distinct."""
    draws = count * DRAWS_PER_CANDIDATE
    seed = tf.stack([tf.constant(SEED, tf.int64), tf.cast(step, tf.int64)])
    uniform = tf.random.stateless_uniform([draws], seed, dtype=tf.float64)
    # P(k) = log((k + 2) / (k + 1)) / log(V + 1): the inverse of its distribution function.
    ids = tf.cast(tf.floor(tf.exp(uniform * _log(vocab_size + 1))), tf.int64) - 1
    ids = tf.clip_by_value(ids, 0, vocab_size - 1)
    distinct, first_seen_as = tf.unique(ids)  # in the order first drawn
    first_draw = tf.math.unsorted_segment_min(tf.range(draws), first_seen_as, tf.size(distinct))
    found = tf.minimum(tf.size(distinct), count)
    tries = tf.where(found < count, draws, first_draw[found - 1] + 1)
    return distinct[:found], tries


def expected_counts(ids: tf.Tensor, vocab_size: int, tries: tf.Tensor) -> tf.Tensor:
    """How often each id is expected among the distinct candidates: 1 - (1 - P(id))^tries."""
    ids = tf.cast(ids, tf.float64)
    probability = (tf.math.log(ids + 2.0) - tf.math.log(ids + 1.0)) / _log(vocab_size + 1)
    return tf.cast(-tf.math.expm1(tf.cast(tries, tf.float64) * tf.math.log1p(-probability)), tf.float32)


def sampled_loss_sum(kernel: tf.Tensor, bias: tf.Tensor, features: tf.Tensor, targets: tf.Tensor,
                     weights: tf.Tensor, candidates: int, seed: tf.Tensor) -> tf.Tensor:
    """The weighted sum over positions of the sampled-softmax loss.

    kernel (vocab, d) and bias (vocab,) are the output layer's; features (batch, time, d),
    targets and weights (batch, time). ``seed`` (the optimizer's step) picks the candidates.
    """
    vocab_size = kernel.shape[0]
    flat_features = tf.reshape(features, [-1, features.shape[-1]])
    labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
    if candidates >= vocab_size:  # every word: the full softmax
        sampled = tf.range(vocab_size, dtype=tf.int64)
        true_expected = tf.ones(tf.shape(labels), tf.float32)
        sampled_expected = tf.ones([vocab_size], tf.float32)
    else:
        sampled, tries = log_uniform_candidates(candidates, vocab_size, seed)
        true_expected = expected_counts(labels, vocab_size, tries)
        sampled_expected = expected_counts(sampled, vocab_size, tries)
    losses = tf.nn.sampled_softmax_loss(
        weights=kernel, biases=bias, labels=labels, inputs=flat_features, num_sampled=tf.size(sampled),
        num_classes=vocab_size, sampled_values=(sampled, true_expected, sampled_expected),
        remove_accidental_hits=True)
    return tf.reduce_sum(losses * tf.reshape(tf.cast(weights, losses.dtype), [-1]))


def _log(value: float) -> tf.Tensor:
    return tf.math.log(tf.constant(value, tf.float64))
