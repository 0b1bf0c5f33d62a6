"""Whole-recipe context in training: three ways to lay a corpus out in batches, at equal training time.

    python benchmarks/context.py DATA.json [--minutes 5] [--limit N] [--config configs/default.toml]
                                 [--arms windows,carried,recipes] [--out benchmarks/results/context-NAME.json]

Every arm trains the config's model (sampled softmax, Adam with its learning rate and clipping,
the rate halved after an epoch without a better held-out loss) in the same small loop, on the
same training recipes and vocabulary, for the same time spent in training steps; only the layout
of the data and what happens to the recurrent state between batches differ:

- ``windows``: the ``pack`` pipeline: recipes end to end, cut into windows of ``--window``
  tokens, shuffled; every window starts from a zero state (recipegen's default before this).
- ``carried``: truncated backpropagation over parallel streams (char-rnn, AWD-LSTM): the epoch's
  recipes, shuffled, end to end in ``batch_size`` streams read side by side, window after
  window, the state carried from each window to the next (gradients stop at the window's edge).
- ``recipes``: the ``recipes`` pipeline: each recipe whole, from a zero state, in batches of
  recipes of about the same length (gradients through the whole recipe).

Each arm's best epoch is scored on whole held-out recipes with the state carried through each
(evaluate.Scorer, what ``generate`` uses), and by position in the recipe, so the table shows where
the context pays. A missing DATA file is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ARMS = {
    "windows": "pack: windows of recipes end to end, shuffled, each from a zero state",
    "carried": "parallel streams, state carried from window to window (truncated BPTT)",
    "recipes": "whole recipes from a zero state, batched by length",
}
POSITIONS = (0, 100, 200, 400)  # where each reported stretch of a recipe starts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus (.json, .jsonl or .txt)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per arm")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N recipes (0: all)")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"), help="the model and optimizer")
    parser.add_argument("--window", type=int, default=100, help="window length of the windows and carried arms")
    parser.add_argument("--longest", type=int, default=1000, help="longest piece of the recipes arm")
    parser.add_argument("--recipe-batch", type=int, default=0,
                        help="recipes per batch in the recipes arm (default: the config's batch size); with fewer, "
                             "a step reads about as many tokens as a batch of windows")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/context-<data>.json)")
    args = parser.parse_args()
    arms = args.arms.split(",")
    if unknown := [arm for arm in arms if arm not in ARMS]:
        parser.error(f"unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0

    from recipegen.config import load_config
    from recipegen.prepare import prepare_data

    data_path = args.data
    if args.limit:
        recipes = json.loads(args.data.read_text(encoding="utf-8"))[: args.limit]
        data_path = Path(tempfile.mkdtemp(prefix="recipegen-context-")) / f"{args.data.stem}-{args.limit}.json"
        data_path.write_text(json.dumps(recipes))
    config = load_config(args.config, {"data.path": str(data_path)})
    data = prepare_data(config)
    corpus_name = args.data.stem + (f"[:{args.limit}]" if args.limit else "")

    rows = []
    for arm in arms:
        row = {"arm": arm, "description": ARMS[arm]} | train_arm(arm, config, data, args)
        rows.append(row)
        print(f"{arm}: {row['epochs']} epochs, {row['tokens_per_s']:,.0f} tokens/s, held-out perplexity "
              f"{row['perplexity']:.2f} (whole recipes)", flush=True)

    first = rows[0]
    print(f"\n{corpus_name}: {len(data.train_sequences)} training recipes, {len(data.heldout_sequences)} held out, "
          f"{config.model.cell.upper()} {config.model.units}, batch {config.train.batch_size}, "
          f"{args.minutes:g} min of training steps per arm, {os.cpu_count()} CPUs; ratios against {first['arm']}\n")
    stretches = [f"{start}-{end - 1}" if end else f"{start}+" for start, end in
                 zip(POSITIONS, (*POSITIONS[1:], None))]
    print(f"{'arm':<9} {'epochs':>6} {'tok/s':>7} {'ppl':>7} {'x':>5} " + " ".join(f"{s:>8}" for s in stretches))
    for row in rows:
        by_position = " ".join(f"{row['perplexity_by_position'][s]:>8.2f}" for s in stretches)
        print(f"{row['arm']:<9} {row['epochs']:>6} {row['tokens_per_s']:>7,.0f} {row['perplexity']:>7.2f} "
              f"{row['perplexity'] / first['perplexity']:>5.2f} {by_position}")
    name = args.data.stem + (f"-{args.limit}" if args.limit else "")
    out = args.out or Path("benchmarks/results") / f"context-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"corpus": str(args.data), "limit": args.limit, "minutes": args.minutes,
                               "config": str(args.config), "window": args.window, "longest": args.longest,
                               "cpu_count": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def epoch_batches(arm: str, sequences, batch_size: int, window: int, longest: int, seed) -> list:
    """The epoch's batches of token ids, each a list of rows, in the order they are trained."""
    import numpy as np

    from recipegen.pipeline import epoch_windows

    if arm == "recipes":
        return recipe_batches_of_epoch(sequences, longest, batch_size, seed)
    if arm == "windows":
        windows = epoch_windows(sequences, window, "pack", seed)
        return [list(windows[start:start + batch_size]) for start in range(0, len(windows), batch_size)]
    rng = np.random.default_rng(seed)
    stream = np.concatenate([sequences[i] for i in rng.permutation(len(sequences))])
    length = (len(stream) - 1) // batch_size  # each stream's share; the last few tokens wait for the next epoch
    streams = np.stack([stream[i * length: (i + 1) * length + 1] for i in range(batch_size)])
    return [list(streams[:, start:start + window + 1]) for start in range(0, length, window)]


def recipe_batches_of_epoch(sequences, longest: int, batch_size: int, seed) -> list:
    """Whole recipes (a longer one cut into pieces of ``longest`` tokens overlapping by one), shuffled,
    sorted by length within pools of 50 batches, batched, and the batches shuffled: each batch
    nearly free of padding, no two epochs alike."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pieces = [ids[start:start + longest + 1] for ids in sequences for start in range(0, max(len(ids) - 1, 1), longest)]
    pieces = [piece for piece in pieces if len(piece) > 1]
    order, pool, batches = rng.permutation(len(pieces)), 50 * batch_size, []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: len(pieces[i]))
        batches += [[pieces[i] for i in chunk[b:b + batch_size]] for b in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train_arm(arm: str, config, data, args) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from recipegen.evaluate import Scorer
    from recipegen.loss import sampled_loss_sum
    from recipegen.model import RecipeModel, Recurrence, build_model, dense_gradients, output_head
    from recipegen.pipeline import batches_dataset, recipe_batches

    keras.utils.set_random_seed(config.seed)
    model: RecipeModel = build_model(config.model, len(data.vocabulary))
    optimizer = keras.optimizers.Adam(config.train.learning_rate, clipnorm=config.train.clipnorm or None)
    optimizer.build(model.trainable_weights)
    recurrence, head = Recurrence(model), output_head(model)
    candidates = config.train.sampled_classes

    @tf.function(reduce_retracing=True)
    def step(inputs, targets, weights, states):
        with tf.GradientTape() as tape:
            features, states = recurrence(inputs, states, training=True)
            loss_sum = sampled_loss_sum(head.kernel, head.bias, head.features(features), targets, weights, candidates,
                                        seed=optimizer.iterations)
            loss = loss_sum / tf.maximum(tf.reduce_sum(weights), 1.0)
        gradients = dense_gradients(tape.gradient(loss, model.trainable_weights))
        optimizer.apply_gradients(zip(gradients, model.trainable_weights))
        return loss, [[tf.stop_gradient(s) for s in layer] for layer in states]

    heldout = batches_dataset(recipe_batches(data.heldout_sequences, 32))
    scorer = Scorer(model)
    best, best_weights, spent, tokens, epochs, history = None, None, 0.0, 0, 0, []
    batch_size = args.recipe_batch if arm == "recipes" and args.recipe_batch else config.train.batch_size
    while spent < args.minutes * 60:
        batches = epoch_batches(arm, data.train_sequences, batch_size, args.window, args.longest, (config.seed, epochs))
        started = time.perf_counter()
        states = None
        for rows in batches:
            width = max(map(len, rows))
            ids = np.zeros((len(rows), width), np.int32)
            for i, row in enumerate(rows):
                ids[i, :len(row)] = row
            inputs, targets = tf.constant(ids[:, :-1]), tf.constant(ids[:, 1:])
            weights = tf.cast(targets != 0, tf.float32)
            if arm != "carried" or states is None:
                states = recurrence.zero_state(len(rows))
            _, states = step(inputs, targets, weights, states)
            tokens += int(np.count_nonzero(ids[:, 1:]))
        spent += time.perf_counter() - started
        epochs += 1
        score = scorer(heldout)
        history.append({"epoch": epochs, "perplexity": score.perplexity, "seconds": spent})
        if best is None or score.loss < best.loss:
            best, best_weights = score, model.get_weights()
        else:
            optimizer.learning_rate.assign(optimizer.learning_rate * config.train.reduce_lr_factor)
    model.set_weights(best_weights)
    return {"batch_size": batch_size, "steps": int(optimizer.iterations), "epochs": epochs,
            "best_epoch": min(history, key=lambda h: h["perplexity"])["epoch"],
            "train_seconds": spent, "tokens_per_s": tokens / spent, "perplexity": best.perplexity,
            "perplexity_by_position": perplexity_by_position(recurrence, data.heldout_sequences), "history": history}


def perplexity_by_position(recurrence, sequences) -> dict[str, float]:
    """Held-out perplexity over stretches of the recipes (tokens 0-99, 100-199, ...), state carried through each."""
    import math

    import numpy as np
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def losses_of(ids):
        features, _ = recurrence(ids[None, :-1], recurrence.zero_state(1))
        return tf.nn.sparse_softmax_cross_entropy_with_logits(ids[None, 1:], recurrence.logits(features))[0]

    edges = (*POSITIONS, 10**9)
    loss = np.zeros(len(POSITIONS))
    count = np.zeros(len(POSITIONS))
    for ids in sequences:
        if len(ids) < 2:
            continue
        losses = losses_of(tf.constant(ids, tf.int32)).numpy()
        for k in range(len(POSITIONS)):
            part = losses[edges[k]:edges[k + 1]]
            loss[k] += part.sum()
            count[k] += part.size
    names = [f"{start}-{end - 1}" if end < 10**9 else f"{start}+" for start, end in zip(edges, edges[1:])]
    return {name: math.exp(loss[k] / count[k]) if count[k] else float("nan") for k, name in enumerate(names)}


if __name__ == "__main__":
    sys.exit(main())
