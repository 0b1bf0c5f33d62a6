"""Reading corpora as they are published: speed and memory of ``recipegen data`` and of a streamed epoch.

    python benchmarks/corpora.py DATA.json [--sizes 10000,1000000] [--out benchmarks/results/corpora-NAME.json]

For each size N, DATA's recipes (a real corpus, Epicurious's JSON shape) are repeated into a
RecipeNLG-shaped CSV (``,title,ingredients,directions,link,source,NER``, the list columns written as
JSON lists, as RecipeNLG's ``full_dataset.csv`` does) and into a JSON Lines file of the same
recipes. Each file is then read, in a fresh process whose peak resident memory (ru_maxrss) is kept:

- ``recipegen data FILE --json``: every record read, checked and counted (its own recipes/s);
- the floor: the standard library alone reading the same file (``csv.reader`` over every row, or
  ``json.loads`` of every line), which any reader of the format pays;
- for the CSV, one streamed training epoch's reading: ``prepare_stream`` (the counting pass, the
  vocabulary adapted on the first 1,000 recipes) and then every training text of one epoch.

Peak memory of the streamed epoch at the largest N should be within 10% of the smallest's.
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

# One child process run, by a fresh interpreter so that no other child counts in its peak RSS; its
# output comes back as one JSON string.
MEASURE = ("import json, resource, subprocess, sys; "
           "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); sys.stderr.write(r.stderr[-3000:]); "
           "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
           "print(json.dumps(r.stdout), peak, r.returncode, sep='\\t')")
FLOOR = {
    "csv": "import csv, sys; csv.field_size_limit(1 << 26); n = sum(1 for _ in csv.reader(open(sys.argv[1], "
           "newline='', encoding='utf-8'))) - 1; print(n)",
    "jsonl": "import json, sys; "
             "n = sum(1 for line in open(sys.argv[1], encoding='utf-8') if json.loads(line)); print(n)",
}
EPOCH = """
import json, sys, time
from recipegen.config import load_config
from recipegen.stream import prepare_stream
config = load_config(None, {"data.path": sys.argv[1], "data.stream": True, "data.vocab_sample": 1000})
started = time.perf_counter()
data = prepare_stream(config)
counted = time.perf_counter()
texts = sum(1 for _ in data.texts(heldout=False))
print(json.dumps({"recipes": data.recipes, "train_texts": texts, "count_seconds": counted - started,
                  "epoch_seconds": time.perf_counter() - counted}))
"""


def write_files(source: list, size: int, workdir: Path) -> tuple[Path, Path]:
    csv_path, jsonl_path = workdir / f"recipenlg-{size}.csv", workdir / f"recipes-{size}.jsonl"
    import csv

    with csv_path.open("w", newline="", encoding="utf-8") as c, jsonl_path.open("w", encoding="utf-8") as j:
        writer = csv.writer(c)
        writer.writerow(["", "title", "ingredients", "directions", "link", "source", "NER"])
        for i in range(size):
            recipe = source[i % len(source)]
            ingredients, directions = recipe.get("ingredients") or [], recipe["directions"]
            writer.writerow([i, recipe["title"], json.dumps(ingredients), json.dumps(directions),
                             f"www.example.com/{i}", "Gathered", json.dumps([])])
            j.write(json.dumps({"title": recipe["title"], "ingredients": ingredients, "directions": directions}) + "\n")
    return csv_path, jsonl_path


def measured(command: list[str]) -> tuple[str, float, float]:
    """What the command printed, its wall seconds and its peak RSS in MB."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    printed, peak_kb, code = result.stdout.rstrip("\n").split("\t")
    if code != "0":
        sys.exit(f"{' '.join(command)} failed ({code}):\n{result.stderr}")
    return json.loads(printed), seconds, int(peak_kb) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a real corpus (.json list of recipes) to repeat")
    parser.add_argument("--sizes", default="10000,1000000", help="recipes per file, comma-separated")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"{args.data}: not found; skipped")
        return 0
    source = [r for r in json.loads(args.data.read_text(encoding="utf-8"))
              if isinstance(r, dict) and r.get("title") and r.get("directions")]
    recipegen = shutil.which("recipegen") or sys.exit("recipegen is not installed (pip install -e .)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            csv_path, jsonl_path = write_files(source, size, Path(tmp))
            for kind, path in (("csv", csv_path), ("jsonl", jsonl_path)):
                megabytes = path.stat().st_size / 2**20
                out, seconds, peak = measured([recipegen, "data", str(path), "--json"])
                report = json.loads(out)
                assert report["recipes"] == size, (report["recipes"], size)
                floor_out, floor_seconds, floor_peak = measured([sys.executable, "-c", FLOOR[kind], str(path)])
                assert int(floor_out) == size, (floor_out, size)
                row = {"format": kind, "recipes": size, "file_mb": round(megabytes, 1),
                       "data_recipes_per_s": report["recipes_per_second"], "data_seconds": round(seconds, 2),
                       "data_peak_rss_mb": round(peak, 1),
                       "stdlib_recipes_per_s": round(size / floor_seconds), "stdlib_seconds": round(floor_seconds, 2),
                       "stdlib_peak_rss_mb": round(floor_peak, 1)}
                if kind == "csv":
                    epoch_out, epoch_seconds, epoch_peak = measured([sys.executable, "-c", EPOCH, str(path)])
                    epoch = json.loads(epoch_out)
                    row |= {"epoch_peak_rss_mb": round(epoch_peak, 1),
                            "epoch_count_seconds": round(epoch["count_seconds"], 1),
                            "epoch_read_seconds": round(epoch["epoch_seconds"], 1),
                            "epoch_train_texts": epoch["train_texts"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
            csv_path.unlink()
            jsonl_path.unlink()
    print()
    print(f"{'format':<6} {'recipes':>9} {'MB':>7} {'data rec/s':>11} {'stdlib rec/s':>13} {'data RSS MB':>12} "
          f"{'epoch RSS MB':>13} {'epoch read s':>13}")
    for row in rows:
        print(f"{row['format']:<6} {row['recipes']:>9,} {row['file_mb']:>7,.0f} {row['data_recipes_per_s']:>11,} "
              f"{row['stdlib_recipes_per_s']:>13,} {row['data_peak_rss_mb']:>12,.0f} "
              f"{row.get('epoch_peak_rss_mb', float('nan')):>13,.0f} {row.get('epoch_read_seconds', float('nan')):>13}")
    csv_rows = [row for row in rows if "epoch_peak_rss_mb" in row]
    if len(csv_rows) >= 2:
        ratio = csv_rows[-1]["epoch_peak_rss_mb"] / csv_rows[0]["epoch_peak_rss_mb"]
        print(f"\nstreamed epoch peak RSS, {csv_rows[-1]['recipes']:,} rows / {csv_rows[0]['recipes']:,} rows: "
              f"{ratio:.3f}")
    if args.out:
        args.out.write_text(json.dumps({"data": str(args.data), "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
