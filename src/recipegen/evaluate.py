"""Held-out perplexity and next-token accuracy over real tokens only.

Scores are sums over tokens, not means of per-batch means: a batch that is mostly padding
counts exactly as much as its real tokens, so a padded batch scores the same as an unpadded one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import tensorflow as tf

from recipegen.pipeline import encode, make_dataset, recipe_windows


@dataclass(frozen=True)
class Score:
    total_loss: float  # summed negative log-likelihood, in nats
    tokens: int  # real target tokens scored
    correct: int  # targets that were the model's most likely token

    @property
    def loss(self) -> float:
        return self.total_loss / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        if not self.tokens:
            return float("nan")
        return math.exp(self.loss) if self.loss < 709 else float("inf")  # exp overflows a float past ~709.78

    @property
    def accuracy(self) -> float:
        return self.correct / self.tokens if self.tokens else float("nan")

    def as_dict(self) -> dict[str, float | int]:
        return {"perplexity": self.perplexity, "loss": self.loss, "accuracy": self.accuracy, "tokens": self.tokens}


class Scorer:
    """Scores batches of (inputs, targets, weights) with one compiled function per model."""

    def __init__(self, model: keras.Model):
        self._model = model

        @tf.function(reduce_retracing=True)
        def score_batch(inputs, targets, weights):
            logits = self._model(inputs, training=False)  # (batch, time, vocab)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets), tf.float32)
            return (
                tf.reduce_sum(tf.cast(losses, tf.float64) * tf.cast(weights, tf.float64)),
                tf.reduce_sum(weights),
                tf.reduce_sum(hits * weights),
            )

        self._score_batch = score_batch

    def __call__(self, dataset: tf.data.Dataset) -> Score:
        total_loss, tokens, correct = 0.0, 0, 0
        for inputs, targets, weights in dataset:
            batch_loss, batch_tokens, batch_correct = self._score_batch(inputs, targets, weights)
            total_loss += float(batch_loss)
            tokens += int(batch_tokens)
            correct += int(batch_correct)
        return Score(total_loss=total_loss, tokens=tokens, correct=correct)


def score_texts(
    model: keras.Model, vocabulary: Sequence[str], texts: Sequence[str], sequence_length: int, batch_size: int
) -> Score:
    """Score training-form texts (standardized, end token included) the way training windows them."""
    windows = recipe_windows(encode(texts, vocabulary), sequence_length)
    if len(windows) == 0:
        return Score(total_loss=0.0, tokens=0, correct=0)
    return Scorer(model)(make_dataset(windows, batch_size))

