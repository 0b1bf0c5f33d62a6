"""From recipe text to batches the model trains on, and the held-out recipes it is scored on.

The vocabulary comes from a ``TextVectorization`` layer adapted on the training split only.
Every recipe is encoded once, whole, closed by the end token. Two ways to make training windows
of ``sequence_length + 1`` tokens from them (``data.pipeline``):

- ``pack``: the epoch's recipes, in a shuffled order, are laid end to end in one stream that is
  cut into windows overlapping by one token. Every position is a real token (only the very last
  window is padded) and long recipes are trained on whole, across windows.
- ``pad``: the book's way. Each recipe is truncated to one window and padded, so a long recipe
  never shows its ending and short ones spend compute on padding.

Windows are shuffled before batching, and each batch carries a weight of 0 on padding so the
loss and every metric count real tokens only. Held-out recipes are scored whole, whatever the
training pipeline (``recipe_batches``; evaluate.Scorer carries the state through each), so
scores compare. (Training on whole recipes, or with the state carried from window to window,
did not beat windows at equal training time: benchmarks/README.md, "Whole-recipe context in training".)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from recipegen.templates import Recipe, recipe_text
from recipegen.text import END_TOKEN, PAD_ID, WORDS, Tokenizer


def recipe_texts(recipes: Sequence[Recipe], template: str = "book", tokenizer: Tokenizer = WORDS) -> list[str]:
    """Each recipe as the model trains on it (see templates.py)."""
    return [recipe_text(r, template, tokenizer) for r in recipes]


def adapt_vocabulary(texts: Sequence[str] | tf.data.Dataset, vocab_size: int, tokenizer: Tokenizer = WORDS,
                     markers: Sequence[str] = (END_TOKEN,)) -> list[str]:
    """The ``vocab_size`` most frequent tokens of ``texts``, padding and [UNK] first.

    ``texts`` is a list, or a dataset of batches of texts that is read once, streaming: adapting
    keeps token counts, never the texts. ``markers`` (the end token, section markers) are always
    kept, however rare: without the end token a small vocabulary could never end a recipe.
    """
    if not isinstance(texts, tf.data.Dataset):
        texts = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, standardize=None, split=tokenizer.split)
    vectorizer.adapt(texts)
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    missing = [symbol for symbol in map(tokenizer.symbol, markers) if symbol not in vocabulary]
    if missing:
        vocabulary = vocabulary[:2] + missing + vocabulary[2 : vocab_size - len(missing)]
    return vocabulary


def make_vectorizer(vocabulary: Sequence[str], tokenizer: Tokenizer = WORDS) -> keras.layers.TextVectorization:
    return keras.layers.TextVectorization(
        vocabulary=list(vocabulary), standardize=None, split=tokenizer.split, ragged=True
    )


def encode(texts: Sequence[str], vocabulary: Sequence[str], tokenizer: Tokenizer = WORDS) -> list[np.ndarray]:
    """Token ids of each text, one variable-length int32 array per text."""
    vectorizer = make_vectorizer(vocabulary, tokenizer)
    encoded: list[np.ndarray] = []
    for batch in tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024):
        encoded.extend(row.astype(np.int32) for row in vectorizer(batch).numpy())
    return encoded


def pack_windows(sequences: Sequence[np.ndarray], sequence_length: int) -> np.ndarray:
    """Lay the sequences end to end and cut the stream into windows overlapping by one token."""
    stream = np.concatenate(list(sequences)) if len(sequences) else np.zeros(0, np.int32)
    rows = [stream[start : start + sequence_length + 1] for start in range(0, max(len(stream) - 1, 0), sequence_length)]
    return _pad_rows(rows, sequence_length + 1)


def pad_windows(sequences: Sequence[np.ndarray], sequence_length: int) -> np.ndarray:
    """The book's windows: each sequence truncated to ``sequence_length + 1`` ids and padded."""
    return _pad_rows([ids[: sequence_length + 1] for ids in sequences if len(ids) > 1], sequence_length + 1)


def epoch_windows(sequences: Sequence[np.ndarray], sequence_length: int, pipeline: Literal["pack", "pad"],
                  seed: int | tuple[int, ...]) -> np.ndarray:
    """One epoch's training windows, in an order that depends on ``seed`` alone.

    With packing, the recipes are shuffled before they are laid end to end, so recipe
    boundaries fall in different places every epoch; then the windows are shuffled too.
    """
    rng = np.random.default_rng(seed)
    if pipeline == "pack":
        windows = pack_windows([sequences[i] for i in rng.permutation(len(sequences))], sequence_length)
    elif pipeline == "pad":
        windows = pad_windows(sequences, sequence_length)
    else:
        raise ValueError(f"pipeline must be one of pack, pad, got {pipeline!r}")
    return windows[rng.permutation(len(windows))]


def recipe_batches(sequences: Sequence[np.ndarray], batch_size: int) -> list[list[np.ndarray]]:
    """Whole sequences, shortest first, in batches: what scoring reads (no order to randomize)."""
    ordered = sorted((ids for ids in sequences if len(ids) > 1), key=len)
    return [ordered[start : start + batch_size] for start in range(0, len(ordered), batch_size)]


def batches_dataset(batches: Sequence[Sequence[np.ndarray]]) -> tf.data.Dataset:
    """Batches of (inputs, targets, weights), each batch right-padded to its own longest row."""
    rows = [row for batch in batches for row in batch]
    flat = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
    ragged = tf.RaggedTensor.from_nested_row_lengths(
        flat, [np.array([len(batch) for batch in batches], np.int64), np.array([len(row) for row in rows], np.int64)])
    return (tf.data.Dataset.from_tensor_slices(ragged).map(lambda batch: shifted(batch.to_tensor(PAD_ID)))
            .prefetch(tf.data.AUTOTUNE))


def _pad_rows(rows: list[np.ndarray], width: int) -> np.ndarray:
    windows = np.zeros((len(rows), width), dtype=np.int32)
    for i, row in enumerate(rows):
        windows[i, : len(row)] = row
    return windows


def make_dataset(windows: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches of (inputs, targets, weights) in the windows' order: targets are inputs shifted
    by one, and padding weighs 0."""
    dataset = tf.data.Dataset.from_tensor_slices(windows)
    return batch_windows(dataset, batch_size, windows.shape[1]).prefetch(tf.data.AUTOTUNE)


def batch_windows(windows: tf.data.Dataset, batch_size: int, width: int) -> tf.data.Dataset:
    """``make_dataset`` for a dataset of windows of up to ``width`` ids, right-padded with 0."""
    return windows.padded_batch(batch_size, padded_shapes=[width]).map(shifted, num_parallel_calls=tf.data.AUTOTUNE)


def shifted(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(inputs, targets, weights) of a right-padded batch of ids: targets are the inputs shifted by
    one, and padding weighs 0."""
    inputs, targets = batch[:, :-1], batch[:, 1:]
    return inputs, targets, tf.cast(targets != PAD_ID, tf.float32)


def count_targets(windows: np.ndarray) -> int:
    """Real (non-padding) target tokens in ``windows``."""
    return int(np.count_nonzero(windows[:, 1:]))
