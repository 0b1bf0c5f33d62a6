"""Embedding -> stacked LSTM/GRU -> a softmax over the vocabulary.

The output layer returns logits, not probabilities: the loss takes logits (more stable than
log of a softmax) and samplers scale logits by temperature. Layers carry fixed names so the
fast decoder in ``generate`` can find them in a loaded model.

Two ways to make the output layer cheaper to train (benchmarks/README.md, "Training benchmark"):

- ``model.tie_embeddings``: the output layer is the embedding matrix read backwards (Press & Wolf,
  2017), ``logits = h @ E^T + b``, one matrix instead of two. Where ``units`` differs from
  ``embedding_dim`` a projection (units -> embedding_dim, no bias) comes first.
- ``train.softmax = "sampled"``: ``RecipeModel.train_step`` scores the true word against a few
  hundred sampled ones (loss.py) instead of the whole vocabulary. Only training changes: the
  model's output, and so held-out scoring, ``evaluate``, generation and export, is the full softmax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import ops

from recipegen.config import ModelConfig, TrainConfig
from recipegen.loss import sampled_loss_sum

RECURRENT = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@keras.saving.register_keras_serializable(package="recipegen")
class TiedEmbedding(keras.layers.Layer):
    """Word vectors that are also the output layer: ``layer(ids)`` looks vectors up,
    ``layer(h, reverse=True)`` gives ``h @ E^T + b``, the logits over the vocabulary.

    One variable serves both ends, so saving and loading keep them tied. Keras's own
    ReversibleEmbedding (Keras 3.12 and later) has no output bias; a bias lets the frequent words
    be frequent without bending the geometry of their vectors.
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim  # the vocabulary size, as keras.layers.Embedding names it
        self.output_dim = output_dim
        self.embeddings = self.add_weight(shape=(input_dim, output_dim), initializer="uniform", name="embeddings")
        self.bias = self.add_weight(shape=(input_dim,), initializer="zeros", name="bias")

    def call(self, inputs, reverse: bool = False):
        if reverse:  # one matrix product against E read transposed, never a transposed copy of E per call
            flat = tf.reshape(inputs, [-1, self.output_dim])
            logits = tf.matmul(flat, self.embeddings, transpose_b=True) + self.bias
            return tf.reshape(logits, tf.concat([tf.shape(inputs)[:-1], [self.input_dim]], axis=0))
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_spec(self, inputs, reverse: bool = False):
        shape = (*inputs.shape[:-1], self.input_dim) if reverse else (*inputs.shape, self.output_dim)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return super().get_config() | {"input_dim": self.input_dim, "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="recipegen")
class RecipeModel(keras.Model):
    """The functional model with one training step of its own: with ``sampled_classes`` set
    (train.py sets it from ``train.softmax``), the loss is the sampled softmax over the features
    the output layer reads; otherwise Keras's own step, the full softmax. Either step runs with
    the recurrent layers unrolled where that is faster (``unrolled``)."""

    # Training settings, not saved with the model: the run's config holds them (use_train_settings).
    sampled_classes = 0
    unroll = False

    def train_step(self, data):
        with unrolled(self, data[0]):
            if not self.sampled_classes:
                return super().train_step(data)
            return self._sampled_train_step(*data)

    def _sampled_train_step(self, inputs, targets, weights):
        with tf.GradientTape() as tape:
            loss_sum = self.sampled_loss_sum(inputs, targets, weights, training=True)
            loss = loss_sum / tf.maximum(tf.reduce_sum(weights), 1.0)  # per real token, as the full loss
            # The replicas' gradients are summed: each replica's loss is divided by their count, as in Keras's step.
            replicas = tf.distribute.get_replica_context().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        gradients = dense_gradients(tape.gradient(scaled, self.trainable_weights))
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        # Keras's own running mean of the loss (a private attribute, there since Keras 3.0), which fit
        # resets every epoch and reports as "loss".
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(inputs)[0])
        return {"loss": self._loss_tracker.result()}

    def sampled_loss_sum(self, inputs: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor,
                         training: bool) -> tf.Tensor:
        """Summed sampled-softmax loss over the real targets (padding weighs 0). The candidates are a
        function of the optimizer's step, which the checkpoint keeps: a resumed run draws what it would have."""
        head = output_head(self)
        features = head.features(feature_model(self)(inputs, training=training))
        return sampled_loss_sum(head.kernel, head.bias, features, targets, weights, self.sampled_classes,
                                seed=self.optimizer.iterations)


def dense_gradients(gradients: list) -> list:
    """Sparse gradients (the rows a sampled loss reads) as dense tensors, their repeated rows added.

    Clipping by norm reads the values of a sparse gradient as they are, repeated rows apart, so it
    would clip by a norm that is not the gradient's; and a sum over replicas of sparse gradients
    would differ from one worker's in the same way.
    """
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in gradients]


@dataclass(frozen=True)
class OutputHead:
    """The output layer as matrices: ``logits = features(h) @ kernel^T + bias``, kernel (vocab, d).

    Sampled softmax reads the kernel's rows for a few words; the decoder calls the head whole.
    """

    features: Callable[[tf.Tensor], tf.Tensor]  # the recurrent output -> the vectors scored against each word
    kernel: tf.Tensor  # (vocab, d)
    bias: tf.Tensor  # (vocab,)
    logits: Callable[[tf.Tensor], tf.Tensor]  # the recurrent output -> (..., vocab)


def output_head(model: keras.Model) -> OutputHead:
    embedding = model.get_layer("embedding")
    if isinstance(embedding, TiedEmbedding):
        projection = next((layer for layer in model.layers if layer.name == "projection"), None)
        features = projection or (lambda h: h)
        return OutputHead(features, embedding.embeddings, embedding.bias,
                          lambda h: embedding(features(h), reverse=True))
    dense = model.get_layer("logits")
    return OutputHead(lambda h: h, ops.transpose(dense.kernel), dense.bias, dense)


def feature_model(model: keras.Model) -> keras.Model:
    """The model up to the output layer's input (dropout included): what the output layer reads."""
    return keras.Model(model.inputs[0], _feature_layers(model)[-1].output)


def _feature_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers from the embedding to what the output layer reads, in order."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    last = max(i for i, layer in enumerate(layers) if layer.name.startswith(("rnn_", "dropout_out")))
    return layers[: last + 1]


class Recurrence:
    """A model run one stretch of tokens at a time, its recurrent state carried from one stretch to the next.

    A whole recipe can be too long for one call (the full softmax of 32 recipes of 2,000 tokens
    is 2.6 GB of logits), and cutting it into windows that each start from a zero state scores a
    model that never saw the recipe's beginning. Carried across stretches, the state makes the
    stretches add up to the whole: scoring a recipe in pieces gives what scoring it at once does.
    The layers are the model's own (the fused LSTM/GRU kernels included), not copies.
    """

    def __init__(self, model: keras.Model):
        self._layers = _feature_layers(model)
        self._cells = [layer.cell for layer in recurrent_layers(model)]
        self.logits = output_head(model).logits

    def zero_state(self, batch: tf.Tensor | int) -> list[list[tf.Tensor]]:
        states = []
        for cell in self._cells:
            sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            states.append([tf.zeros(tf.stack([batch, size])) for size in sizes])
        return states

    def __call__(self, tokens: tf.Tensor, states: list[list[tf.Tensor]],
                 training: bool = False) -> tuple[tf.Tensor, list[list[tf.Tensor]]]:
        """(batch, time) ids and each recurrent layer's state -> what the output layer reads
        (batch, time, features), and the states after the last position."""
        x, carried, new_states = tokens, iter(states), []
        for layer in self._layers:
            if layer.name.startswith("rnn_"):
                _, x, state = layer.inner_loop(sequences=x, initial_state=list(next(carried)), mask=None,
                                               training=training)
                new_states.append(list(state))
            else:
                x = layer(x, training=training)
        return x, new_states


def build_model(config: ModelConfig, vocab_size: int) -> keras.Model:
    # No mask_zero: padding only ever follows real tokens, so it cannot change their outputs,
    # and without a mask the recurrent layers keep their fused kernels. The loss ignores
    # padding through sample weights instead.
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    if config.tie_embeddings:
        embedding = TiedEmbedding(vocab_size, config.embedding_dim, name="embedding")
    else:
        embedding = keras.layers.Embedding(vocab_size, config.embedding_dim, name="embedding")
    x = embedding(tokens)
    if config.embedding_dropout:  # a dropped word is missing from every layer's input, not only some features of it
        x = keras.layers.Dropout(config.embedding_dropout, noise_shape=(None, None, 1), name="dropout_words")(x)
    # Locked (variational) dropout drops the same features at every step of a sequence (Gal and
    # Ghahramani, 2016): the recurrence cannot route around a feature that is gone for a step.
    dropout = keras.layers.SpatialDropout1D if config.locked_dropout else keras.layers.Dropout
    for i in range(config.layers):
        if config.dropout:
            x = dropout(config.dropout, name=f"dropout_{i}")(x)
        x = RECURRENT[config.cell](config.units, return_sequences=True, name=f"rnn_{i}")(x)  # (batch, time, units)
    if config.dropout:
        x = dropout(config.dropout, name="dropout_out")(x)
    if config.tie_embeddings:
        if config.units != config.embedding_dim:
            x = keras.layers.Dense(config.embedding_dim, use_bias=False, name="projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocab_size, name="logits")(x)  # (batch, time, vocab)
    return RecipeModel(tokens, logits, name=f"recipegen_{config.cell}")


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm or None),
        # Averaged over real tokens: padding carries weight 0 and does not dilute the mean.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[accuracy] if config.softmax == "full" else None,  # a sampled step has no argmax
    )
    use_train_settings(model, config)


def use_train_settings(model: keras.Model, config: TrainConfig) -> None:
    """Train ``model`` with the softmax and loop ``config`` names; a model loaded for --resume needs them again."""
    if config.softmax == "sampled" and not isinstance(model, RecipeModel):
        raise ValueError("sampled softmax needs a model built by this version of recipegen")
    if isinstance(model, RecipeModel):
        model.sampled_classes = config.sampled_classes if config.softmax == "sampled" else 0
        model.unroll = config.unroll


# Tracing costs about 30 ms per unrolled step (3 s for a window of 100), and a long window's graph grows with it.
MAX_UNROLLED_STEPS = 256


@contextmanager
def unrolled(model: keras.Model, inputs: tf.Tensor) -> Iterator[None]:
    """The recurrent layers unrolled while a training step is traced, where that is faster.

    On a CPU, Keras runs a recurrence as a while loop of small ops; unrolled over a window of known
    length, the same ops compute the same numbers and train 1.2 times the tokens a second
    (benchmarks/README.md, "Unrolled on a CPU, and batch 64 again"). On a GPU a layer unrolled
    would lose its cuDNN kernel, so it is left alone. The layers are unrolled only while the step's
    Python runs (the trace), never when saved: a saved model must score and generate over
    stretches of any length.
    """
    steps = inputs.shape[1]
    wanted = (getattr(model, "unroll", False) and steps is not None and steps <= MAX_UNROLLED_STEPS
              and not tf.config.list_logical_devices("GPU"))
    layers = recurrent_layers(model) if wanted else []
    for layer in layers:
        layer.unroll = True
    try:
        yield
    finally:
        for layer in layers:
            layer.unroll = False


def recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.name.startswith("rnn_")]
