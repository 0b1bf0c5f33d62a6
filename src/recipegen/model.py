"""Embedding -> stacked LSTM/GRU -> Dense over the vocabulary.

The output layer returns logits, not probabilities: the loss takes logits (more stable than
log of a softmax) and samplers scale logits by temperature. Layers carry fixed names so the
fast decoder in ``generate`` can find them in a loaded model.
"""

from __future__ import annotations

import keras

from recipegen.config import ModelConfig, TrainConfig

RECURRENT = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build_model(config: ModelConfig, vocab_size: int) -> keras.Model:
    # No mask_zero: padding only ever follows real tokens, so it cannot change their outputs,
    # and without a mask the recurrent layers keep their fused kernels. The loss ignores
    # padding through sample weights instead.
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, config.embedding_dim, name="embedding")(tokens)
    for i in range(config.layers):
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
        x = RECURRENT[config.cell](config.units, return_sequences=True, name=f"rnn_{i}")(x)  # (batch, time, units)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout_out")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)  # (batch, time, vocab)
    return keras.Model(tokens, logits, name=f"recipegen_{config.cell}")


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm or None),
        # Averaged over real tokens: padding carries weight 0 and does not dilute the mean.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.name.startswith("rnn_")]
