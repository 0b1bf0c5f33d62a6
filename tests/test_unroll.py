"""train.unroll: a training step traced with its recurrent loop unrolled computes what the loop does.

The unrolling is only a way of running the step; these tests check that it happens where it
should (the traced step has no while loop), nowhere else, and that it changes no number.
"""

import numpy as np
import pytest

VOCAB, WINDOW, BATCH = 30, 7, 4


def model_for(cell: str, softmax: str, unroll: bool):
    import keras

    from recipegen.config import ModelConfig, TrainConfig
    from recipegen.model import build_model, compile_model

    keras.utils.set_random_seed(3)
    model = build_model(ModelConfig(cell=cell, units=6, embedding_dim=5, dropout=0.0), VOCAB)
    compile_model(model, TrainConfig(softmax=softmax, sampled_classes=8, unroll=unroll))
    return model


def batch(window: int = WINDOW):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    tokens = rng.integers(1, VOCAB, size=(BATCH, window + 1)).astype("int32")
    weights = np.ones((BATCH, window), "float32")
    weights[-1, 3:] = 0.0  # a padded tail, as the last window of an epoch
    return tf.constant(tokens[:, :-1]), tf.constant(tokens[:, 1:]), tf.constant(weights)


def traced_op_types(model, data) -> set[str]:
    import tensorflow as tf

    model.optimizer.build(model.trainable_variables)
    graph = tf.function(model.train_step).get_concrete_function(data).graph
    return {op.type for op in graph.get_operations()}


def has_loop(op_types: set[str]) -> bool:
    return any("While" in kind for kind in op_types)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("softmax", ["sampled", "full"])
def test_an_unrolled_step_trains_the_weights_the_loop_does(cell, softmax):
    data = batch()
    weights = {}
    for unroll in (False, True):
        model = model_for(cell, softmax, unroll)
        assert has_loop(traced_op_types(model, data)) is not unroll
        for _ in range(3):
            model.train_on_batch(*data[:2], sample_weight=data[2])
        weights[unroll] = model.get_weights()
        assert not any(layer.unroll for layer in model.layers if layer.name.startswith("rnn_")), \
            "unrolled only while the step is traced, never as saved"
    for looped, unrolled in zip(weights[False], weights[True]):
        np.testing.assert_allclose(unrolled, looped, rtol=1e-4, atol=1e-5)


def test_windows_too_long_or_of_unknown_length_keep_the_loop():
    import tensorflow as tf

    from recipegen.model import MAX_UNROLLED_STEPS

    model = model_for("lstm", "sampled", unroll=True)
    assert has_loop(traced_op_types(model, batch(MAX_UNROLLED_STEPS + 1)))
    unknown = tuple(tf.TensorSpec([None, None], dtype) for dtype in ("int32", "int32", "float32"))
    assert has_loop(traced_op_types(model, unknown))
    assert not has_loop(traced_op_types(model, batch(MAX_UNROLLED_STEPS)))


def test_a_gpu_keeps_the_loop_for_cudnn(monkeypatch):
    import tensorflow as tf

    real = tf.config.list_logical_devices
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU" else real(kind))
    op_types = traced_op_types(model_for("lstm", "sampled", unroll=True), batch())
    assert any(kind.startswith("CudnnRNN") for kind in op_types), "Keras's cuDNN kernel, as on a real GPU"
