"""Where one training step of a config spends its time, beside the machine's rate for the step's bare recurrence.

    python benchmarks/step_profile.py DATA.json [--config configs/default.toml] [--batches 10] [--rounds 3]
                                      [--out benchmarks/results/step_profile-NAME.json]

One process, one corpus, the config's model and batches (the first batches of epoch 1). Each part
is timed over the same ``--batches`` batches after three warm-up calls, the parts taking turns for
``--rounds`` rounds (each keeps its fastest), so the parts read against each other:

- ``step``: the whole training step, as ``fit`` runs it (``train_on_batch``: forward, loss,
  gradients, clipping, Adam);
- ``gradients``: forward, loss and gradients, no optimizer;
- ``forward``: forward and loss only;
- ``recurrence``: the recurrent layers alone, forward and backward, on inputs of the model's shape, run as
  the step runs them (unrolled where ``train.unroll`` unrolls them);
- ``recurrence_forward``: the same, forward only;
- ``bare``: a hand-written LSTM recurrence of the same shapes: the input projection of every step
  done first as one product, then dependent steps of ``h @ U`` (batch x units times units x 4 units)
  and the gates; with and without XLA. Its rate, counted as the matrix products' FLOPs, is what this
  machine does for the step's core, the limit a training step can approach.

The model's FLOPs per token (forward and backward, three times the forward products: the input
projection, the recurrence, the output projection and the sampled or full softmax) turn each part's
tokens/s into GFLOP/s. The epoch's end is timed too: held-out scoring and the samples the
``TextGenerator`` callback writes (every temperature of ``sample.temperatures``, ``sample.count``
recipes each, in one batch), the first call apart (it traces the decoder), beside the same samples
decoded a batch per temperature, as the callback did before.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WARM_UP = 3


def flops_per_token(config, vocab_size: int) -> float:
    """Forward and backward FLOPs of one position: 2 per multiply-add, the backward pass twice the forward."""
    units, embedding, layers = config.model.units, config.model.embedding_dim, config.model.layers
    forward = 0
    width = embedding
    for _ in range(layers):
        forward += 2 * (width * 4 * units + units * 4 * units)  # input projection and recurrence, LSTM's 4 gates
        width = units
    if config.model.cell == "gru":
        forward = forward * 3 // 4
    out_width = units
    if config.model.tie_embeddings and units != embedding:
        forward += 2 * units * embedding  # the projection to the embedding's width
        out_width = embedding
    classes = config.train.sampled_classes + 1 if config.train.softmax == "sampled" else vocab_size
    forward += 2 * out_width * classes
    return 3.0 * forward


def timed_in_rounds(calls: dict, batches, sync, rounds: int) -> dict[str, float]:
    """Seconds per call of each of ``calls`` over ``batches``: every call warmed up (traced) first,
    then the calls take turns for ``rounds`` rounds, and each keeps its fastest round, so that the
    machine's load at one moment falls on every part alike."""
    for call in calls.values():
        for batch in batches[:WARM_UP]:
            sync(call(*batch))
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            for batch in batches[WARM_UP:]:
                sync(call(*batch))
            best[name] = min(best[name], (time.perf_counter() - started) / (len(batches) - WARM_UP))
    return best


def bare_recurrence(batch: int, steps: int, width: int, units: int, jit: bool, repeats: int = 5) -> float:
    """Seconds per run of a hand-written LSTM forward over ``steps`` dependent steps."""
    import tensorflow as tf

    rng = tf.random.Generator.from_seed(1)
    x = rng.normal([batch, steps, width])
    kernel = rng.normal([width, 4 * units]) * 0.05
    recurrent = rng.normal([units, 4 * units]) * 0.05
    bias = tf.zeros([4 * units])

    @tf.function(jit_compile=jit)
    def run(x):
        projected = tf.einsum("btw,wg->tbg", x, kernel) + bias  # every step's input projection, one product
        h = tf.zeros([batch, units])
        c = tf.zeros([batch, units])
        for t in tf.range(steps):
            z = projected[t] + tf.matmul(h, recurrent)
            i, f, g, o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
        return h

    run(x).numpy()
    started = time.perf_counter()
    for _ in range(repeats):
        run(x).numpy()
    return (time.perf_counter() - started) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"))
    parser.add_argument("--batches", type=int, default=10, help="batches timed per part and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of turns; the fastest counts")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0

    import keras
    import tensorflow as tf

    from recipegen.config import load_config
    from recipegen.evaluate import Scorer
    from recipegen.generation.generator import Generator
    from recipegen.generation.samples import Ask
    from recipegen.generation.settings import configured_decoding
    from recipegen.model import build_model, compile_model, dense_gradients, recurrent_layers, unrolled
    from recipegen.prepare import prepare_data
    from recipegen.run import sample_limit
    from recipegen.text import tokenizer_for

    config = load_config(args.config, {"data.path": str(args.data)})
    keras.utils.set_random_seed(config.seed)
    data = prepare_data(config)
    dataset, _ = data.epoch_dataset(config, 0)
    batches = [tuple(part for part in batch) for batch in dataset.take(WARM_UP + args.batches)]
    batch_size, length = batches[0][0].shape
    positions = sum(int(tf.size(b[0])) for b in batches[WARM_UP:]) / args.batches  # per batch
    model = build_model(config.model, len(data.vocabulary))
    compile_model(model, config.train)

    def sync(value):
        return [v.numpy() for v in tf.nest.flatten(value) if hasattr(v, "numpy")]

    def loss_sum(inputs, targets, weights):  # every part runs the recurrence as the step does (train.unroll)
        with unrolled(model, inputs):
            if model.sampled_classes:
                return model.sampled_loss_sum(inputs, targets, weights, training=True)
            logits = model(inputs, training=True)
        losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        return tf.reduce_sum(losses * weights)

    @tf.function
    def gradients(inputs, targets, weights):
        with tf.GradientTape() as tape:
            loss = loss_sum(inputs, targets, weights)
        return dense_gradients(tape.gradient(loss, model.trainable_weights))

    forward = tf.function(loss_sum)
    layers = recurrent_layers(model)
    embedded = tf.random.normal([batch_size, length, config.model.embedding_dim])

    @tf.function
    def recurrence(inputs):
        with tf.GradientTape() as tape, unrolled(model, inputs):
            tape.watch(inputs)
            x = inputs
            for layer in layers:
                x = layer(x, training=True)
            loss = tf.reduce_sum(x)
        return tape.gradient(loss, [inputs] + [w for layer in layers for w in layer.trainable_weights])

    @tf.function
    def recurrence_forward(x):
        with unrolled(model, x):
            for layer in layers:
                x = layer(x, training=True)
        return x

    parts = timed_in_rounds({
        "step": lambda i, t, w: model.train_on_batch(i, t, sample_weight=w),
        "gradients": gradients,
        "forward": forward,
        "recurrence": lambda i, t, w: recurrence(embedded),
        "recurrence_forward": lambda i, t, w: recurrence_forward(embedded),
    }, batches, sync, args.rounds)
    per_token = flops_per_token(config, len(data.vocabulary))
    recurrent_share = sum(2 * (w * 4 * config.model.units + config.model.units * 4 * config.model.units)
                          for w in [config.model.embedding_dim] + [config.model.units] * (config.model.layers - 1))
    bare = {}
    for batch in sorted({batch_size, 128}):
        for jit in (False, True):
            seconds = bare_recurrence(batch, length, config.model.embedding_dim, config.model.units, jit)
            flops = batch * length * recurrent_share  # forward products only, as counted for the bare loop
            bare[f"batch {batch}{' xla' if jit else ''}"] = {"seconds": seconds, "gflops": flops / seconds / 1e9}

    heldout = data.heldout_dataset(config)
    scorer = Scorer(model)
    started = time.perf_counter()
    scorer(heldout)
    scoring_seconds = time.perf_counter() - started
    generator = Generator(model, data.vocabulary, tokenizer_for(config.data.tokens), config.data.template,
                          foods=data.foods)
    max_tokens = config.sample.max_tokens or sample_limit(data.longest_recipe)
    # The TextGenerator callback's samples (every temperature's rows in one batch, one trace for the
    # run), beside a batch per temperature; the first call traces the decoder, the later ones read.
    decoding = configured_decoding(config.sample)
    asks = [Ask(None, config.sample.count, 0, temperature, max_tokens) for temperature in config.sample.temperatures]
    ways = {
        "one batch": lambda seed: generator.generate_many(config.sample.prompt, [dataclasses.replace(ask, seed=seed)
                                                                                 for ask in asks], decoding),
        "a batch per temperature": lambda seed: [
            generator.generate_many(config.sample.prompt, [dataclasses.replace(ask, seed=seed)], decoding)
            for ask in asks],
    }
    sampling = {way: [] for way in ways}
    for round_ in range(3):
        for way, sample in ways.items():
            started = time.perf_counter()
            sample(round_)
            sampling[way].append(time.perf_counter() - started)
    epoch_steps = sum(1 for _ in data.epoch_dataset(config, 0)[0])

    rows = []
    print(f"{args.data.name}: {args.config}, batch {batch_size} x {length}, {per_token / 1e6:.2f} MFLOP a token "
          f"(forward and backward), {os.cpu_count()} CPUs\n")
    print(f"{'part':<22} {'ms/batch':>9} {'share of step':>14} {'positions/s':>12} {'GFLOP/s':>8}")
    for name, seconds in parts.items():
        tokens_per_s = positions / seconds
        gflops = per_token * tokens_per_s / 1e9 if name == "step" else None
        rows.append({"part": name, "ms_per_batch": seconds * 1000, "share_of_step": seconds / parts["step"],
                     "positions_per_s": tokens_per_s, "gflops": gflops})
        print(f"{name:<22} {seconds * 1000:>9.1f} {seconds / parts['step']:>14.2f} {tokens_per_s:>12,.0f} "
              f"{gflops if gflops is not None else float('nan'):>8.1f}")
    print(f"{'optimizer (step - gradients)':<22} {(parts['step'] - parts['gradients']) * 1000:>9.1f} "
          f"{(parts['step'] - parts['gradients']) / parts['step']:>14.2f}")
    print("\nbare LSTM recurrence of the model's shapes (forward products counted):")
    for name, row in bare.items():
        print(f"  {name:<14} {row['seconds'] * 1000:8.1f} ms  {row['gflops']:6.1f} GFLOP/s")
    step_gflops = per_token * positions / parts["step"] / 1e9
    same_batch = bare[f"batch {batch_size}"]["gflops"]
    print(f"\nthe step's {step_gflops:.1f} GFLOP/s is {step_gflops / same_batch:.2f} of the bare recurrence's "
          f"{same_batch:.1f} at batch {batch_size}")
    epoch_seconds = epoch_steps * parts["step"]
    print(f"\nan epoch: {epoch_steps} steps, about {epoch_seconds:.1f} s of steps; its end: held-out scoring "
          f"{scoring_seconds:.1f} s, samples {sampling['one batch'][0]:.1f} s the first time (tracing), "
          f"{min(sampling['one batch'][1:]):.1f} s after, against {min(sampling['a batch per temperature'][1:]):.1f} s "
          f"for a batch per temperature "
          f"({len(config.sample.temperatures)} temperatures x {config.sample.count} recipes of up to {max_tokens} "
          f"tokens)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "data": str(args.data), "config": str(args.config), "batch": [batch_size, length],
            "flops_per_token": per_token, "positions_per_batch": positions, "parts": rows, "bare": bare,
            "step_gflops": step_gflops, "step_vs_bare": step_gflops / same_batch, "epoch_steps": epoch_steps,
            "scoring_seconds": scoring_seconds, "sampling_seconds": sampling, "cpu_count": os.cpu_count()},
            indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
