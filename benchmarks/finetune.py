"""Fine-tuning a small collection from a big base run against training it from scratch, at equal
training time; and writing many recipes with ``generate --jsonl``.

    python benchmarks/finetune.py BIG.json SMALL.json [--base-minutes 30] [--base RUN_DIR]
                                  [--recipes 250] [--minutes 5] [--samples 32] [--skip-jsonl]
                                  [--out benchmarks/results/finetune.json]

1. The base: ``recipegen train --data BIG.json --set train.max_minutes=BASE_MINUTES`` with the
   default config (its own 20% held out), unless ``--base`` names a finished run to reuse.
2. The small collection: ``--recipes`` recipes drawn at random (seed 0) from SMALL.json, written to
   a file of their own; every arm splits it the same way (the config's seed and 20% held out), so
   every arm is scored on the same held-out recipes.
3. The arms, each with the default config, a budget of ``--minutes`` of training (the default's
   early stopping may end it sooner; the seconds used are reported), and no samples during training:
   - scratch: ``recipegen train --data small.json``, its vocabulary adapted on the small collection;
   - scratch-base-vocabulary: the same with the base's vocabulary but fresh weights, so its
     perplexity counts exactly the tokens the fine-tuned arms count (scores over different
     vocabularies are not comparable: a smaller one reads more rare words as one [UNK]);
   - finetune: ``recipegen train --init-from BASE --data small.json``;
   - finetune-lr-0.001: the same with ``--set train.learning_rate=0.001``.
   Each is scored on the held-out recipes (``recipegen evaluate``) and measured with
   ``evaluate --samples`` at temperature 0.5 beside real held-out recipes.
4. ``generate --jsonl`` on the base run (skip with ``--skip-jsonl``), with the run's decoding
   settings: the tokens/s of 1,000 recipes decoded a batch of 32 at a time and dropped, against
   the same batches (same seeds) written by ``generate --jsonl``'s own writer, and against the whole
   command run in-process (loading the run and tracing the decoder included), in three alternated
   rounds (medians, and each round's ratios); recipes per second
   of ``recipegen generate -n 1000 --jsonl`` against ``recipegen generate -n 32`` run four times,
   as processes; and the peak memory
   (max RSS) of ``recipegen generate --max-tokens 20 --jsonl`` at ``-n`` 1,000, 10,000 and 100,000.

A missing corpus is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECIPEGEN = [sys.executable, "-m", "recipegen"]  # the command, from this Python's environment
ARMS = {  # name: (what it is, starts from the base's weights, the base's vocabulary, overrides)
    "scratch": ("from scratch, its own vocabulary", False, False, {}),
    "scratch-base-vocabulary": ("from scratch, the base's vocabulary", False, True, {}),
    "finetune": ("fine-tuned from the base, the default training settings", True, True, {}),
    "finetune-lr-0.001": ("fine-tuned, learning rate 0.001", True, True, {"train.learning_rate": 0.001}),
}
SAMPLE_TEMPERATURE = 0.5
JSONL_BATCH = 32
JSONL_ROUNDS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("big", type=Path, help="the base's corpus")
    parser.add_argument("small", type=Path, help="the corpus the small collection is drawn from")
    parser.add_argument("--base", type=Path, help="a finished base run to reuse instead of training one")
    parser.add_argument("--base-minutes", type=float, default=30.0, help="the base's training budget")
    parser.add_argument("--recipes", type=int, default=250, help="recipes in the small collection (20%% held out)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per arm")
    parser.add_argument("--samples", type=int, default=32, help="samples measured per arm (evaluate --samples)")
    parser.add_argument("--config", type=Path, default=Path("configs/default.toml"))
    parser.add_argument("--skip-jsonl", action="store_true", help="only the fine-tuning arms")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/finetune.json"))
    args = parser.parse_args()
    for corpus in (args.big, args.small):
        if not corpus.is_file():
            print(f"skipped: {corpus} not found (the benchmark corpora live in ../shared/data/)")
            return 0

    from recipegen.config import load_config, load_run_config
    from recipegen.train import train

    work = Path(tempfile.mkdtemp(prefix="recipegen-bench-"))
    base_dir = args.base
    base_seconds = None
    if base_dir is None:
        base_dir = work / "base"
        started = time.perf_counter()
        train(load_config(args.config, {"data.path": str(args.big), "train.max_minutes": args.base_minutes}),
              base_dir, verbose=False)
        base_seconds = time.perf_counter() - started
    base_metrics = json.loads((base_dir / "metrics.json").read_text())
    print(f"base {base_dir}: {base_metrics['epochs']} epochs, {base_metrics['train_seconds']:.0f} s of training, "
          f"held-out perplexity {base_metrics['val_perplexity']:.2f} on {base_metrics['corpus']}", flush=True)

    recipes = json.loads(args.small.read_text(encoding="utf-8"))
    small = work / f"{args.small.stem}-{args.recipes}.json"
    small.write_text(json.dumps(random.Random(0).sample(recipes, args.recipes)))

    settings = {"data.path": str(small), "train.epochs": 10_000, "train.max_minutes": args.minutes,
                "sample.temperatures": []}
    rows = []
    for arm, (description, from_base, base_vocabulary, overrides) in ARMS.items():
        config = load_config(args.config, {**settings, **overrides})
        rows.append({"arm": arm, "description": description}
                    | run_arm(config, base_dir, work / arm, from_base, base_vocabulary, args.samples))
        row = rows[-1]
        print(f"{arm}: {row['epochs']} epochs ({row['train_seconds']:.0f} s), held-out perplexity "
              f"{row['heldout_perplexity']:.2f}, [UNK] {row['heldout_unknown_share']:.1%} of held-out tokens",
              flush=True)
    by_arm = {row["arm"]: row for row in rows}
    untuned = base_on(base_dir, work / "finetune")
    print(f"the base alone, not fine-tuned: held-out perplexity {untuned:.2f}", flush=True)
    for row in rows:
        for reference in ("scratch", "scratch-base-vocabulary"):
            row[f"perplexity_vs_{reference}"] = row["heldout_perplexity"] / by_arm[reference]["heldout_perplexity"]

    print(f"\n{args.recipes} recipes of {args.small.name} ({rows[0]['train_recipes']} training, "
          f"{rows[0]['heldout_recipes']} held out); budget {args.minutes:g} min per arm; "
          f"base: {base_metrics['epochs']} epochs on {Path(base_metrics['corpus']).name}; {os.cpu_count()} CPUs\n")
    measures = ["ended", "well_formed", "distinct_2", "repeated_4grams", "title_foods_used"]
    print(f"{'arm':<26} {'epochs':>6} {'train s':>7} {'vocab':>6} {'[UNK]':>6} {'ppl':>7} {'x scr':>5} "
          f"{'x scr-bv':>8}  " + "  ".join(f"{m:>10}" for m in measures))
    for row in rows + [{"arm": "real held-out", **{m: rows[0]["real"][m] for m in measures}}]:
        cells = "  ".join(f"{row[m]:>10.3f}" for m in measures)
        if row["arm"] == "real held-out":
            print(f"{row['arm']:<26} {'':>6} {'':>7} {'':>6} {'':>6} {'':>7} {'':>5} {'':>8}  {cells}")
            continue
        print(f"{row['arm']:<26} {row['epochs']:>6} {row['train_seconds']:>7.0f} {row['vocabulary']:>6,} "
              f"{row['heldout_unknown_share']:>6.1%} {row['heldout_perplexity']:>7.2f} "
              f"{row['perplexity_vs_scratch']:>5.2f} {row['perplexity_vs_scratch-base-vocabulary']:>8.2f}  {cells}")

    jsonl = None if args.skip_jsonl else jsonl_rows(base_dir, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "big": str(args.big), "small": str(args.small), "recipes": args.recipes, "minutes": args.minutes,
        "base": {"run": str(base_dir), "budget_minutes": load_run_config(base_dir / "config.toml").train.max_minutes,
                 "wall_seconds": base_seconds, **base_metrics},
        "base_alone_heldout_perplexity": untuned, "sample_temperature": SAMPLE_TEMPERATURE,
        "samples": args.samples, "rows": rows, "jsonl": jsonl,
        "cpu_count": os.cpu_count()}, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def run_arm(config, base_dir: Path, run_dir: Path, from_base: bool, base_vocabulary: bool, samples: int) -> dict:
    """Train one arm as ``recipegen train`` would, then ``evaluate --samples`` it."""
    import numpy as np

    from recipegen import train as training
    from recipegen.evaluate import evaluate_run
    from recipegen.finetune import based_config, read_base
    from recipegen.info import heldout_targets

    base = read_base(base_dir) if base_vocabulary else None
    if base is not None:
        config = based_config(base, config, ())
    start_from = training._start_from
    if base is not None and not from_base:
        training._start_from = lambda model, base: None  # the base's vocabulary, fresh weights
    try:
        result = training.train(config, run_dir, verbose=False, base=base)
    finally:
        training._start_from = start_from
    history = json.loads((run_dir / "state.json").read_text())["history"]
    evaluation = evaluate_run(run_dir, samples=samples, temperatures=(SAMPLE_TEMPERATURE,))
    with np.load(run_dir / "tokens.npz") as arrays:
        targets = heldout_targets(arrays)
    measured = evaluation["samples"]
    return {"epochs": len(history), "best_epoch": result.metrics["best_epoch"],
            "train_seconds": sum(row["seconds"] for row in history),
            "train_recipes": result.metrics["train_recipes"], "heldout_recipes": result.metrics["heldout_recipes"],
            "vocabulary": result.metrics["vocab_size"], "heldout_tokens": evaluation["tokens"],
            "heldout_unknown_share": float(np.mean(targets == 1)), "heldout_perplexity": evaluation["perplexity"],
            "first_epoch_val_perplexity": history[0]["val_perplexity"],
            **measured["by_temperature"][0], "real": measured["real"]}


def base_on(base_dir: Path, run_dir: Path) -> float:
    """The base's own perplexity on a run's held-out recipes: where fine-tuning starts."""
    from recipegen.evaluate import score_texts
    from recipegen.run import load_run, read_heldout

    base = load_run(base_dir)
    return score_texts(base.model, base.vocabulary, read_heldout(run_dir), base.config.train.batch_size,
                       base.tokenizer).perplexity


def jsonl_rows(base_dir: Path, work: Path) -> dict:
    """Throughput of --jsonl against one batch, in-process and as processes; its peak memory by -n."""
    import contextlib
    import io

    from recipegen.cli import run_command
    from recipegen.generation.generator import Generator
    from recipegen.generation.settings import configured_decoding
    from recipegen.jsonl import write_jsonl
    from recipegen.run import load_run

    run = load_run(base_dir)
    generator = Generator.from_run(run)
    decoding = configured_decoding(run.config.sample)  # what generate uses: the run's steering
    generator.generate(n=JSONL_BATCH, seed=0, decoding=decoding)  # traced
    target = work / "recipes.jsonl"

    def decoded() -> tuple[float, int]:
        """The batches --jsonl writes (same seeds, so the same recipes), decoded and dropped. A batch
        lasts as long as its longest recipe, so other seeds would give other rates."""
        started = time.perf_counter()
        tokens = sum(len(sample.tokens) for generation in
                     generator.generate_batches(n=1000, batch_size=JSONL_BATCH, seed=1, decoding=decoding)
                     for sample in generation.samples)
        return time.perf_counter() - started, tokens

    def written() -> tuple[float, int]:
        """The same batches through the command's own writer, into a file."""
        started = time.perf_counter()
        write_jsonl(target, generator.generate_batches(n=1000, batch_size=JSONL_BATCH, seed=1, decoding=decoding),
                    1000, run.foods())
        return time.perf_counter() - started, tokens_in(target)

    def command_line() -> tuple[float, int]:
        """The whole command in this process: loading the run and tracing the decoder included."""
        started = time.perf_counter()
        assert run_command(["generate", "--model", str(base_dir), "-n", "1000", "--jsonl", str(target),
                            "--seed", "1"]) == 0
        return time.perf_counter() - started, tokens_in(target)

    def tokens_in(path: Path) -> int:
        return sum(json.loads(line)["tokens"] for line in path.read_text().splitlines())

    rounds = []  # alternated, so that the machine's slow minutes fall on every kind alike
    with contextlib.redirect_stderr(io.StringIO()):  # the progress line
        for _ in range(JSONL_ROUNDS):
            rates = {name: tokens / seconds for name, (seconds, tokens) in
                     (("decoded", decoded()), ("writer", written()), ("command", command_line()))}
            rounds.append(rates | {"writer_ratio": rates["writer"] / rates["decoded"],
                                   "command_ratio": rates["command"] / rates["decoded"]})
    one_batch, writer, command = (statistics.median(r[name] for r in rounds) for name in ("decoded", "writer",
                                                                                           "command"))
    writer_ratio, command_ratio = (statistics.median(r[name] for r in rounds) for name in ("writer_ratio",
                                                                                          "command_ratio"))
    each = {name: ", ".join(f"{r[name]:.2f}" for r in rounds) for name in ("writer_ratio", "command_ratio")}
    print(f"\nmedians of {JSONL_ROUNDS} rounds: batches of {JSONL_BATCH} decoded, nothing written: {one_batch:,.0f} "
          f"tokens/s; --jsonl -n 1000 (the command's writer, same generator): {writer:,.0f} tokens/s "
          f"({writer_ratio:.2f}x; rounds: {each['writer_ratio']}); the whole command in-process (loading and "
          f"tracing included): {command:,.0f} tokens/s ({command_ratio:.2f}x; rounds: {each['command_ratio']})",
          flush=True)

    def process(*arguments: str) -> tuple[float, int, int]:
        """Wall seconds, peak RSS and the last RSS read before it ended (KiB) of one recipegen process.

        The peak is often reached while starting (TensorFlow, the model, tracing); the RSS read every
        0.2 s until the end shows whether the decoding that follows grows."""
        started = time.perf_counter()
        child = subprocess.Popen([*RECIPEGEN, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        last = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(OSError):
                status_lines = Path(f"/proc/{child.pid}/status").read_text().splitlines()
                last = next((int(line.split()[1]) for line in status_lines if line.startswith("VmRSS:")), last)
            time.sleep(0.2)
        assert os.waitstatus_to_exitcode(status) == 0, arguments
        return time.perf_counter() - started, usage.ru_maxrss, last

    file_seconds = process("generate", "--model", str(base_dir), "-n", "1000", "--jsonl", str(target), "--seed", "2")[0]
    repeated = [process("generate", "--model", str(base_dir), "-n", "32", "--json", "--seed", str(seed))[0]
                for seed in range(4)]
    per_recipe_file, per_recipe_repeated = 1000 / file_seconds, 32 * len(repeated) / sum(repeated)
    print(f"recipegen generate -n 1000 --jsonl: {per_recipe_file:.1f} recipes/s; -n 32 four times: "
          f"{per_recipe_repeated:.1f} recipes/s ({per_recipe_file / per_recipe_repeated:.1f}x)", flush=True)

    memory = []
    for count in (1_000, 10_000, 100_000):
        wall, peak, last = process("generate", "--model", str(base_dir), "-n", str(count), "--max-tokens", "20",
                             "--jsonl", str(target), "--seed", "3")
        memory.append({"n": count, "max_tokens": 20, "wall_seconds": wall, "peak_rss_mib": peak / 1024,
                       "last_rss_mib": last / 1024})
        print(f"-n {count:,} --max-tokens 20: peak RSS {peak / 1024:,.0f} MiB, RSS at the end {last / 1024:,.0f} MiB, "
              f"{wall:.0f} s", flush=True)
    return {"batch": JSONL_BATCH, "one_batch_tokens_per_s": one_batch, "jsonl_1000_tokens_per_s": writer,
            "ratio": writer_ratio, "command_in_process_tokens_per_s": command,
            "command_in_process_ratio": command_ratio,
            "rounds": rounds,
            "cli_jsonl_1000_recipes_per_s": per_recipe_file,
            "cli_n32_repeated_recipes_per_s": per_recipe_repeated, "cli_n32_runs": len(repeated),
            "memory": memory}


if __name__ == "__main__":
    sys.exit(main())
