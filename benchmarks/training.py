"""Training throughput and quality at equal training time: arms of recipegen's training, the book's
pipeline and a Kneser-Ney trigram, on one corpus, in one run.

    python benchmarks/training.py DATA.json [--minutes 8] [--limit N] [--config configs/default.toml]
                                  [--arms full,sampled-512,...] [--out benchmarks/results/training-NAME.json]

Every arm gets the same training recipes, the same vocabulary (adapted once, on the training
recipes) and the same training-time budget (whole epochs; the epoch during which the budget runs
out is finished), and is scored on the same held-out recipes with the same masked perplexity,
computed with the full softmax whatever the arm trained with (every token after a recipe's
first, padding never counted).

- recipegen arms: ``recipegen.train.train`` with the config and the arm's overrides on top (ARMS),
  and the time limit set to the budget; the best epoch's model is scored, as ``recipegen`` keeps it.
  Ratios are against the first arm listed.
- book: every recipe truncated to 201 tokens and padded, batched *then* shuffled (a buffer of
  1,000 batches, as the notebook), loss counting padding as targets, batch 32, Adam 0.001, the
  config's architecture without dropout.
- Kneser-Ney: an interpolated trigram on the same training token ids.

Real tokens/s counts non-padding targets trained per second of training steps; positions/s
counts every position the model computed. GFLOP/s is positions/s times the arm's FLOPs per
position (step_profile.flops_per_token: forward and backward), read beside the rate this machine
reaches, in the same run, on a bare LSTM recurrence of the arm's batch and window
(step_profile.bare_recurrence): the distance to the limit. A missing DATA file is skipped with a message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))  # step_profile, beside this script

from step_profile import flops_per_token  # noqa: E402

BOOK_SEQUENCE_LENGTH = 200  # the notebook's MAX_LEN, whatever the config says
# The arms pin what they compare; the rest (pipeline, learning rate, dropout...) is the config's.
# "full" is the default config as it was before sampled softmax: the book's size, one LSTM of 128.
FULL = {"train.softmax": "full", "model.tie_embeddings": False, "model.units": 128, "model.layers": 1}
SAMPLED = {**FULL, "train.softmax": "sampled"}
TIED_SAMPLED = {**SAMPLED, "train.sampled_classes": 512, "model.tie_embeddings": True}
ARMS = {  # name: (what it is, config overrides, None for the book's own pipeline)
    "full": ("full softmax, untied, LSTM 128 (the default before sampled softmax)", FULL),
    "sampled-128": ("sampled softmax, 128 candidates", {**SAMPLED, "train.sampled_classes": 128}),
    "sampled-512": ("sampled softmax, 512 candidates", {**SAMPLED, "train.sampled_classes": 512}),
    "sampled-2048": ("sampled softmax, 2048 candidates", {**SAMPLED, "train.sampled_classes": 2048}),
    "tied": ("tied embeddings, full softmax", {**FULL, "model.tie_embeddings": True}),
    "tied-sampled-512": ("tied, sampled softmax 512", TIED_SAMPLED),
    "tied-sampled-512-units-256": ("tied, sampled 512, LSTM 256 (the default config)",
                                   {**TIED_SAMPLED, "model.units": 256}),
    "tied-sampled-512-layers-2": ("tied, sampled 512, two LSTMs of 128", {**TIED_SAMPLED, "model.layers": 2}),
    "default": ("the config as it is", {}),
    "loop": ("the config with Keras's while loop, not unrolled", {"train.unroll": False}),
    # The sampled, tied default's schedule and regularization, re-tuned at equal time.
    "plateau-1": ("the learning rate halved after 1 epoch without a better held-out loss (not 2)",
                  {"train.reduce_lr_patience": 1}),
    "lr-0.005": ("learning rate 0.005", {"train.learning_rate": 0.005}),
    "lr-0.02": ("learning rate 0.02", {"train.learning_rate": 0.02}),
    "decay-0.9": ("the learning rate times 0.9 after every epoch", {"train.lr_decay": 0.9}),
    "decay-0.8": ("the learning rate times 0.8 after every epoch", {"train.lr_decay": 0.8}),
    "lr-0.02-decay-0.8": ("learning rate 0.02, times 0.8 after every epoch",
                          {"train.learning_rate": 0.02, "train.lr_decay": 0.8}),
    "dropout-0.1": ("dropout 0.1", {"model.dropout": 0.1}),
    "clip-0.25": ("gradients clipped to norm 0.25", {"train.clipnorm": 0.25}),
    "dropout-0.3": ("dropout 0.3", {"model.dropout": 0.3}),
    "locked": ("locked dropout 0.3 and word dropout 0.1", {"model.dropout": 0.3, "model.locked_dropout": True,
                                                          "model.embedding_dropout": 0.1}),
    "layers-2": ("two LSTMs of 256", {"model.layers": 2}),
    # Larger batches use the cores better (benchmarks/step_profile.py); the rate grows as its square root.
    "batch-32": ("batch 32, learning rate 0.01 (the default before batch 64)",
                 {"train.batch_size": 32, "train.learning_rate": 0.01}),
    "batch-32-loop": ("batch 32, learning rate 0.01, Keras's while loop (the default before train.unroll)",
                      {"train.batch_size": 32, "train.learning_rate": 0.01, "train.unroll": False}),
    "batch-64": ("batch 64, learning rate 0.014", {"train.batch_size": 64, "train.learning_rate": 0.014}),
    "batch-128": ("batch 128, learning rate 0.02", {"train.batch_size": 128, "train.learning_rate": 0.02}),
    "book": ("book (pad/truncate 200, batch-then-shuffle, unmasked loss, batch 32, lr 0.001)", None),
}
DEFAULT_ARMS = "full,sampled-128,sampled-512,sampled-2048,tied,tied-sampled-512,tied-sampled-512-units-256"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus (.json, .jsonl or .txt)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per arm")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N recipes (0: all)")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"), help="recipegen's config")
    parser.add_argument("--arms", default=DEFAULT_ARMS, help=f"comma-separated, of: {', '.join(ARMS)}")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/training-<data>.json)")
    args = parser.parse_args()
    arms = args.arms.split(",")
    if unknown := [arm for arm in arms if arm not in ARMS]:
        parser.error(f"unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0

    from recipegen.config import load_config
    from recipegen.prepare import prepare_data

    work = Path(tempfile.mkdtemp(prefix="recipegen-bench-"))
    data_path = args.data
    if args.limit:
        recipes = json.loads(args.data.read_text(encoding="utf-8"))[: args.limit]
        data_path = work / f"{args.data.stem}-{args.limit}.json"
        data_path.write_text(json.dumps(recipes))
    base = {"data.path": str(data_path), "train.epochs": 10_000, "train.max_minutes": args.minutes,
            "sample.temperatures": []}
    config = load_config(args.config, base)
    data = prepare_data(config)  # the split and vocabulary every arm trains on (train() adapts the same)
    corpus_name = args.data.stem + (f"[:{args.limit}]" if args.limit else "")

    # The machine's rate for each arm's bare recurrence, measured first: a quick failure, not one after hours.
    bare = {arm: bare_gflops(load_config(args.config, {**base, **ARMS[arm][1]}))
            for arm in arms if ARMS[arm][1] is not None}
    rows = []
    for arm in arms:
        description, overrides = ARMS[arm]
        if overrides is None:
            row = book_arm(config, data, args.minutes)
        else:
            row = recipegen_arm(load_config(args.config, {**base, **overrides}), data, work / arm)
        if overrides is not None:
            arm_config = load_config(args.config, {**base, **overrides})
            row["gflops"] = flops_per_token(arm_config, len(data.vocabulary)) * row["positions_per_s"] / 1e9
            row["bare_gflops"] = bare[arm]
            row["gflops_vs_bare"] = row["gflops"] / row["bare_gflops"]
        rows.append({"arm": arm, "description": description} | row)
        print(f"{arm}: {row['real_tokens_per_s']:,.0f} real tokens/s, {row['epochs']} epochs, "
              f"held-out perplexity {row['heldout_perplexity']:.2f}", flush=True)
    rows.append({"arm": "kneser-ney", "description": "interpolated Kneser-Ney trigram (D = 0.75)"}
                | trigram_row(data))

    reference = rows[0]
    for row in rows:
        row["real_tokens_per_s_vs_first"] = (row["real_tokens_per_s"] / reference["real_tokens_per_s"]
                                             if row["real_tokens_per_s"] else None)
        row["heldout_perplexity_vs_first"] = row["heldout_perplexity"] / reference["heldout_perplexity"]
        row["heldout_perplexity_vs_kneser_ney"] = row["heldout_perplexity"] / rows[-1]["heldout_perplexity"]

    heldout_tokens = rows[-1]["heldout_tokens"]
    print(f"\n{corpus_name}: {len(data.train_sequences)} training recipes, {len(data.heldout_texts)} held out "
          f"({heldout_tokens:,} held-out tokens), vocabulary {len(data.vocabulary):,}, "
          f"budget {args.minutes:g} min per arm, {os.cpu_count()} CPUs; ratios against {reference['arm']}\n")
    print(f"{'arm':<28} {'real tok/s':>10} {'x':>5} {'pos/s':>8} {'GFLOP/s':>7} {'bare':>5} {'epochs':>6} "
          f"{'params':>9} {'ppl':>7} {'x':>5} {'x KN':>5}")

    def fmt(value, spec):
        return format(value, spec) if value is not None else "-"

    for row in rows:
        print(f"{row['arm']:<28} {fmt(row['real_tokens_per_s'], ',.0f'):>10} "
              f"{fmt(row['real_tokens_per_s_vs_first'], '.2f'):>5} {fmt(row['positions_per_s'], ',.0f'):>8} "
              f"{fmt(row.get('gflops'), '.1f'):>7} {fmt(row.get('bare_gflops'), '.0f'):>5} "
              f"{fmt(row['epochs'], 'd'):>6} {fmt(row['parameters'], ',d'):>9} {row['heldout_perplexity']:>7.2f} "
              f"{row['heldout_perplexity_vs_first']:>5.2f} {row['heldout_perplexity_vs_kneser_ney']:>5.2f}")

    out = args.out or (Path("benchmarks/results")
                       / f"training-{args.data.stem}{f'-{args.limit}' if args.limit else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"corpus": str(args.data), "limit": args.limit, "minutes": args.minutes,
                               "config": str(args.config), "rows": rows, "heldout_tokens": heldout_tokens,
                               "train_recipes": len(data.train_sequences), "cpu_count": os.cpu_count()},
                              indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def bare_gflops(config) -> float:
    """This machine's rate on a bare LSTM recurrence of the config's batch, window and widths (forward products)."""
    from step_profile import bare_recurrence

    batch, length = config.train.batch_size, config.data.sequence_length
    seconds = bare_recurrence(batch, length, config.model.embedding_dim, config.model.units, jit=False)
    per_step = 2 * (config.model.embedding_dim * 4 * config.model.units + config.model.units * 4 * config.model.units)
    return batch * length * per_step / seconds / 1e9


def recipegen_arm(config, data, run_dir: Path) -> dict:
    """``recipegen train`` as the arm's config says, then its kept model scored with the full softmax."""
    from recipegen.evaluate import Scorer
    from recipegen.pipeline import batches_dataset, count_targets, epoch_windows, recipe_batches
    from recipegen.run import load_run
    from recipegen.train import train

    started = time.perf_counter()
    result = train(config, run_dir, verbose=False)
    wall = time.perf_counter() - started
    run = load_run(run_dir)
    assert run.vocabulary == data.vocabulary, "every arm must train on the same vocabulary"
    history = json.loads((run_dir / "state.json").read_text())["history"]
    step_seconds = sum(row["seconds"] for row in history)
    positions = real = 0
    for epoch in range(len(history)):
        windows = epoch_windows(data.train_sequences, config.data.sequence_length, config.data.pipeline,
                                (config.seed, epoch))
        positions += windows.shape[0] * (windows.shape[1] - 1)
        real += count_targets(windows)
    score = Scorer(run.model)(batches_dataset(recipe_batches(data.heldout_sequences, 64)))
    return {"real_tokens_per_s": real / step_seconds, "positions_per_s": positions / step_seconds,
            "heldout_perplexity": score.perplexity, "heldout_tokens": score.tokens, "epochs": len(history),
            "best_epoch": result.metrics["best_epoch"], "parameters": result.metrics["parameters"],
            "train_seconds": step_seconds, "wall_seconds": wall}


def book_arm(config, data, minutes: float) -> dict:
    import keras
    import tensorflow as tf

    from recipegen.evaluate import Scorer
    from recipegen.model import build_model
    from recipegen.pipeline import batches_dataset, count_targets, pad_windows, recipe_batches

    keras.utils.set_random_seed(config.seed)
    book_windows = pad_windows(data.train_sequences, BOOK_SEQUENCE_LENGTH)
    book_data = (tf.data.Dataset.from_tensor_slices(book_windows).batch(32).shuffle(1000, seed=config.seed)
                 .map(lambda b: (b[:, :-1], b[:, 1:])).prefetch(tf.data.AUTOTUNE))
    book_model = build_model(dataclasses.replace(config.model, dropout=0.0, tie_embeddings=False),
                             len(data.vocabulary))
    book_model.compile(optimizer=keras.optimizers.Adam(0.001),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # padding counted
    epoch_seconds: list[float] = []

    class Budget(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.start)
            if sum(epoch_seconds) >= minutes * 60:
                self.model.stop_training = True

    started = time.perf_counter()
    book_model.fit(book_data, epochs=10_000, callbacks=[Budget()], verbose=0, shuffle=False)  # tf.data shuffles
    wall = time.perf_counter() - started
    epochs = len(epoch_seconds)
    score = Scorer(book_model)(batches_dataset(recipe_batches(data.heldout_sequences, 64)))
    return {"real_tokens_per_s": count_targets(book_windows) * epochs / sum(epoch_seconds),
            "positions_per_s": book_windows.shape[0] * (book_windows.shape[1] - 1) * epochs / sum(epoch_seconds),
            "heldout_perplexity": score.perplexity, "heldout_tokens": score.tokens, "epochs": epochs,
            "best_epoch": None, "parameters": int(book_model.count_params()), "train_seconds": sum(epoch_seconds),
            "wall_seconds": wall}


def trigram_row(data) -> dict:
    from recipegen.ngram import KneserNeyTrigram
    started = time.perf_counter()
    trigram = KneserNeyTrigram(data.train_sequences, vocab_size=len(data.vocabulary) - 1)
    score = trigram.score(data.heldout_sequences)
    seconds = time.perf_counter() - started
    return {"real_tokens_per_s": None, "positions_per_s": None, "heldout_perplexity": score.perplexity,
            "heldout_tokens": score.tokens, "epochs": None, "best_epoch": None, "parameters": None,
            "train_seconds": seconds, "wall_seconds": seconds}


if __name__ == "__main__":
    sys.exit(main())
