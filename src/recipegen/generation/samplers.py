"""Samplers: small pure functions from next-token logits to token ids.

Temperature divides the *logits* (0 means greedy: the argmax, no division); top-k, top-p and
min-p are filters that set every excluded logit to -inf, applied after temperature (so top-p's
nucleus is taken from the distribution that is actually sampled) and composable with each
other. Randomness is stateless and comes only from the ``seed`` argument, so the same seed
always draws the same tokens.

Each setting is either a Python number, which fixes the graph when a decoder is traced (the
``Generator`` traces one decoder per setting), or a scalar tensor decided on every call, as in
an exported model whose settings are inputs; as tensors, top-k 0, top-p 1 and min-p 0 mean no filter.
"""

from __future__ import annotations

import math

import tensorflow as tf

NEG_INF = float("-inf")


def top_k_filter(logits: tf.Tensor, k: int | tf.Tensor) -> tf.Tensor:
    """Keep the k largest logits of each row (ties at the k-th value are kept too)."""
    k = tf.minimum(k, logits.shape[-1]) if tf.is_tensor(k) else min(k, logits.shape[-1])
    kth_largest = tf.math.top_k(logits, k=k).values[..., -1:]  # (batch, 1)
    return tf.where(logits < kth_largest, NEG_INF, logits)


def top_p_filter(logits: tf.Tensor, p: float | tf.Tensor) -> tf.Tensor:
    """Keep the smallest set of most likely tokens whose probability mass reaches p (nucleus)."""
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    mass_before = tf.math.cumsum(tf.nn.softmax(sorted_logits), axis=-1, exclusive=True)
    # A token is kept while the mass of the tokens ranked above it is still below p; the
    # most likely token is always kept since nothing ranks above it.
    kept = mass_before < p
    threshold = tf.reduce_min(tf.where(kept, sorted_logits, float("inf")), axis=-1, keepdims=True)
    return tf.where(logits < threshold, NEG_INF, logits)


def min_p_filter(logits: tf.Tensor, p: float | tf.Tensor) -> tf.Tensor:
    """Keep the tokens at least p times as likely as the most likely one (min-p, Nguyen et al. 2024).

    Unlike a low temperature, it leaves the odds between the tokens it keeps as they are; unlike
    top-p, it keeps many tokens where the model is unsure and few where it is sure.
    """
    return tf.where(logits < tf.reduce_max(logits, axis=-1, keepdims=True) + tf.math.log(p), NEG_INF, logits)


def sampled_logits(logits: tf.Tensor, temperature: float | tf.Tensor, top_k: int | tf.Tensor | None = None,
                   top_p: float | tf.Tensor | None = None, min_p: float | tf.Tensor | None = None,
                   row_temperature: tf.Tensor | None = None) -> tf.Tensor:
    """The logits whose softmax is the distribution actually sampled from (temperature 0: unscaled).

    ``row_temperature`` (batch,), when given, divides each row instead of ``temperature``, which
    then only decides between sampling and greedy decoding (a title drawn hotter than its directions).
    """
    divisor = temperature if row_temperature is None else row_temperature[:, None]
    logits = _either(temperature > 0, lambda: _divided(logits, divisor), lambda: logits)
    if top_k is not None:
        logits = _either(top_k > 0, lambda: top_k_filter(logits, top_k), lambda: logits)
    if top_p is not None:
        logits = _either(top_p < 1, lambda: top_p_filter(logits, top_p), lambda: logits)
    if min_p is not None:
        logits = _either(min_p > 0, lambda: min_p_filter(logits, min_p), lambda: logits)
    return logits


def sample_next(
    logits: tf.Tensor,
    seed: tf.Tensor,
    temperature: float | tf.Tensor = 1.0,
    top_k: int | tf.Tensor | None = None,
    top_p: float | tf.Tensor | None = None,
    min_p: float | tf.Tensor | None = None,
    row_temperature: tf.Tensor | None = None,
) -> tf.Tensor:
    """One token id per row of ``logits`` (batch, vocab); ``seed`` is a shape-(2,) int tensor."""
    return _either(
        temperature > 0,
        lambda: sample_categorical(sampled_logits(logits, temperature, top_k, top_p, min_p, row_temperature), seed),
        lambda: tf.argmax(logits, axis=-1, output_type=tf.int32),
    )


def _divided(logits: tf.Tensor, divisor: float | tf.Tensor) -> tf.Tensor:
    """``logits / divisor``; where a tiny temperature makes that overflow to inf (and then NaN,
    inf - inf), each row less its largest finite logit first: the same distribution, with the
    likeliest token at 0 and the others at -inf, so it is sampled as the greedy choice."""
    scaled = logits / divisor
    largest = tf.reduce_max(logits, axis=-1, keepdims=True)
    shifted = (logits - tf.where(tf.math.is_finite(largest), largest, tf.zeros_like(largest))) / divisor
    return tf.where(tf.math.is_finite(tf.reduce_max(scaled, axis=-1, keepdims=True)), scaled, shifted)


def _either(condition: bool | tf.Tensor, if_true, if_false) -> tf.Tensor:
    """``if_true()`` or ``if_false()``: a Python bool picks one when traced, a tensor on every call."""
    if tf.is_tensor(condition):
        return tf.cond(condition, if_true, if_false)
    return if_true() if condition else if_false()


def sample_categorical(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """An exact draw from softmax(logits) per row, by a two-level inverse CDF.

    ``tf.random.stateless_categorical`` draws a random number for every vocabulary entry, and
    a flat cumulative sum over 10,000 entries is slow on CPU; both cost more per decoding step
    than the output projection itself. Here one uniform per row picks a block of ~sqrt(vocab)
    entries by the blocks' total mass, then an entry inside that block. Entries whose logit is
    -inf have zero mass and are never picked.
    """
    batch, vocab = tf.shape(logits)[0], logits.shape[-1]
    block = max(1, math.isqrt(vocab - 1) + 1)  # ceil(sqrt(vocab))
    n_blocks = -(-vocab // block)
    mass = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))  # (batch, vocab), unnormalized
    blocks = tf.reshape(tf.pad(mass, [[0, 0], [0, n_blocks * block - vocab]]), (batch, n_blocks, block))
    block_mass = tf.reduce_sum(blocks, axis=-1)  # (batch, n_blocks)
    block_cdf = tf.math.cumsum(block_mass, axis=-1)
    total = block_cdf[:, -1:]
    # Keeping u strictly below each total means the first entry whose CDF exceeds u always has
    # positive mass, whatever the float rounding.
    u = tf.random.stateless_uniform((batch, 1), seed=seed) * total * (1 - 1e-6)
    chosen_block = tf.minimum(tf.searchsorted(block_cdf, u, side="right")[:, 0], n_blocks - 1)  # (batch,)
    inside = tf.gather(blocks, chosen_block, batch_dims=1)  # (batch, block)
    inside_cdf = tf.math.cumsum(inside, axis=-1)
    mass_before = tf.gather(block_cdf, chosen_block, batch_dims=1) - tf.gather(block_mass, chosen_block, batch_dims=1)
    u_inside = tf.clip_by_value(u[:, 0] - mass_before, 0.0, inside_cdf[:, -1] * (1 - 1e-6))
    position = tf.minimum(tf.searchsorted(inside_cdf, u_inside[:, None], side="right")[:, 0], block - 1)
    return tf.cast(chosen_block * block + position, tf.int32)
