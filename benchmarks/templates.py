"""The book template against the full template: what the model writes, measured, on one corpus.

    python benchmarks/templates.py DATA.json [--minutes 8] [--samples 100] [--workdir DIR]
                                   [--out benchmarks/results/templates-NAME.json]

Each template trains through the real command (``recipegen train``) with the same config apart
from the template (``configs/default.toml`` and ``configs/full.toml``), the same seed and the
same training-time budget, then ``recipegen evaluate --samples N --json`` samples N recipes at
each configured temperature and measures them beside N real held-out recipes. The table shows
the measures (docs/generation.md, "Measures of samples") side by side.

Perplexities of the two templates do not compare: the full template's texts hold the
ingredient lists too, which are more predictable than directions. A missing DATA file is
skipped with a message.
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

CONFIGS = {"book": "configs/default.toml", "full": "configs/full.toml"}
MEASURES = ["mean_tokens", "ended", "distinct_1", "distinct_2", "repeated_4grams", "well_formed",
            "ingredients_used", "foods_listed"]


def recipegen(*args: str) -> subprocess.CompletedProcess:
    command = [shutil.which("recipegen") or sys.exit("recipegen is not installed (pip install -e .)"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="corpus with ingredient lists (.json or .jsonl)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per template")
    parser.add_argument("--samples", type=int, default=100, help="recipes sampled per temperature")
    parser.add_argument("--workdir", type=Path, help="where the runs go (default: a temporary directory)")
    parser.add_argument("--out", type=Path, help="JSON results (default: benchmarks/results/templates-<data>.json)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the benchmark corpora live in ../shared/data/)")
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="recipegen-templates-"))
    out = args.out or Path("benchmarks/results") / f"templates-{args.data.stem}.json"

    results = {}
    for template, config in CONFIGS.items():
        run_dir = workdir / template
        started = time.perf_counter()
        recipegen("train", "--config", config, "--data", str(args.data), "--set", f"train.max_minutes={args.minutes}",
                  "--out", str(run_dir), "--overwrite", "--quiet")
        wall = time.perf_counter() - started
        evaluation = json.loads(recipegen("evaluate", "--model", str(run_dir), "--samples", str(args.samples),
                                          "--json").stdout)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        results[template] = {"config": config, "train_wall_seconds": round(wall, 1), "epochs": metrics["epochs"],
                             "best_epoch": metrics["best_epoch"], "evaluate": evaluation}
        print(f"{template}: {metrics['epochs']} epochs in {wall / 60:.1f} min, held-out perplexity "
              f"{evaluation['perplexity']:.2f} over {evaluation['tokens']:,} tokens", flush=True)

    print(table(results))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": str(args.data), "minutes": args.minutes, "samples": args.samples,
                               "results": results}, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def table(results: dict) -> str:
    columns = []
    for template, result in results.items():
        samples = result["evaluate"]["samples"]
        columns += [(f"{template} T={row['temperature']:g}", row) for row in samples["by_temperature"]]
        columns.append((f"{template} real", samples["real"]))
    width = max(len(name) for name in MEASURES)
    lines = [f"{'':<{width}}  " + "  ".join(f"{title:>12}" for title, _ in columns)]
    for name in MEASURES:
        cells = []
        for _, row in columns:
            value = row.get(name)
            cells.append(f"{'-' if value is None else f'{value:.3f}':>12}")
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
