"""Generation speed: the book's method against recipegen's incremental decoder, in one run.

    python benchmarks/generation.py [--tokens 200] [--repeats 5] [--out benchmarks/results/generation.json]

One model with the default config's architecture (vocabulary 10,000, embedding 100, one LSTM of
128) and untrained weights: speed does not depend on what the weights say. Measured:

- book: ``model.predict`` on the whole prefix for every new token, one sample (the notebook's loop);
- ours: the stateful decoder for 1, 8 and 32 samples at once, as a TensorFlow graph (the
  default) and compiled by XLA (``--xla``), after one warm-up call that traces or compiles it,
  median of ``--repeats`` runs;
- the output projection alone, (32 x 128) @ (128 x 10,000) in a compiled loop: the ceiling for
  batch-32 decoding on this machine, since every token needs one row of it;
- a whole ``recipegen generate`` process from a cold start, with and without ``--xla``, and its
  parts (import, model load, first call including tracing or compiling, a warm call);
- the output layer: a Dense layer of its own against tied embeddings (``model.tie_embeddings``),
  the same architecture otherwise, batches of 1 and 32.

Ratios are taken within this one run, so a busy machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from recipegen import config as config_module  # noqa: E402
from recipegen import run as run_files  # noqa: E402
from recipegen.config import Config  # noqa: E402
from recipegen.files import atomic_write_text, write_json  # noqa: E402
from recipegen.generation.generator import Generator  # noqa: E402
from recipegen.model import build_model  # noqa: E402
from recipegen.text import END_TOKEN  # noqa: E402

PROMPT = "w3 w4"  # two known tokens; the synthetic vocabulary has no real words


def synthetic_vocabulary(size: int) -> list[str]:
    """Padding, [UNK], the end token and made-up words: speed does not depend on what words say."""
    return ["", "[UNK]", END_TOKEN] + [f"w{i}" for i in range(3, size)]


def book_tokens_per_second(model: keras.Model, tokens: int, vocab_size: int) -> float:
    """The notebook's loop: predict on the whole prefix, take the last step, sample in numpy."""
    rng = np.random.default_rng(0)
    ids = [3, 4]
    model.predict(np.array([ids]), verbose=0)  # build the predict function outside the timing
    started = time.perf_counter()
    for _ in range(tokens):
        logits = model.predict(np.array([ids]), verbose=0)[0, -1]
        probabilities = np.exp(logits - logits.max())
        ids.append(int(rng.choice(vocab_size, p=probabilities / probabilities.sum())))
    return tokens / (time.perf_counter() - started)


def ours_tokens_per_second(generator: Generator, batch: int, tokens: int, repeats: int) -> tuple[float, int]:
    generator.generate(PROMPT, n=batch, max_tokens=tokens, seed=0)  # trace once
    timings, produced = [], []
    for repeat in range(repeats):
        started = time.perf_counter()
        generation = generator.generate(PROMPT, n=batch, max_tokens=tokens, seed=repeat + 1)
        timings.append(time.perf_counter() - started)
        produced.append(sum(len(s.tokens) + s.ended for s in generation.samples))
    median = statistics.median(timings)
    return statistics.median(produced) / median, int(statistics.median(produced))


def projection_rows_per_second(units: int, vocab_size: int, batch: int, steps: int = 200) -> float:
    """Rows of the output projection per second, alone, in one compiled loop of ``steps`` matmuls."""
    hidden = tf.random.normal((batch, units))
    kernel = tf.random.normal((units, vocab_size))

    @tf.function
    def project(x):
        def body(i, acc):
            return i + 1, acc + tf.reduce_sum(tf.matmul(x + tf.cast(i, tf.float32), kernel)[:, :1])
        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.constant(0.0)))[1]

    project(hidden).numpy()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        project(hidden).numpy()
        timings.append(time.perf_counter() - started)
    return batch * steps / min(timings)


def write_run(model: keras.Model, vocabulary: list[str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    run_files.save_model(model, directory / run_files.MODEL_FILE)
    write_json(directory / run_files.VOCABULARY_FILE, vocabulary)
    atomic_write_text(directory / run_files.CONFIG_FILE, config_module.dumps(Config()))


PARTS_SCRIPT = """
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
t0 = time.perf_counter()
import tensorflow, keras
from recipegen.generation.generator import Generator
from recipegen.run import load_run
t1 = time.perf_counter()
run = load_run(sys.argv[1])
t2 = time.perf_counter()
generator = Generator(run.model, run.vocabulary, jit_compile=sys.argv[4] == "xla")
generator.generate(sys.argv[2], max_tokens=int(sys.argv[3]), seed=0)
t3 = time.perf_counter()
generator.generate(sys.argv[2], max_tokens=int(sys.argv[3]), seed=1)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_model": t2 - t1, "first_generate": t3 - t2, "warm_generate": t4 - t3}))
"""


def cold_start(run_dir: Path, tokens: int, repeats: int, mode: str) -> dict[str, float]:
    """Median wall time of a whole `recipegen generate` process, and its parts in another process."""
    recipegen = Path(sys.executable).with_name("recipegen")
    command = [str(recipegen), "generate", "--model", str(run_dir), "--prompt", PROMPT,
               "--max-tokens", str(tokens), "--seed", "0", "--json"] + (["--xla"] if mode == "xla" else [])
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    parts = json.loads(subprocess.run([sys.executable, "-c", PARTS_SCRIPT, str(run_dir), PROMPT, str(tokens), mode],
                                      check=True, capture_output=True, text=True).stdout)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    parts["python_start"] = time.perf_counter() - started
    return {"process_wall": statistics.median(walls), **parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens per recipe")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per batch size (median)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generation.json"))
    args = parser.parse_args()

    config = Config()
    vocab_size = config.data.vocab_size
    vocabulary = synthetic_vocabulary(vocab_size)
    keras.utils.set_random_seed(0)
    model = build_model(config.model, vocab_size)
    rows = []
    book = book_tokens_per_second(model, args.tokens, vocab_size)
    rows.append({"method": "book: predict on the prefix per token", "batch": 1, "tokens": args.tokens,
                 "tokens_per_s": book, "vs_book": 1.0})
    for jit_compile, method in ((False, "recipegen: stateful loop (default)"),
                                (True, "recipegen: stateful loop, --xla")):
        generator = Generator(model, vocabulary, jit_compile=jit_compile)
        for batch in (1, 8, 32):
            speed, produced = ours_tokens_per_second(generator, batch, args.tokens, args.repeats)
            rows.append({"method": method, "batch": batch, "tokens": produced,
                         "tokens_per_s": speed, "vs_book": speed / book})
    output_layers = []
    for tied in (False, True):
        keras.utils.set_random_seed(0)
        generator = Generator(build_model(dataclasses.replace(config.model, tie_embeddings=tied), vocab_size),
                              vocabulary)
        for batch in (1, 32):
            speed, produced = ours_tokens_per_second(generator, batch, args.tokens, args.repeats)
            output_layers.append({"output_layer": "tied embeddings" if tied else "dense", "batch": batch,
                                  "tokens": produced, "tokens_per_s": speed})
    for row in output_layers:
        dense = next(r for r in output_layers if r["output_layer"] == "dense" and r["batch"] == row["batch"])
        row["vs_dense"] = row["tokens_per_s"] / dense["tokens_per_s"]
    ceiling = projection_rows_per_second(config.model.units, vocab_size, batch=32)
    with tempfile.TemporaryDirectory() as tmp:
        write_run(model, vocabulary, Path(tmp) / "run")
        starts = {mode: cold_start(Path(tmp) / "run", args.tokens, repeats=3, mode=mode) for mode in ("graph", "xla")}

    print(f"Generation of a {args.tokens}-token recipe, default architecture (vocab {vocab_size}, "
          f"embedding {config.model.embedding_dim}, {config.model.cell.upper()} {config.model.units}), "
          f"{os.cpu_count()} CPU cores\n")
    print(f"{'method':<40} {'batch':>5} {'tokens':>6} {'tokens/s':>10} {'x book':>8}")
    for row in rows:
        print(f"{row['method']:<40} {row['batch']:>5} {row['tokens']:>6} "
              f"{row['tokens_per_s']:>10,.0f} {row['vs_book']:>8.1f}")
    batch32 = rows[-1]["tokens_per_s"]
    print(f"\noutput projection alone (32 x {config.model.units} @ {config.model.units} x {vocab_size}): "
          f"{ceiling:,.0f} rows/s; batch-32 decoding reaches {batch32 / ceiling:.0%} of it")
    print(f"\noutput layer (same architecture otherwise):\n  {'output layer':<16} {'batch':>5} {'tokens/s':>10} "
          f"{'x dense':>8}")
    for row in output_layers:
        print(f"  {row['output_layer']:<16} {row['batch']:>5} {row['tokens_per_s']:>10,.0f} {row['vs_dense']:>8.2f}")
    print(f"\nwhole `recipegen generate` process, one {args.tokens}-token recipe (seconds):")
    print(f"  {'':<16} {'default':>8} {'--xla':>8}")
    for part in ("process_wall", "python_start", "import", "load_model", "first_generate", "warm_generate"):
        print(f"  {part:<16} {starts['graph'][part]:>8.2f} {starts['xla'][part]:>8.2f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "tokens": args.tokens, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "rows": rows, "projection_rows_per_s_batch32": ceiling, "batch32_share_of_projection": batch32 / ceiling,
        "cold_start_seconds": starts, "output_layers": output_layers,
    }, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
