"""Training throughput and quality: the book's pipeline against recipegen's, on one corpus, in one run.

    python benchmarks/training.py DATA.json [--minutes 10] [--limit N] [--config configs/default.toml]
                                  [--out benchmarks/results/training-NAME.json]

Both arms get the same training recipes, the same vocabulary (adapted once, on the training
recipes), the same architecture (the config's model section) and the same training-time budget
(whole epochs; the epoch during which the budget runs out is finished). Both are then scored on
the same held-out recipes with the same masked perplexity (every token after a recipe's first,
padding never counted).

- book: every recipe truncated to 201 tokens and padded, batched *then* shuffled (a buffer of
  1,000 batches, as the notebook), loss counting padding as targets, batch 32, Adam 0.001.
- recipegen: ``recipegen.train.train`` with the config as given (its pipeline, batch size,
  learning rate, dropout, clipping and plateau rules), time limit set to the budget.
- Kneser-Ney: an interpolated trigram on the same training token ids.

Real tokens/s counts non-padding targets trained per second of training steps; positions/s
counts every position the model computed. A missing DATA file is skipped with a message.
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

BOOK_SEQUENCE_LENGTH = 200  # the notebook's MAX_LEN, whatever the config says


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus (.json, .jsonl or .txt)")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per arm")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N recipes (0: all)")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"), help="recipegen's config")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/training-<data>.json)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0

    import keras
    import numpy as np
    import tensorflow as tf

    from recipegen.config import load_config
    from recipegen.evaluate import Scorer
    from recipegen.model import build_model
    from recipegen.ngram import KneserNeyTrigram
    from recipegen.pipeline import PAD_ID, count_targets, epoch_windows, make_dataset, pad_windows
    from recipegen.prepare import prepare_data
    from recipegen.run import load_run
    from recipegen.train import train

    work = Path(tempfile.mkdtemp(prefix="recipegen-bench-"))
    data_path = args.data
    if args.limit:
        recipes = json.loads(args.data.read_text(encoding="utf-8"))[: args.limit]
        data_path = work / f"{args.data.stem}-{args.limit}.json"
        data_path.write_text(json.dumps(recipes))
    config = load_config(args.config, {"data.path": str(data_path), "train.epochs": 10_000,
                                       "train.max_minutes": args.minutes, "sample.temperatures": []})
    corpus_name = args.data.stem + (f"[:{args.limit}]" if args.limit else "")
    rows = []

    # --- recipegen's own training, exactly as `recipegen train` runs it --------------------------
    started = time.perf_counter()
    result = train(config, work / "ours", verbose=False)
    wall = time.perf_counter() - started
    run = load_run(work / "ours")
    history = json.loads((work / "ours" / "state.json").read_text())["history"]
    step_seconds = sum(row["seconds"] for row in history)
    data = prepare_data(config, vocabulary=run.vocabulary)

    positions = real = 0
    for epoch in range(len(history)):
        windows = epoch_windows(data.train_sequences, config.data.sequence_length, config.data.pipeline,
                                (config.seed, epoch))
        positions += windows.shape[0] * (windows.shape[1] - 1)
        real += count_targets(windows)
    heldout = make_dataset(data.heldout_windows, 64)
    final_ours = Scorer(run.model)(heldout)  # the best epoch's model, as saved
    rows.append({"pipeline": f"recipegen ({args.config.name}: {config.data.pipeline}, batch {config.train.batch_size}, "
                             f"lr {config.train.learning_rate:g}, dropout {config.model.dropout:g})",
                 "real_tokens_per_s": real / step_seconds, "positions_per_s": positions / step_seconds,
                 "heldout_perplexity": final_ours.perplexity, "epochs": len(history),
                 "train_seconds": step_seconds, "wall_seconds": wall, "best_epoch": result.metrics["best_epoch"]})

    # --- the book's pipeline ----------------------------------------------------------------------
    keras.utils.set_random_seed(config.seed)
    book_windows = pad_windows(data.train_sequences, BOOK_SEQUENCE_LENGTH)
    book_data = (tf.data.Dataset.from_tensor_slices(book_windows).batch(32).shuffle(1000, seed=config.seed)
                 .map(lambda b: (b[:, :-1], b[:, 1:])).prefetch(tf.data.AUTOTUNE))
    book_model = build_model(dataclasses.replace(config.model, dropout=0.0), len(run.vocabulary))
    book_model.compile(optimizer=keras.optimizers.Adam(0.001),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # padding counted
    epoch_seconds: list[float] = []

    class Budget(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.start)
            if sum(epoch_seconds) >= args.minutes * 60:
                self.model.stop_training = True

    started = time.perf_counter()
    book_model.fit(book_data, epochs=10_000, callbacks=[Budget()], verbose=0, shuffle=False)  # tf.data shuffles
    wall = time.perf_counter() - started
    epochs = len(epoch_seconds)
    book_score = Scorer(book_model)(heldout)
    rows.append({"pipeline": "book (pad/truncate 200, batch-then-shuffle, unmasked loss, batch 32, lr 0.001)",
                 "real_tokens_per_s": count_targets(book_windows) * epochs / sum(epoch_seconds),
                 "positions_per_s": book_windows.shape[0] * (book_windows.shape[1] - 1) * epochs / sum(epoch_seconds),
                 "heldout_perplexity": book_score.perplexity, "epochs": epochs,
                 "train_seconds": sum(epoch_seconds), "wall_seconds": wall, "best_epoch": None})

    # --- Kneser-Ney trigram -------------------------------------------------------------------------
    started = time.perf_counter()
    trigram = KneserNeyTrigram(data.train_sequences, vocab_size=len(run.vocabulary) - 1)
    heldout_sequences = [row[: np.count_nonzero(row != PAD_ID)] for row in data.heldout_windows]
    kn_score = trigram.score(heldout_sequences)
    assert kn_score.tokens == final_ours.tokens, (kn_score.tokens, final_ours.tokens)
    rows.append({"pipeline": "interpolated Kneser-Ney trigram (D = 0.75)", "real_tokens_per_s": None,
                 "positions_per_s": None, "heldout_perplexity": kn_score.perplexity, "epochs": None,
                 "train_seconds": time.perf_counter() - started, "wall_seconds": time.perf_counter() - started,
                 "best_epoch": None})

    ours, book, kn = rows
    print(f"\n{corpus_name}: {len(data.train_sequences)} training recipes, {len(data.heldout_texts)} held out "
          f"({final_ours.tokens:,} held-out tokens), vocabulary {len(run.vocabulary):,}, "
          f"{config.model.cell.upper()} {config.model.layers}x{config.model.units}, "
          f"budget {args.minutes:g} min per arm\n")
    print(f"{'pipeline':<82} {'real tok/s':>10} {'pos/s':>8} {'held-out ppl':>12} {'epochs':>6} {'train s':>8}")
    def fmt(value, spec):
        return format(value, spec) if value is not None else "-"

    for row in rows:
        print(f"{row['pipeline']:<82} {fmt(row['real_tokens_per_s'], ',.0f'):>10} "
              f"{fmt(row['positions_per_s'], ',.0f'):>8} "
              f"{row['heldout_perplexity']:>12.2f} {fmt(row['epochs'], 'd'):>6} {row['train_seconds']:>8.0f}")
    ratios = {
        "real_tokens_per_s_vs_book": ours["real_tokens_per_s"] / book["real_tokens_per_s"],
        "heldout_perplexity_vs_book": ours["heldout_perplexity"] / book["heldout_perplexity"],
        "heldout_perplexity_vs_kneser_ney": ours["heldout_perplexity"] / kn["heldout_perplexity"],
        "book_perplexity_vs_kneser_ney": book["heldout_perplexity"] / kn["heldout_perplexity"],
    }
    print()
    for name, value in ratios.items():
        print(f"{name:<36} {value:.2f}")

    out = args.out or (Path("benchmarks/results")
                       / f"training-{args.data.stem}{f'-{args.limit}' if args.limit else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"corpus": str(args.data), "limit": args.limit, "minutes": args.minutes,
                               "config": str(args.config), "rows": rows, "ratios": ratios,
                               "heldout_tokens": final_ours.tokens, "cpu_count": os.cpu_count()}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
