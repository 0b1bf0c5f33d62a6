"""Training and generation throughput on the device TensorFlow finds: the script for a lent GPU,
run here too for the CPU beside it.

    python benchmarks/device.py [DATA.json] [--configs default,book] [--batches 50] [--tokens 200]
                                [--out benchmarks/results/device-NAME.json]

For each config (``configs/NAME.toml``) on DATA (the bundled ``data/recipes.json`` by default, so
the script runs on a machine without ``../shared``): the config's model, compiled and seeded as
``recipegen train`` does (op determinism included), ``train_on_batch`` over ``--batches`` of the
config's first training batches after three warm-up steps. Reported: real tokens/s, positions/s,
and the recurrent kernel the traced step runs: ``cuDNN`` (a CudnnRNN op, Keras's fused GPU
kernel), ``while loop`` (Keras's generic loop) or ``unrolled`` (train.unroll on a CPU). A config
that fails on the device is reported with its error, not skipped. Then each config's decoder at
batch 1 and 32 (``generation.ours_tokens_per_second``: untrained weights over a synthetic
vocabulary of the config's size, so every recipe runs its full length).

The device is named in the table and the JSON: read this machine's file beside the GPU's, the
ratios across devices are what the script is for.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))  # generation.py, beside this script

WARM_UP = 3


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    return ", ".join(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus)


def recurrent_kernel(model, batch) -> str:
    """Which recurrence the traced training step runs, read off its graph's ops."""
    import tensorflow as tf

    graph = tf.function(model.train_step).get_concrete_function(batch).graph
    kinds = {op.type for op in graph.get_operations()}
    if any(kind.startswith("CudnnRNN") for kind in kinds):
        return "cuDNN"
    return "while loop" if any("While" in kind for kind in kinds) else "unrolled"


def training_speed(config, batches: int) -> dict:
    import tensorflow as tf

    from recipegen.model import build_model, compile_model
    from recipegen.prepare import prepare_data
    from recipegen.train import seed_everything

    seed_everything(config)
    data = prepare_data(config)
    dataset, _ = data.epoch_dataset(config, 0)
    whole = [batch for batch in dataset if batch[0].shape[0] == config.train.batch_size]  # one shape, one trace
    timed = list(itertools.islice(itertools.cycle(whole), WARM_UP + batches))
    model = build_model(config.model, len(data.vocabulary))
    compile_model(model, config.train)
    for inputs, targets, weights in timed[:WARM_UP]:
        model.train_on_batch(inputs, targets, sample_weight=weights)
    started = time.perf_counter()
    for inputs, targets, weights in timed[WARM_UP:]:
        loss = model.train_on_batch(inputs, targets, sample_weight=weights)
    float(tf.nest.flatten(loss)[0])  # the last step done, not only queued
    seconds = time.perf_counter() - started
    real = sum(float(tf.reduce_sum(w)) for _, _, w in timed[WARM_UP:])
    positions = sum(int(tf.size(w)) for _, _, w in timed[WARM_UP:])
    return {"batch": list(timed[0][0].shape), "steps": batches, "seconds": seconds,
            "ms_per_step": 1000 * seconds / batches, "real_tokens_per_s": real / seconds,
            "positions_per_s": positions / seconds, "kernel": recurrent_kernel(model, timed[0])}


def generation_speed(config, tokens: int) -> dict:
    import keras
    from generation import ours_tokens_per_second, synthetic_vocabulary

    from recipegen.generation.generator import Generator
    from recipegen.model import build_model

    keras.utils.set_random_seed(0)
    generator = Generator(build_model(config.model, config.data.vocab_size),
                          synthetic_vocabulary(config.data.vocab_size))
    return {f"batch {batch}": ours_tokens_per_second(generator, batch, tokens, repeats=3)[0] for batch in (1, 32)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("data/recipes.json"))
    parser.add_argument("--configs", default="default,book")
    parser.add_argument("--batches", type=int, default=50, help="training steps timed per config")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per generated recipe")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from recipegen.config import load_config

    device = device_name()
    rows = []
    for name in args.configs.split(","):
        config = load_config(Path("configs") / f"{name}.toml", {"data.path": str(args.data)})
        row = {"config": name}
        try:
            row |= training_speed(config, args.batches)
            row["generation_tokens_per_s"] = generation_speed(config, args.tokens)
        except Exception as error:  # noqa: BLE001 - a config the device cannot run is a result too
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0]
        rows.append(row)

    print(f"{device}; TensorFlow {tf.__version__}, Keras {keras.__version__}; {args.data}\n")
    print(f"{'config':<10} {'batch':>9} {'ms/step':>8} {'real tok/s':>11} {'kernel':>10} "
          f"{'gen b1 tok/s':>13} {'gen b32 tok/s':>14}")
    for row in rows:
        if "error" in row:
            print(f"{row['config']:<10} failed: {row['error']}")
            continue
        generation = row["generation_tokens_per_s"]
        print(f"{row['config']:<10} {'x'.join(map(str, row['batch'])):>9} {row['ms_per_step']:>8.1f} "
              f"{row['real_tokens_per_s']:>11,.0f} {row['kernel']:>10} {generation['batch 1']:>13,.0f} "
              f"{generation['batch 32']:>14,.0f}")
    kind = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    out = args.out or Path("benchmarks/results") / f"device-{kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": device, "tensorflow": tf.__version__, "keras": keras.__version__,
                               "data": str(args.data), "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
