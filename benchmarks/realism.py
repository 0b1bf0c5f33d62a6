"""Recipes a reader cannot tell from real ones: arms of training and decoding, at equal training time.

    python benchmarks/realism.py DATA.json [--minutes 8] [--limit N] [--arms before,default,...]
                                 [--run ARM=RUN_DIR ...] [--samples 100] [--decodings ARM] [--workdir DIR]
                                 [--out benchmarks/results/realism-NAME.json]

Each arm trains a run with ``recipegen.train.train`` (the config and the arm's overrides, the time
limit set to ``--minutes`` of training steps), or takes a run given with ``--run ARM=RUN_DIR``
(a run trained by an earlier recipegen, say). Then, on the run's held-out recipes:

- whole-recipe held-out perplexity, the state carried through each recipe (what ``generate`` uses);
- at temperatures 0.5 and 1.0, ``--samples`` recipes decoded as the arm says, measured beside as
  many held-out real recipes (``recipegen evaluate --samples``): how well a tf-idf n-gram logistic
  regression tells them apart (cross-validated ROC AUC, realism.py), distinct titles, pooled
  distinct-2, dish drift (foods the directions cook that neither title nor list names), recipes
  that ended, and the share of their 8-grams copied from the training recipes and the longest
  copied run;
- the same classifier on real against real (two sets of held-out recipes): the measure's floor.

``--decodings ARM`` also decodes that arm's run in several ways (title temperature, min-p, top-p)
at fixed training. A missing DATA file is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The default config before this benchmark existed (pack windows of 100, book template, dropout
# between layers, a constant learning rate until a plateau), decoded as `recipegen generate` did:
# 200 tokens at most, the title at the recipe's temperature.
BEFORE = {"data.pipeline": "pack", "data.sequence_length": 100, "data.template": "book", "sample.max_tokens": 300,
          "model.locked_dropout": False, "model.embedding_dropout": 0.0, "model.dropout": 0.2, "model.layers": 1,
          "train.learning_rate": 0.01, "train.lr_decay": 1.0, "sample.title_temperature": 0.0, "sample.min_p": 0.0}
AS_BEFORE = {"title_temperature": 0.0, "min_p": None}
ARMS = {  # name: (what it is, config overrides, decoding overrides, max_tokens: None = the run's own limit)
    "before": ("the default before, decoded as generate did (200 tokens, titles at the recipe's temperature)",
               BEFORE, AS_BEFORE, 200),
    "default": ("the config as it is, decoded as it says", {}, {}, None),
    "book": ("the config with the book template", {"data.template": "book"}, {}, None),
    "full": ("the config with the full template (ingredient lists)", {"data.template": "full"}, {}, None),
}
UNSTEERED = {**AS_BEFORE, "no_repeat_ngram": 0, "ingredient_bias": 0.0, "unlisted_penalty": 0.0}
DECODINGS = {  # name: (temperature, decoding overrides)
    "T=0.5, unsteered": (0.5, UNSTEERED),
    "T=0.5": (0.5, AS_BEFORE),
    "T=0.5, titles at 1.0": (0.5, {"title_temperature": 1.0, "min_p": None}),
    "T=0.7": (0.7, AS_BEFORE),
    "T=0.7, titles at 1.0": (0.7, {"title_temperature": 1.0, "min_p": None}),
    "T=1.0, unsteered": (1.0, UNSTEERED),
    "T=1.0": (1.0, AS_BEFORE),
    "T=1.0, min-p 0.05": (1.0, {"title_temperature": 0.0, "min_p": 0.05}),
    "T=1.0, min-p 0.1": (1.0, {"title_temperature": 0.0, "min_p": 0.1}),
    "T=1.0, top-p 0.9": (1.0, {"title_temperature": 0.0, "min_p": None, "top_p": 0.9}),
}
TEMPERATURES = (0.5, 1.0)
COLUMNS = {  # measure -> column title
    "realism_auc": "AUC", "distinct_titles": "titles", "distinct_2": "dist-2", "dish_drift": "drift",
    "ended": "ended", "mean_tokens": "tokens", "copied_ngrams": "copied", "longest_copied": "longest",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus (.json, .jsonl or .txt)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per arm")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N recipes (0: all)")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"), help="recipegen's config")
    parser.add_argument("--arms", default="before,default", help=f"comma-separated, of: {', '.join(ARMS)}")
    parser.add_argument("--run", action="append", default=[], metavar="ARM=RUN_DIR",
                        help="measure this run as the arm instead of training one (repeatable)")
    parser.add_argument("--samples", type=int, default=100, help="samples per temperature, and real recipes")
    parser.add_argument("--decodings", metavar="ARM", help="also decode this arm's run in each way of DECODINGS")
    parser.add_argument("--workdir", type=Path, help="where trained runs go (default: a temporary directory)")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/realism-<data>.json)")
    args = parser.parse_args()
    arms = args.arms.split(",")
    given = dict(item.split("=", 1) for item in args.run)
    if unknown := [arm for arm in [*arms, *given] if arm not in ARMS]:
        parser.error(f"unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0

    from recipegen.config import load_config

    work = args.workdir or Path(tempfile.mkdtemp(prefix="recipegen-realism-"))
    work.mkdir(parents=True, exist_ok=True)
    data_path = args.data
    if args.limit:
        data_path = work / f"{args.data.stem}-{args.limit}.json"
        if not data_path.is_file():
            data_path.write_text(json.dumps(json.loads(args.data.read_text(encoding="utf-8"))[: args.limit]))
    corpus_name = args.data.stem + (f"[:{args.limit}]" if args.limit else "")
    base = {"data.path": str(data_path), "train.epochs": 10_000, "train.max_minutes": args.minutes}

    rows, runs = [], {}
    for arm in arms:
        description, overrides, decoding, max_tokens = ARMS[arm]
        if arm in given:
            run_dir = Path(given[arm])
        else:
            from recipegen.train import train

            run_dir = work / arm
            train(load_config(args.config, {**base, **overrides}), run_dir, overwrite=True, verbose=False)
        runs[arm] = run_dir
        row = {"arm": arm, "description": description, "run": str(run_dir)} | measure(
            run_dir, TEMPERATURES, decoding, max_tokens, args.samples)
        rows.append(row)
        print(f"{arm}: held-out perplexity {row['perplexity']:.2f} (whole recipes), "
              + ", ".join(f"AUC {m['realism_auc']:.3f} at {m['temperature']:g}" for m in row["by_temperature"]),
              flush=True)
    decodings = []
    if args.decodings:
        for name, (temperature, decoding) in DECODINGS.items():
            measured = measure(runs[args.decodings], (temperature,), decoding, 0, args.samples, score=False)
            decodings.append({"decoding": name} | measured["by_temperature"][0])

    floor = rows[0]["real_vs_real_auc"] if rows else None
    print(f"\n{corpus_name}: budget {args.minutes:g} min of training per arm, {args.samples} samples per "
          f"temperature against as many held-out recipes, {os.cpu_count()} CPUs; real against real: AUC {floor:.3f}\n")
    header = f"{'arm':<24} {'epochs':>6} {'ppl':>6} {'T':>4} " + " ".join(f"{t:>7}" for t in COLUMNS.values())
    print(header)
    for row in rows:
        for measured in row["by_temperature"]:
            print(f"{row['arm']:<24} {row['epochs'] or '-':>6} {row['perplexity']:>6.2f} "
                  f"{measured['temperature']:>4g} " + cells(measured))
        print(f"{'  real (' + row['arm'] + ')':<24} {'':>6} {'':>6} {'':>4} " + cells(row["real"]))
    if decodings:
        print(f"\ndecodings of {args.decodings}:")
        for measured in decodings:
            print(f"{measured['decoding']:<24} " + cells(measured))
    name = args.data.stem + (f"-{args.limit}" if args.limit else "")
    out = args.out or Path("benchmarks/results") / f"realism-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"corpus": str(args.data), "limit": args.limit, "minutes": args.minutes,
                               "config": str(args.config), "samples": args.samples, "cpu_count": os.cpu_count(),
                               "rows": rows, "decodings_of": args.decodings, "decodings": decodings},
                              indent=2, default=str) + "\n")
    print(f"\nwrote {out}")
    return 0


def cells(measured: dict) -> str:
    def cell(name: str) -> str:
        value = measured.get(name)
        if value is None or value != value:
            return f"{'-':>7}"
        if name in ("distinct_titles", "ended", "copied_ngrams"):
            return f"{value:>7.1%}"
        if name in ("mean_tokens", "longest_copied"):
            return f"{value:>7.0f}"
        return f"{value:>7.3f}" if name != "dish_drift" else f"{value:>7.2f}"

    return " ".join(cell(name) for name in COLUMNS)


def measure(run_dir: Path, temperatures, decoding: dict, max_tokens: int | None, count: int,
            score: bool = True) -> dict:
    """Whole-recipe perplexity, and samples at each temperature measured beside real recipes."""
    import dataclasses

    import numpy as np

    from recipegen.evaluate import chosen, measure_run, score_texts
    from recipegen.generation.settings import configured_decoding
    from recipegen.realism import reading, realism
    from recipegen.run import load_run, read_heldout

    run = load_run(run_dir)
    texts = read_heldout(run.path)
    history = json.loads((run.path / "state.json").read_text())["history"]
    result: dict = {"epochs": len(history), "train_seconds": sum(row["seconds"] for row in history),
                    "template": run.template, "pipeline": run.config.data.pipeline}
    if score:
        scored = score_texts(run.model, run.vocabulary, texts, 32, run.tokenizer)
        result |= {"perplexity": scored.perplexity, "heldout_tokens": scored.tokens}
    settings = configured_decoding(run.config.sample, **{k: v for k, v in decoding.items() if k != "top_p"})
    if "top_p" in decoding:
        settings = dataclasses.replace(settings, top_p=decoding["top_p"])
    limit = run.max_tokens() if max_tokens is None else max_tokens or None  # 0: the longest held-out recipe
    measured = measure_run(run, texts, count, temperatures, limit, seed=1, decoding=settings)
    result |= {"max_tokens": measured["max_tokens"], "decoding": measured["decoding"],
               "by_temperature": measured["by_temperature"], "real": measured["real"]}
    if score and len(texts) >= 2 * count:  # two sets of held-out recipes drawn at random, as measure_run draws
        both = [reading(run.tokenizer.tokens(text), run.tokenizer) for text in chosen(texts, 2 * count, seed=2)]
        order = np.random.default_rng(2).permutation(len(both))
        halves = [[both[i] for i in order[:count]], [both[i] for i in order[count:]]]
        result["real_vs_real_auc"] = realism(*halves, seed=1).auc
    return result


if __name__ == "__main__":
    sys.exit(main())
