"""Samplers: small pure functions from next-token logits to token ids.

Temperature divides the *logits* (0 means greedy: the argmax, no division); top-k, top-p and
min-p are filters that set every excluded logit to -inf, applied after temperature (so top-p's
nucleus is taken from the distribution that is actually sampled) and composable with each
other. Randomness is stateless and comes only from the ``seed`` argument, so the same seed
always draws the same tokens.

Each setting is either a Python number, which fixes the graph when a decoder is traced (the
``Generator`` traces one decoder per setting), or a scalar tensor decided on every call, as in
an exported model whose settings are inputs; as tensors, top-k 0, top-p 1 and min-p 0 mean no filter.
Temperature may also be one per row, so recipes at different temperatures share one batch.

Every row draws from a stream of its own, keyed by (seed, row, step): a recipe's tokens depend
on its seed and its place among its own request's samples, never on what else shares its batch,
so a server that decodes many clients' requests together writes what ``recipegen generate`` writes.
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

    ``temperature`` is a number, a scalar tensor or one per row (batch,); ``row_temperature``
    (batch,), when given, divides each row instead, and ``temperature`` then only decides between
    sampling and greedy decoding (a title drawn hotter than its directions).
    """
    if tf.is_tensor(temperature) and temperature.shape.rank == 1:  # a row at 0 is left unscaled
        divisor = temperature if row_temperature is None else row_temperature
        logits = _divided(logits, tf.where(temperature > 0, divisor, 1.0)[:, None])
    else:
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
    """One token id per row of ``logits`` (batch, vocab). ``seed``: (2,) [seed, step], row r
    drawing from stream (seed, r, step), or each row's own (batch, 3) [seed, row, step]."""
    if tf.is_tensor(temperature) and temperature.shape.rank == 1:
        sampling = temperature > 0
        greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
        drawn = tf.cond(tf.reduce_any(sampling), lambda: sample_categorical(
            sampled_logits(logits, temperature, top_k, top_p, min_p, row_temperature), seed), lambda: greedy)
        return tf.where(sampling, drawn, greedy)
    return _either(
        temperature > 0,
        lambda: sample_categorical(sampled_logits(logits, temperature, top_k, top_p, min_p, row_temperature), seed),
        lambda: tf.argmax(logits, axis=-1, output_type=tf.int32),
    )


def row_keys(seed: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """Each row's [seed, row] (n, 2): one seed's rows numbered from 0, or every row's own pair."""
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 2:
        return seed
    return tf.stack([tf.fill([n], seed), tf.range(tf.cast(n, tf.int64))], axis=1)


def row_uniforms(seed: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """(batch,) uniforms in [0, 1), one from each row's stream: ``seed`` as ``sample_next`` takes it.

    TensorFlow's stateless generators take one key per call; a counter-based hash (the
    "lowbias32" integer mixer, applied to each 32-bit word of the key in turn) gives every row
    its own key in one vectorized pass.
    """
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 1:
        seed = tf.concat([row_keys(seed[0], batch), tf.fill([batch, 1], seed[1])], axis=1)
    words = tf.bitcast(seed, tf.uint32)  # (batch, 3, 2): each int64 as two 32-bit words
    state = tf.fill([batch], tf.constant(0x9E3779B9, tf.uint32))
    for k in range(6):
        state = _mix32(tf.bitwise.bitwise_xor(state, words[:, k // 2, k % 2]))
    return tf.cast(tf.bitwise.right_shift(state, tf.constant(8, tf.uint32)), tf.float32) * 2.0**-24


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """A bijective 32-bit integer hash whose every output bit depends on every input bit."""
    def shift_xor(x, bits):
        return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(bits, tf.uint32)))

    x = shift_xor(x, 16) * tf.constant(0x7FEB352D, tf.uint32)
    x = shift_xor(x, 15) * tf.constant(0x846CA68B, tf.uint32)
    return shift_xor(x, 16)


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
    -inf have zero mass and are never picked. ``seed`` as ``sample_next`` takes it.
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
    u = row_uniforms(seed, batch)[:, None] * total * (1 - 1e-6)
    chosen_block = tf.minimum(tf.searchsorted(block_cdf, u, side="right")[:, 0], n_blocks - 1)  # (batch,)
    inside = tf.gather(blocks, chosen_block, batch_dims=1)  # (batch, block)
    inside_cdf = tf.math.cumsum(inside, axis=-1)
    mass_before = tf.gather(block_cdf, chosen_block, batch_dims=1) - tf.gather(block_mass, chosen_block, batch_dims=1)
    u_inside = tf.clip_by_value(u[:, 0] - mass_before, 0.0, inside_cdf[:, -1] * (1 - 1e-6))
    position = tf.minimum(tf.searchsorted(inside_cdf, u_inside[:, None], side="right")[:, 0], block - 1)
    return tf.cast(chosen_block * block + position, tf.int32)
