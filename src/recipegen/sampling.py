"""Samplers: small pure functions from next-token logits to token ids.

Temperature divides the *logits* (0 means greedy: the argmax, no division); top-k and top-p
are filters that set every excluded logit to -inf, applied after temperature (so top-p's
nucleus is taken from the distribution that is actually sampled) and composable with each other. Randomness is stateless and comes only from the ``seed``
argument, so the same seed always draws the same tokens.
"""

from __future__ import annotations

import math

import tensorflow as tf

NEG_INF = float("-inf")


def check_sampling_args(temperature: float, top_k: int | None = None, top_p: float | None = None) -> None:
    """Raise ValueError naming the argument and the value received."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 means greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


def top_k_filter(logits: tf.Tensor, k: int) -> tf.Tensor:
    """Keep the k largest logits of each row (ties at the k-th value are kept too)."""
    k = min(k, logits.shape[-1])
    kth_largest = tf.math.top_k(logits, k=k).values[..., -1:]  # (batch, 1)
    return tf.where(logits < kth_largest, NEG_INF, logits)


def top_p_filter(logits: tf.Tensor, p: float) -> tf.Tensor:
    """Keep the smallest set of most likely tokens whose probability mass reaches p (nucleus)."""
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    mass_before = tf.math.cumsum(tf.nn.softmax(sorted_logits), axis=-1, exclusive=True)
    # A token is kept while the mass of the tokens ranked above it is still below p; the
    # most likely token is always kept since nothing ranks above it.
    kept = mass_before < p
    threshold = tf.reduce_min(tf.where(kept, sorted_logits, float("inf")), axis=-1, keepdims=True)
    return tf.where(logits < threshold, NEG_INF, logits)


def sampled_logits(logits: tf.Tensor, temperature: float, top_k: int | None = None, top_p: float | None = None) -> tf.Tensor:
    """The logits whose softmax is the distribution actually sampled from (temperature 0: unscaled)."""
    if temperature > 0:
        logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(
    logits: tf.Tensor,
    seed: tf.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> tf.Tensor:
    """One token id per row of ``logits`` (batch, vocab); ``seed`` is a shape-(2,) int tensor."""
    if temperature == 0:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.random.stateless_categorical(sampled_logits(logits, temperature, top_k, top_p), 1, seed=seed,
                                           dtype=tf.int32)[:, 0]
