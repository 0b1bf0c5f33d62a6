"""The LSTM layer's forward and backward pass five ways: Keras's loop, unrolled (train.unroll), the
input projection hoisted out of the loop, and the loop and the hoisted one compiled by XLA.

    python benchmarks/recurrence.py [--batches 32,128] [--length 100] [--repeats 5]
                                    [--out benchmarks/results/recurrence.json]

Keras's LSTM on a CPU (no cuDNN) steps a generic loop whose every step multiplies its input by the
kernel and the previous output by the recurrent kernel. Unrolled: the same steps written out one
after another for a window of known length, no while loop (what recipegen's training step does on
a CPU). Hoisted: every step's input projection
first, as one product, then only ``h @ U`` and the gates inside the loop (what cuDNN does on a
GPU). Both compute the gradients of the layer's weights and of its input (the embedding is
trained), on the default config's widths (embedding 100, LSTM 256); the variants take turns for
``--repeats`` rounds and each keeps its median. GFLOP/s counts the matrix products' FLOPs, forward
and backward (three times the forward's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.backend.tensorflow.rnn import rnn as keras_rnn  # noqa: E402

EMBEDDING, UNITS = 100, 256


def variants(layer: keras.layers.LSTM, batch: int) -> dict:
    cell = layer.cell

    def keras_loop(x, h0, c0):
        return layer.inner_loop(sequences=x, initial_state=[h0, c0], mask=None, training=True)[1]

    def unrolled(x, h0, c0):
        return keras_rnn(lambda x_t, states: cell(x_t, states, training=True), x, [h0, c0],
                         unroll=True, input_length=x.shape[1])[1]

    def hoisted(x, h0, c0):
        projected = tf.einsum("bte,eg->btg", x, cell.kernel) + cell.bias

        def step(z_x, states):
            h, c = states
            i, f, g, o = tf.split(z_x + tf.matmul(h, cell.recurrent_kernel), 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return h, [h, c]

        return keras_rnn(step, projected, [h0, c0])[1]

    def trained(forward, jit):
        @tf.function(jit_compile=jit)
        def run(x):
            h0 = c0 = tf.zeros([batch, UNITS])
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = forward(x, h0, c0)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, layer.trainable_variables + [x])
        return run

    runs = {f"{name}{', XLA' if jit else ''}": trained(forward, jit)
            for name, forward in (("keras loop", keras_loop), ("hoisted projection", hoisted)) for jit in (False, True)}
    return {"keras loop": runs.pop("keras loop"), "keras loop, unrolled": trained(unrolled, False), **runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recurrence.json"))
    args = parser.parse_args()

    rows = []
    print(f"{'variant':<26} {'batch':>5} {'ms':>8} {'GFLOP/s':>8} {'vs keras':>8}  max |gradient difference|")
    for batch in map(int, args.batches.split(",")):
        keras.utils.set_random_seed(0)
        layer = keras.layers.LSTM(UNITS, return_sequences=True)
        x = tf.random.normal([batch, args.length, EMBEDDING])
        layer(x)
        runs = variants(layer, batch)
        reference = [g.numpy() for g in runs["keras loop"](x)]
        differences = {name: max(float(abs(a - b.numpy()).max()) for a, b in zip(reference, run(x)))
                       for name, run in runs.items()}
        seconds = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                started = time.perf_counter()
                [g.numpy() for g in run(x)]
                seconds[name].append(time.perf_counter() - started)
        flops = 3 * 2 * batch * args.length * (EMBEDDING * 4 * UNITS + UNITS * 4 * UNITS)
        base = statistics.median(seconds["keras loop"])
        for name, times in seconds.items():
            median = statistics.median(times)
            rows.append({"variant": name, "batch": batch, "length": args.length, "seconds": median,
                         "gflops": flops / median / 1e9, "vs_keras": base / median,
                         "max_gradient_difference": differences[name]})
            print(f"{name:<26} {batch:>5} {median * 1000:>8.1f} {flops / median / 1e9:>8.1f} {base / median:>8.2f}"
                  f"  {differences[name]:.1e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count()}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
