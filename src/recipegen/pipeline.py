"""From recipe text to batches the model trains on.

The vocabulary comes from a ``TextVectorization`` layer adapted on the training split only.
Every recipe is encoded whole, closed by the end token, and cut into windows of
``sequence_length + 1`` tokens that overlap by one, so a long recipe is trained on end to end
(its ending included) instead of being truncated. Windows are shuffled before batching, and
each batch carries a weight of 0 on padding so the loss and every metric count real tokens only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import keras

from recipegen.data import Recipe
from recipegen.text import END_TOKEN, training_text

PAD_ID = 0  # TextVectorization's mask token ""
UNK_ID = 1  # TextVectorization's "[UNK]"


def recipe_texts(recipes: Sequence[Recipe]) -> list[str]:
    return [training_text(r.title, r.directions) for r in recipes]


def adapt_vocabulary(texts: Sequence[str], vocab_size: int) -> list[str]:
    """The ``vocab_size`` most frequent tokens of ``texts``, padding and [UNK] first.

    The end token is always kept: without it a small vocabulary could never end a recipe.
    """
    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, standardize=None, split="whitespace")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    vocabulary = vectorizer.get_vocabulary()
    if END_TOKEN not in vocabulary:
        vocabulary = vocabulary[:2] + [END_TOKEN] + vocabulary[2 : vocab_size - 1]
    return vocabulary


def make_vectorizer(vocabulary: Sequence[str]) -> keras.layers.TextVectorization:
    return keras.layers.TextVectorization(
        vocabulary=list(vocabulary), standardize=None, split="whitespace", ragged=True
    )


def encode(texts: Sequence[str], vocabulary: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text, one variable-length int32 array per text."""
    vectorizer = make_vectorizer(vocabulary)
    encoded: list[np.ndarray] = []
    for batch in tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024):
        encoded.extend(row.astype(np.int32) for row in vectorizer(batch).numpy())
    return encoded


def make_windows(sequences: Sequence[np.ndarray], sequence_length: int) -> np.ndarray:
    """Cut each sequence into windows of ``sequence_length + 1`` ids, right-padded with 0.

    Consecutive windows overlap by one token, so every token of a sequence after its first is
    a target exactly once. Shape: (windows, sequence_length + 1).
    """
    rows: list[np.ndarray] = []
    for ids in sequences:
        for start in range(0, max(len(ids) - 1, 0), sequence_length):
            rows.append(ids[start : start + sequence_length + 1])
    windows = np.zeros((len(rows), sequence_length + 1), dtype=np.int32)
    for i, row in enumerate(rows):
        windows[i, : len(row)] = row
    return windows


def make_dataset(windows: np.ndarray, batch_size: int, shuffle: bool, seed: int | tuple[int, ...] = 0) -> tf.data.Dataset:
    """Batches of (inputs, targets, weights): targets are inputs shifted by one; padding weighs 0.

    With ``shuffle``, windows (not batches) are put in an order that depends on ``seed`` alone;
    training passes ``(seed, epoch)`` so every epoch differs and a resumed run repeats it exactly.
    """
    if shuffle:
        windows = windows[np.random.default_rng(seed).permutation(len(windows))]
    dataset = tf.data.Dataset.from_tensor_slices(windows)

    def shift(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        inputs, targets = batch[:, :-1], batch[:, 1:]
        return inputs, targets, tf.cast(targets != PAD_ID, tf.float32)

    return dataset.batch(batch_size).map(shift, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def count_targets(windows: np.ndarray) -> int:
    """Real (non-padding) target tokens in ``windows``."""
    return int(np.count_nonzero(windows[:, 1:]))
