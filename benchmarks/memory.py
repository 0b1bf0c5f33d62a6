"""Peak memory of training on ever larger corpora, streamed and in memory, in one run.

    python benchmarks/memory.py DATA.json [--sizes 10000,100000,1000000] [--in-memory-sizes 10000,100000]
                                [--steps 100] [--out benchmarks/results/memory-NAME.json]

For each size N, a JSON Lines corpus of N recipes is written by repeating DATA's recipes
(a real corpus), then one ``recipegen train`` process adapts the vocabulary on it and runs
``--steps`` training steps (one epoch of ``train.steps_per_epoch`` steps, held-out scoring of
about 1,000 recipes, no samples), and its peak resident memory (ru_maxrss) is recorded.
``data.stream = true`` reads the corpus a record at a time; the in-memory arms load it whole,
as ``data.stream = false`` does, for comparison. Peak memory of the streamed arms should stay
nearly flat as N grows. A missing DATA file is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELD_OUT = 1000  # held-out recipes scored at the end of the epoch, whatever the size
# Peak RSS of one child process, measured by a fresh interpreter so no other child counts.
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")


def write_corpus(source: list, size: int, path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(size):
            f.write(json.dumps(source[i % len(source)]) + "\n")


def train_peak(corpus: Path, size: int, steps: int, stream: bool, workdir: Path) -> dict:
    run_dir = workdir / f"run-{size}-{'stream' if stream else 'memory'}"
    command = [shutil.which("recipegen") or sys.exit("recipegen is not installed (pip install -e .)"), "train",
               "--data", str(corpus), "--out", str(run_dir), "--overwrite", "--quiet", "--epochs", "1",
               "--set", f"data.stream={str(stream).lower()}", "--set", f"train.steps_per_epoch={steps}",
               "--set", f"data.validation_fraction={min(0.5, HELD_OUT / size)}", "--set", "sample.temperatures=[]"]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    peak_kb, code = result.stdout.split()[-2:]
    if code != "0":
        sys.exit(f"{' '.join(command)} failed ({code}):\n{result.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    shutil.rmtree(run_dir)
    return {"recipes": size, "stream": stream, "peak_rss_mb": round(int(peak_kb) / 1024, 1),
            "seconds": round(seconds, 1), "vocab_size": metrics["vocab_size"], "val_tokens": metrics["val_tokens"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a real corpus (.json list) to repeat")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="streamed corpus sizes, in recipes")
    parser.add_argument("--in-memory-sizes", default="10000,100000", help="sizes also run with data.stream = false")
    parser.add_argument("--steps", type=int, default=100, help="training steps after adapting the vocabulary")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/memory-<data>.json)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0
    source = json.loads(args.data.read_text(encoding="utf-8"))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    in_memory = [int(s) for s in args.in_memory_sizes.split(",") if s]
    out = args.out or Path("benchmarks/results") / f"memory-{args.data.stem}.json"

    rows = []
    with tempfile.TemporaryDirectory(prefix="recipegen-memory-") as tmp:
        workdir = Path(tmp)
        for size in sorted(set(sizes) | set(in_memory)):
            corpus = workdir / f"recipes-{size}.jsonl"
            write_corpus(source, size, corpus)
            megabytes = corpus.stat().st_size / 2**20
            for stream in (True, False):
                if size in (sizes if stream else in_memory):
                    row = train_peak(corpus, size, args.steps, stream, workdir) | {"corpus_mb": round(megabytes, 1)}
                    rows.append(row)
                    print(f"{size:>9,} recipes ({megabytes:,.0f} MB), {'streamed' if stream else 'in memory'}: "
                          f"peak {row['peak_rss_mb']:,.0f} MB in {row['seconds']:.0f} s", flush=True)
            corpus.unlink()

    print(f"\n{'recipes':>10} {'corpus MB':>10} {'streamed MB':>12} {'in memory MB':>13}")
    for size in sorted({row["recipes"] for row in rows}):
        cells = {row["stream"]: row for row in rows if row["recipes"] == size}
        streamed = f"{cells[True]['peak_rss_mb']:,.0f}" if True in cells else "-"
        loaded = f"{cells[False]['peak_rss_mb']:,.0f}" if False in cells else "-"
        print(f"{size:>10,} {next(iter(cells.values()))['corpus_mb']:>10,.0f} {streamed:>12} {loaded:>13}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": str(args.data), "steps": args.steps, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
